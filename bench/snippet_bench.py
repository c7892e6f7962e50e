"""Snippet benchmark: the served gzip size, and the cost of swapping a 5,000-node page.

    python bench/snippet_bench.py [--runs 7] [--baseline OLD.js]

Starts the app (embedded Redis, SQLite in a temporary folder) on a local port, creates a
one-pool site, and drives headless Chromium (Debian's chromium and chromium-driver):

- size: the bytes /s/KEY.js serves, and after gzip -9;
- page: a page of 5,000 text nodes (50 of them holding the business number), loaded
  with the snippet until every number is swapped, against the same page without the
  snippet until its load event, in the same run (median of --runs), and the ratio;
- swap: one full ringtrail('swap') pass over that page after its numbers were put
  back, in milliseconds (the median of 9 passes in a row, then the median of --runs),
  apart from the lease round trip;
- with --baseline (another ringtrail.js, e.g. ``git show main:snippet/ringtrail.js``),
  the same pass by that snippet, served with the same settings, in the same run: the
  ratio new / old is the figure to read on a busy machine.
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

from flask import Blueprint, Response
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ringtrail import create_app
from ringtrail.storage.sql import get_db, make_engine, upgrade  # noqa: E402
from tests.helpers import make_site  # noqa: E402

NODES = 5000
NUMBERS = 50


def page_html(key: str | None, src: str | None = None) -> str:
    """5,000 text nodes in 1,000 paragraphs; every 100th node holds the number."""
    rows = []
    for p in range(NODES // 5):
        cells = []
        for j in range(5):
            n = p * 5 + j
            text = "Call (415) 555-0100 now" if n % (NODES // NUMBERS) == 0 else f"Item {n} text"
            cells.append(f"<span>{text}</span>" if j % 2 else text)
        rows.append("<p>" + " ".join(cells) + "</p>")
    tag = f'<script async src="{src or f"/s/{key}.js"}"></script>' if key else ""
    done = (
        "<script>new MutationObserver(function () {"
        "  if (!document.body.textContent.includes('(415) 555-' + '0100') && !window.__done)"
        "    window.__done = performance.now();"
        "}).observe(document.documentElement, {subtree: true, characterData: true});</script>"
    )
    head = f"<!doctype html><html><head><title>Bench</title>{tag}</head>"
    return f"{head}<body>{''.join(rows)}{done}</body></html>"


# One full swap pass, timed, after the page's numbers were put back to the business number;
# the median of 9 such passes in a row (one pass alone is at the mercy of a busy machine).
TIME_ONE_SWAP = """
    var times = [];
    for (var i = 0; i < 9; i++) {
      var w = document.createTreeWalker(document.body, 4), n;
      while ((n = w.nextNode()))
        n.data = n.data.replace('(628) 200-0000', '(415) 555-0100');
      var start = performance.now();
      ringtrail('swap');
      times.push(performance.now() - start);
    }
    return times.sort(function (a, b) { return a - b; })[4];
"""


def baseline_snippet(source: str, served: bytes) -> str:
    """Another snippet source, minified as the server does, with the served settings."""
    from calmjs.parse import es5
    from calmjs.parse.unparsers.es5 import minify_print

    from ringtrail.tracking import snippet

    settings = re.search(rb"\{\"k\":.*?\"a\":\"[^\"]*\"\}", served)
    assert settings, "the served snippet's settings were not found"
    source = snippet.with_features(source, frozenset({"nanp"}))  # as served to this site
    source = snippet.CONFIG.sub(settings.group().decode(), source, count=1)
    return minify_print(es5(source), obfuscate=True, shadow_funcname=True, drop_semi=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="another ringtrail.js to compare with")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ringtrail-bench-"))
    db_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    engine = make_engine(db_url, 1.0)
    upgrade(engine)
    engine.dispose()
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp / "instance"),
            "DATABASE_URL": db_url,
            "SECRET_KEY": "bench",
            "HEADLESS_IS_BOT": False,
            "CACHE_SECONDS": 0,
        }
    )
    pages = Blueprint("bench_pages", __name__)
    state: dict[str, str] = {}

    @pages.get("/bench/<kind>.html")
    def bench_page(kind: str):
        key = state["key"] if kind != "without" else None
        src = "/bench/baseline.js" if kind == "baseline" else None
        return Response(page_html(key, src), mimetype="text/html")

    @pages.get("/bench/baseline.js")
    def baseline_js():
        return Response(state["baseline"], mimetype="text/javascript")

    app.register_blueprint(pages)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = url
    with app.app_context():
        setup = make_site(get_db(), numbers=50, origins=(url,))
        state["key"] = setup.site_key

    with urllib.request.urlopen(f"{url}/s/{setup.site_key}.js") as resp:
        served = resp.read()
    if args.baseline:
        state["baseline"] = baseline_snippet(args.baseline.read_text(encoding="utf-8"), served)
    print(f"size: {len(served)} bytes served, {len(gzip.compress(served, 9))} bytes after gzip -9")

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'chromium'}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        without, loads, with_, api, swaps, old_swaps = [], [], [], [], [], []
        load_js = "var t = performance.timing; return t.loadEventEnd - t.navigationStart;"
        for _ in range(args.runs):
            for kind in ("without", "with"):
                driver.get("about:blank")
                driver.execute_cdp_cmd(
                    "Storage.clearDataForOrigin", {"origin": url, "storageTypes": "all"}
                )
                driver.get(f"{url}/bench/{kind}.html")
                WebDriverWait(driver, 10).until(
                    lambda d: d.execute_script("return performance.timing.loadEventEnd > 0")
                )
                (without if kind == "without" else loads).append(driver.execute_script(load_js))
            WebDriverWait(driver, 10).until(lambda d: d.execute_script("return window.__done"))
            with_.append(
                driver.execute_script(
                    "return window.__done + performance.timeOrigin"
                    " - performance.timing.navigationStart;"
                )
            )
            api.append(
                driver.execute_script(
                    "var e = performance.getEntriesByType('resource').filter(function (e) {"
                    "  return e.name.indexOf('/v1/sessions') > 0; })[0];"
                    "return e.responseEnd - e.startTime;"
                )
            )
            swaps.append(driver.execute_script(TIME_ONE_SWAP))
            if args.baseline:
                driver.get("about:blank")
                driver.execute_cdp_cmd(
                    "Storage.clearDataForOrigin", {"origin": url, "storageTypes": "all"}
                )
                driver.get(f"{url}/bench/baseline.html")
                WebDriverWait(driver, 10).until(lambda d: d.execute_script("return window.__done"))
                old_swaps.append(driver.execute_script(TIME_ONE_SWAP))
    finally:
        driver.quit()
        server.shutdown()

    med = statistics.median
    base = med(without)
    print(f"page: {NODES} text nodes, {NUMBERS} of them the business number; median of {args.runs}")
    print(f"  load event without the snippet: {base:.0f} ms")
    print(f"  load event with the snippet:    {med(loads):.0f} ms  (ratio {med(loads) / base:.2f})")
    print(
        f"  every number swapped at:        {med(with_):.0f} ms  (ratio {med(with_) / base:.2f};"
        f" of which the lease request took {med(api):.0f} ms)"
    )
    print(
        f"swap: one full pass over the page (ringtrail('swap')): {med(swaps):.1f} ms"
        f" ({med(swaps) / base:.2f} of the page's own load time)"
    )
    if args.baseline:
        print(
            f"  the same pass by {args.baseline}: {med(old_swaps):.1f} ms"
            f" (ratio new / old {med(swaps) / med(old_swaps):.2f})"
        )


if __name__ == "__main__":
    main()
