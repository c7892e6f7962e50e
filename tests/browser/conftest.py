"""Browser fixtures: one Chromium for the session, the app on a live server, fixture pages.

Every test gets a fresh app, database and live server (so a fresh origin), and the one
shared Chromium is reset between tests. The pages are Jinja templates in ``pages/``,
served by a test-only blueprint; ``{{ key }}`` is the test site's key and ``{{ api }}``
the address of the misbehaving stand-in backend (see ``standin.py``).

HeadlessChrome counts as a bot by default (no lease); these tests turn that off with the
explicit ``HEADLESS_IS_BOT=False`` override, or they would only ever test the "ignored"
path. ``test_headless_is_a_bot_by_default`` shows the default.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Blueprint, current_app, render_template, send_from_directory
from flask import request as flask_request
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.standin import StandIn
from tests.helpers import make_site

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HERE = Path(__file__).parent
WAIT = 5.0  # seconds: the longest any explicit wait allows

pages_bp = Blueprint("rt_pages", __name__, template_folder=str(HERE))


@pages_bp.get("/pages/<name>.html")
def page(name: str):
    """A fixture page, with the test's site key and stand-in address."""
    return render_template(f"pages/{name}.html", **current_app.config["RT_PAGE"])


@pages_bp.get("/pages/<name>.js")
def bundle(name: str):
    """A fixture page's script (the built hydration bundles), as a slow network brings it:
    with ``after=lease``, only once the page's lease was answered (the worst case for the
    snippet: the framework hydrates just after the numbers could be swapped), then
    ``delay`` seconds later."""
    if flask_request.args.get("after") == "lease":
        calls, deadline = current_app.config["RT_CALLS"], time.monotonic() + WAIT
        while not any(c["kind"] == "session" for c in calls) and time.monotonic() < deadline:
            time.sleep(0.02)
    time.sleep(min(float(flask_request.args.get("delay", 0)), WAIT))
    return send_from_directory(HERE / "pages", f"{name}.js", mimetype="text/javascript")


@pytest.fixture(scope="session")
def driver(tmp_path_factory):
    """The one Chromium of the session. Missing Chromium is a failure, never a skip."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)}: install Debian's chromium and chromium-driver "
            "(apt-get install -y chromium chromium-driver)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="ringtrail-chromium-", dir=tmp_path_factory.getbasetemp())
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
        "--window-size=1200,800",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    chrome.set_page_load_timeout(15)
    yield chrome
    chrome.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def standin():
    """A local backend that misbehaves on demand (down, slow, 500, garbage, ...)."""
    server = StandIn()
    yield server
    server.close()


@pytest.fixture
def app_config(app_config):
    """The explicit test override: HeadlessChrome is a visitor here, not a bot."""
    app_config["HEADLESS_IS_BOT"] = False
    return app_config


@dataclass
class Live:
    """The app on a live server, the test site, and what the browser did."""

    url: str
    app: object
    db: object
    driver: webdriver.Chrome
    api_calls: list[dict] = field(default_factory=list)
    console: list[dict] = field(default_factory=list)
    site: object = None

    def site_for(self, **kwargs):
        """Create the test's site (allowed origin: this server) and point the pages at it."""
        kwargs.setdefault("origins", (self.url,))
        self.site = make_site(self.db, **kwargs)
        self.app.config["RT_PAGE"]["key"] = self.site.site_key
        return self.site

    def open(self, name: str, query: str = "") -> None:
        """Load a fixture page."""
        self.driver.get(f"{self.url}/pages/{name}.html{query}")

    def logs(self) -> list[dict]:
        """Every console entry so far (Chromium hands each entry out once)."""
        self.console.extend(self.driver.get_log("browser"))
        return self.console

    def calls(self, kind: str | None = None) -> list[dict]:
        """Public API calls answered so far: kind "session", "pageview" or "heartbeat"."""
        return [c for c in list(self.api_calls) if kind is None or c["kind"] == kind]

    def wait_calls(self, kind: str, count: int = 1, timeout: float = WAIT) -> list[dict]:
        """Wait until at least ``count`` calls of a kind were answered."""
        WebDriverWait(self.driver, timeout).until(
            lambda _: len(self.calls(kind)) >= count,
            message=f"expected {count} {kind} call(s), saw {self.calls()}",
        )
        return self.calls(kind)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)


@pytest.fixture
def live(app, db, driver, standin, request):
    """A fresh app on a live server, with fixture pages and a log of public API calls."""
    calls: list[dict] = []
    app.config["RT_PAGE"] = {"key": "", "api": standin.url, "hide": False}
    app.config["RT_CALLS"] = calls
    app.register_blueprint(pages_bp)

    @app.before_request
    def keep_body():
        if request_is_api():
            flask_request.get_data()  # cached, so the view and describe() both see it

    @app.after_request
    def record(response):
        if request_is_api():
            calls.append(describe(response))
        return response

    url = request.getfixturevalue("live_server")  # tests/conftest.py: 127.0.0.1, port 0
    app.config["PUBLIC_URL"] = url  # the snippet calls the API at the public URL
    reset(driver)
    standin.reset()
    yield Live(url=url, app=app, db=db, driver=driver, api_calls=calls)
    reset(driver)


def request_is_api() -> bool:
    return flask_request.path.startswith("/v1/sessions") and flask_request.method == "POST"


def describe(response) -> dict:
    """One answered public API call, as the tests look at it."""
    try:
        body = json.loads(flask_request.get_data(as_text=True) or "{}")
    except ValueError:
        body = {}
    kind = "session" if flask_request.path == "/v1/sessions" else "pageview"
    if body.get("heartbeat") in (True, 1):
        kind = "heartbeat"
    return {
        "kind": kind,
        "path": flask_request.path,
        "status": response.status_code,
        "body": body,
        "answer": response.get_json(silent=True),
        "headers": dict(flask_request.headers),
    }


def reset(driver) -> None:
    """Leave nothing behind: a blank page, no cookies, no overrides, an empty log."""
    driver.get("about:blank")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": "*", "storageTypes": "all"})
    driver.get_log("browser")


def page_errors(live: Live) -> list[str]:
    """Uncaught errors and unhandled rejections that reached the page, by two witnesses.

    Chromium's console log (its "Uncaught ..." entries, which cover errors and
    unhandled rejections) and the page's own ``error`` and ``unhandledrejection``
    listeners (``window.__errors``, set by every fixture page before the snippet).
    Failed requests and CORS refusals are the browser reporting the backend, not
    errors in the page.
    """
    found = [e["message"] for e in live.logs() if "Uncaught" in e.get("message", "")]
    try:
        found += live.js("return window.__errors || ['fixture page lost its error recorder']")
    except Exception as exc:  # a page that cannot answer is itself an error
        found.append(f"page did not answer: {exc}")
    return found


def assert_no_page_errors(live: Live) -> None:
    """No uncaught error or unhandled rejection reached the page."""
    errors = page_errors(live)
    assert not errors, f"errors reached the page: {errors}"


def assert_swapped(driver, want: dict[str, str], *, attr: str | None = None, timeout=WAIT):
    """Wait until each element matching a CSS selector shows the expected text (or attr).

    ``want`` maps selector -> expected value: the text content (or ``attr``, e.g. "href",
    "title") of every element it matches. On timeout the message shows, per selector,
    what was there instead, and the page's text.
    """
    script = """
        var want = arguments[0], attr = arguments[1], out = {};
        Object.keys(want).forEach(function (sel) {
          out[sel] = Array.prototype.map.call(document.querySelectorAll(sel), function (e) {
            return attr ? e.getAttribute(attr) : e.textContent;
          });
        });
        return out;
    """
    seen: dict = {}

    def done(_):
        seen.clear()
        seen.update(driver.execute_script(script, want, attr))
        return all(seen[s] and all(v == want[s] for v in seen[s]) for s in want)

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.05).until(done)
    except Exception:  # TimeoutException: report what the page showed
        rows = "\n".join(
            f"  {sel!r}: expected {want[sel]!r}, found {seen.get(sel)!r}"
            for sel in want
            if not seen.get(sel) or any(v != want[sel] for v in seen[sel])
        )
        try:
            text = driver.execute_script("return document.title + ' | ' + document.body.innerText")
        except Exception:
            text = "(page text unavailable)"
        what = attr or "text"
        raise AssertionError(
            f"not swapped ({what}) within {timeout}s:\n{rows}\npage: {text[:600]!r}"
        ) from None
