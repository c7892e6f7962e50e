"""One swap pass of two snippet sources, side by side in the same Chromium: the ratio to
read on a busy machine.

    python bench/snippet_ab.py NEW.js OLD.js [--pages 6]

Each source is minified as the server does, with a one-number North American site's
settings, on the 5,000-text-node page of ``snippet_bench.py`` (loaded from a file; the
lease comes from a stubbed ``fetch``, so no server runs). The pages of the two sources
alternate; each page times 5 × (the median of 9 passes in a row), and the figures are
the median, first quartile and fastest of all of them, per source.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.snippet_bench import TIME_ONE_SWAP, page_html  # noqa: E402
from ringtrail.tracking import snippet  # noqa: E402

SETTINGS = '{"k":"x","n":["+14155550100"],"a":"http://127.0.0.1:9"}'
LEASE = (
    "<script>window.fetch = function () { return Promise.resolve({ok: true, json: function"
    " () { return {session: 'abcdefghijklmnopqrstu', ttl: 600, numbers: {'+14155550100':"
    " {e164: '+16282000000', display: '(628) 200-0000', international: '+1 628-200-0000'}}};"
    " }}); };</script>"
)


def page(source: str) -> str:
    source = snippet.with_features(source, frozenset({"nanp"}))
    code = snippet.minify(snippet.CONFIG.sub(SETTINGS, source, count=1))
    inline = "<script>" + code.replace("</", "<\\/") + "</script>"
    return page_html(None).replace("<title>Bench</title>", "<title>Bench</title>" + LEASE + inline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", type=Path)
    parser.add_argument("old", type=Path)
    parser.add_argument("--pages", type=int, default=6)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ringtrail-ab-"))
    files = {}
    for name, path in (("new", args.new), ("old", args.old)):
        files[name] = folder / f"{name}.html"
        files[name].write_text(page(path.read_text(encoding="utf-8")), encoding="utf-8")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    times: dict[str, list[float]] = {"new": [], "old": []}
    five = "var all = []; for (var j = 0; j < 5; j++) all.push((function () {%s})()); return all;"
    try:
        for _ in range(args.pages):
            for name, file in files.items():
                driver.get(file.as_uri())
                deadline = time.monotonic() + 10
                swapped = "return !document.body.textContent.includes('(415) 555-0100')"
                while not driver.execute_script(swapped) and time.monotonic() < deadline:
                    time.sleep(0.05)
                times[name] += driver.execute_script(five % TIME_ONE_SWAP)
    finally:
        driver.quit()
    for name, values in times.items():
        values.sort()
        print(
            f"{name}: median {statistics.median(values):.2f} ms, first quartile"
            f" {values[len(values) // 4]:.2f}, fastest {values[0]:.2f}"
            f" ({len(values)} figures, each the median of 9 passes)"
        )
    ratio = statistics.median(times["new"]) / statistics.median(times["old"])
    print(f"one swap pass, new / old: {ratio:.2f} (medians)")


if __name__ == "__main__":
    main()
