import { createElement as h } from "react";
import { hydrateRoot } from "react-dom/client";
import { App } from "./react-app.mjs";

hydrateRoot(document.getElementById("root"), h(App));
