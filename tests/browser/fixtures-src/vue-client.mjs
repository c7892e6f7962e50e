import { createSSRApp } from "vue";
import { App } from "./vue-app.mjs";

createSSRApp(App).mount("#app");
