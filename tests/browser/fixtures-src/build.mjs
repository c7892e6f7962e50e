// Builds the hydration fixtures of tests/browser (run once; the output is committed):
//   npm ci && node build.mjs
// For each framework: the page, rendered on the server here (pages/NAME.html, a Jinja
// template of the test harness), and the bundle that hydrates it in the browser
// (pages/NAME.js, a production build). The harness serves the bundle late, as a slow
// network would: 0.3 s after the page's lease was answered, so that hydration comes just
// after the moment the snippet could first swap.
import { writeFileSync } from "node:fs";
import { build } from "esbuild";
import { createElement } from "react";
import { renderToString as reactToString } from "react-dom/server";
import { createSSRApp } from "vue";
import { renderToString as vueToString } from "@vue/server-renderer";
import { App as ReactApp } from "./react-app.mjs";
import { App as VueApp } from "./vue-app.mjs";

const PAGES = new URL("../pages/", import.meta.url);

const defines = {
  "process.env.NODE_ENV": '"production"',
  __VUE_OPTIONS_API__: "false",
  __VUE_PROD_DEVTOOLS__: "false",
  // Vue's production build reports a mismatch as one console error; with this, in detail.
  __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "true",
};

function page(name, title, rootId, html) {
  return `<!doctype html>
<html><head>{% include "pages/_head.html" %}<title>${title}</title><link rel="icon" href="data:,">
<script async src="/s/{{ key }}.js"{% if hide %} data-hide{% endif %}></script>
</head><body>
<!-- Built by tests/browser/fixtures-src/build.mjs: server-rendered by ${title}, hydrated by ${name}.js -->
<div id="${rootId}">{% raw %}${html}{% endraw %}</div>
<script defer src="/pages/${name}.js?after=lease&delay=0.3"></script>
</body></html>
`;
}

for (const [name, entry] of [
  ["react", "react-client.mjs"],
  ["vue", "vue-client.mjs"],
]) {
  await build({
    entryPoints: [new URL(entry, import.meta.url).pathname],
    bundle: true,
    minify: true,
    format: "iife",
    target: "es2020",
    define: defines,
    legalComments: "none",
    outfile: new URL(`${name}.js`, PAGES).pathname,
  });
}

writeFileSync(new URL("react.html", PAGES), page("react", "React", "root", reactToString(createElement(ReactApp))));
writeFileSync(new URL("vue.html", PAGES), page("vue", "Vue", "app", await vueToString(createSSRApp(VueApp))));
console.log("built pages/react.html, pages/react.js, pages/vue.html, pages/vue.js");
