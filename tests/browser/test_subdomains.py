"""A site that shares the visit across its subdomains: www. and shop. of one registrable
domain show the same number from one session, kept in a cookie on that domain.

Two host names need a resolver: this module's own Chromium maps *.ringtrail.test to
127.0.0.1 (``--host-resolver-rules``), so the shared browser of the session is left as
it is."""

from __future__ import annotations

import shutil
import tempfile
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from ringtrail.storage.models import Site
from tests.browser.conftest import CHROMEDRIVER, CHROMIUM, assert_swapped, reset

pytestmark = pytest.mark.browser

LEASED = "(628) 200-0000"


@pytest.fixture(scope="module")
def mapped_driver(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="ringtrail-mapped-", dir=tmp_path_factory.getbasetemp())
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--host-resolver-rules=MAP *.ringtrail.test 127.0.0.1",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    chrome.set_page_load_timeout(15)
    yield chrome
    chrome.quit()
    shutil.rmtree(profile, ignore_errors=True)


def on(live, host: str) -> str:
    """The live server's base URL under another host name."""
    return f"http://{host}:{urlsplit(live.url).port}"


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "host-only"])
def test_the_visit_follows_the_visitor_across_subdomains(live, mapped_driver, shared):
    www, shop = on(live, "www.ringtrail.test"), on(live, "shop.ringtrail.test")
    setup = live.site_for(numbers=3, origins=(www, shop))
    live.db.get(Site, setup.site.id).share_subdomains = shared
    live.db.commit()
    reset(mapped_driver)
    live.driver = mapped_driver
    mapped_driver.get(f"{www}/pages/basic.html")
    assert_swapped(mapped_driver, {"#phone": LEASED})
    cookies = {c["name"]: c for c in mapped_driver.get_cookies()}
    if shared:
        # On the registrable domain, for as long as the lease (max-age, not a session cookie).
        assert cookies["ringtrail"]["domain"] == ".ringtrail.test"
        assert cookies["ringtrail"].get("expiry")
    else:
        assert "ringtrail" not in cookies  # sessionStorage, as before
    mapped_driver.get(f"{shop}/pages/basic.html")
    if shared:
        assert_swapped(mapped_driver, {"#phone": LEASED})
        live.wait_calls("pageview")
        assert len(live.calls("session")) == 1, "one visit across both subdomains"
    else:
        # A new visit: its own session, and the next free number.
        live.wait_calls("session", 2)
        assert_swapped(mapped_driver, {"#phone": "(628) 200-0001"})
    assert mapped_driver.execute_script("return window.__errors") == []
    reset(mapped_driver)
