"""User agents: device class and bot detection, in bounded time.

Bots are what ``user-agents`` calls a bot, what the maintained crawler list of
``crawler-user-agents`` (about 1,500 patterns: search engines, SEO tools, AI crawlers,
monitoring, HTTP libraries) matches, and a few automation clients neither names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from crawleruseragents import is_crawler
from user_agents import parse

# Clients that user-agents calls human but that no person browses with.
AUTOMATION = re.compile(
    r"curl|wget|python-requests|python-urllib|aiohttp|httpx|go-http-client|java/|okhttp/[0-2]\."
    r"|libwww|scrapy|phantomjs|puppeteer|playwright|selenium|lighthouse|pingdom|uptime",
    re.IGNORECASE,
)
HEADLESS = re.compile(r"headless", re.IGNORECASE)


@dataclass(frozen=True)
class Device:
    """A parsed user agent, reduced to what reports need."""

    kind: str  # mobile | tablet | desktop | bot | other
    browser: str
    os: str
    bot: bool


@lru_cache(maxsize=2048)
def _parse(ua: str, headless_is_bot: bool) -> Device:
    if not ua.strip():
        return Device("bot", "", "", True)
    parsed = parse(ua)
    # The crawler list names headless browsers too; whether they are bots is a setting
    # (browser tests drive headless Chromium), so they are judged without that word.
    listed = is_crawler(ua if headless_is_bot else HEADLESS.sub("", ua))
    bot = bool(parsed.is_bot or listed or AUTOMATION.search(ua))
    if headless_is_bot and HEADLESS.search(ua):
        bot = True
    if bot:
        kind = "bot"
    elif parsed.is_tablet:
        kind = "tablet"
    elif parsed.is_mobile:
        kind = "mobile"
    elif parsed.is_pc:
        kind = "desktop"
    else:
        kind = "other"
    return Device(kind, parsed.browser.family[:60], parsed.os.family[:60], bot)


def classify_agent(ua: str | None, *, max_chars: int = 512, headless_is_bot: bool = True) -> Device:
    """Parse a user agent after truncating it; an empty one is a bot."""
    return _parse((ua or "")[:max_chars], headless_is_bot)
