// The Vue fixture: one component, rendered to HTML by build.mjs and hydrated in the browser.
import { h, onMounted, ref } from "vue";

export const App = {
  setup() {
    const clicks = ref(0);
    onMounted(() => {
      window.__hydrated = "vue"; // mounted runs in the browser only: the page is hydrated
    });
    return () =>
      h("main", [
        h("h1", "Bayview Plumbing"),
        h("p", { id: "text" }, "Call us at (415) 555-0100, day or night."),
        h("p", [
          h(
            "a",
            {
              id: "tel",
              href: "tel:+14155550100",
              title: "Call (415) 555-0100",
              "aria-label": "Call us at 415-555-0100",
            },
            "415.555.0100",
          ),
        ]),
        h("p", { id: "split" }, ["Or text ", h("b", "(415)"), " 555-0100"]),
        h("button", { id: "clicks", onClick: () => clicks.value++ }, `Clicked ${clicks.value} times`),
      ]);
  },
};
