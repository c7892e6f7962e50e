// The React fixture: one component, rendered to HTML by build.mjs and hydrated in the browser.
import { createElement as h, useEffect, useState } from "react";

export function App() {
  const [clicks, setClicks] = useState(0);
  useEffect(() => {
    window.__hydrated = "react"; // effects run in the browser only: the page is hydrated
  }, []);
  return h(
    "main",
    null,
    h("h1", null, "Bayview Plumbing"),
    h("p", { id: "text" }, "Call us at (415) 555-0100, day or night."),
    h(
      "p",
      null,
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
    ),
    h("p", { id: "split" }, "Or text ", h("b", null, "(415)"), " 555-0100"),
    h("button", { id: "clicks", onClick: () => setClicks(clicks + 1) }, `Clicked ${clicks} times`),
  );
}
