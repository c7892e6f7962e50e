"""User agents: bots, headless browsers and hostile strings, in bounded time."""

from __future__ import annotations

import time

import pytest

from ringtrail.tracking.devices import classify_agent
from tests.helpers import HUMAN_UA

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/124.0 Safari/537.36"


@pytest.mark.parametrize(
    ("ua", "kind", "bot"),
    [
        (CHROME, "desktop", False),
        (IPHONE, "mobile", False),
        ("", "bot", True),
        (None, "bot", True),
        ("curl/8.4.0", "bot", True),
        ("python-requests/2.31", "bot", True),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", True),
        (HEADLESS, "bot", True),
    ],
)
def test_classify_agent(ua, kind, bot):
    device = classify_agent(ua)
    assert (device.kind, device.bot) == (kind, bot)


def test_headless_override_for_browser_tests():
    assert not classify_agent(HEADLESS, headless_is_bot=False).bot


def test_huge_user_agents_are_classified_in_bounded_time():
    hostile = ["Mozilla/5.0 " + "(" * 50_000, "A" * 50_000, CHROME + " " + "x;" * 25_000]
    started = time.perf_counter()
    for ua in hostile:
        classify_agent(ua + str(time.time()))  # defeat the cache: parse for real
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "ua",
    [
        "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 1 subscribers)",
        "Mozilla/5.0 (compatible; FlipboardProxy/1.1; +http://flipboard.com/browserproxy)",
        "Mozilla/4.0 (compatible; Netcraft Web Server Survey)",
        "Mozilla/5.0 (compatible; Cloudflare-Custom-Hostname-Verification; "
        "+https://www.cloudflare.com/)",
    ],
)
def test_the_maintained_crawler_list_catches_what_user_agents_does_not(ua):
    from user_agents import parse

    assert not parse(ua).is_bot  # user-agents alone takes these for people
    assert classify_agent(ua).bot


def test_headless_is_a_setting_even_though_the_crawler_list_names_it():
    assert classify_agent(HEADLESS, headless_is_bot=True).bot
    assert not classify_agent(HEADLESS, headless_is_bot=False).bot


@pytest.mark.parametrize(
    "ua",
    [
        HUMAN_UA,
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
        "curl/8.5.0",
        "python-requests/2.31",
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "",
    ],
)
@pytest.mark.parametrize("headless_is_bot", [True, False])
def test_the_reason_agrees_with_the_verdict(ua, headless_is_bot):
    """The demo's reason names a bot exactly when the session API treats one as a bot."""
    from ringtrail.tracking.devices import bot_reason, classify_agent

    reason = bot_reason(ua, headless_is_bot=headless_is_bot)
    assert (reason is not None) == classify_agent(ua, headless_is_bot=headless_is_bot).bot


def _real_agents() -> list[str]:
    """Real user agents: the table of tests/data, and every example the crawler list
    gives for its own patterns (about 2,100 crawlers, monitors and libraries)."""
    from pathlib import Path

    from crawleruseragents import CRAWLER_USER_AGENTS_DATA

    table = Path(__file__).parent.parent / "data" / "user_agents.txt"
    agents = [line.strip() for line in table.read_text().splitlines() if line.strip()]
    examples = [ua for entry in CRAWLER_USER_AGENTS_DATA for ua in entry.get("instances", [])]
    return agents + examples


def test_the_one_crawler_pattern_says_what_the_crawler_lists_check_says():
    """The compiled pattern against ``crawleruseragents.is_crawler``, the check it
    replaces, on every real user agent at hand, as classify_agent asks (the string
    itself, and without the word "headless")."""
    from crawleruseragents import is_crawler

    from ringtrail.tracking.devices import HEADLESS, is_listed_crawler

    agents = _real_agents()
    assert len(agents) > 2_000
    differ = [
        ua
        for ua in agents
        for text in (ua, HEADLESS.sub("", ua))
        if is_listed_crawler(text) != is_crawler(text)
    ]
    assert differ == []
    listed = sum(is_listed_crawler(ua) for ua in agents)
    assert 2_000 < listed < len(agents)  # both verdicts occur: the table has browsers too
    assert not is_listed_crawler(CHROME) and is_listed_crawler("Googlebot/2.1")


def test_the_crawler_pattern_is_built_once():
    from ringtrail.tracking.devices import crawler_pattern

    assert crawler_pattern() is crawler_pattern()
