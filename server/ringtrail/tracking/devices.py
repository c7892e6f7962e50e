"""User agents: device class and bot detection, in bounded time.

Bots are what ``user-agents`` calls a bot, what the maintained crawler list of
``crawler-user-agents`` (about 1,500 patterns: search engines, SEO tools, AI crawlers,
monitoring, HTTP libraries) matches, and a few automation clients neither names.

Parsing is ``user-agents``' reading of ua-parser's result, but the result comes from
ua-parser's compiled resolver (``ua-parser-rs``, brought by the ``ua-parser[regex]``
extra): ``user_agents.parse`` calls ua-parser's legacy API, which always runs its
1,000-odd regular expressions one by one in Python (about 1 ms a miss, against well
under 0.1 ms). Both read the same regexes (``ua-parser-builtins``), and
tests/tracking/test_user_agents.py checks that they give the same device, browser,
system and bot verdict on every real user agent of its table. (The Rust regex engine
sees a few more crawlers as "Spider" devices than Python's ``re`` does; the crawler
list calls them bots either way.) Without the compiled resolver (no wheel for the
platform) the pure-Python one (``ua_parser.basic``) is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from crawleruseragents import CRAWLER_USER_AGENTS_DATA
from ua_parser import OS, Domain, load_builtins, load_lazy_builtins
from ua_parser import Device as UaDevice
from ua_parser import UserAgent as UaBrowser
from user_agents.parsers import (
    UserAgent,
    parse_browser,
    parse_device,
    parse_operating_system,
)

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


# Characters that make a crawler-list pattern more than a literal string.
REGEX_SYNTAX = frozenset(".^$*+?{}[]|()")
_crawlers: re.Pattern[str] | None = None


def _literal(pattern: str) -> str | None:
    """The text a crawler-list pattern matches if it is a plain string, else None."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < len(pattern) and not pattern[i + 1].isalnum():
                out.append(pattern[i + 1])  # an escaped punctuation mark: itself
                i += 2
                continue
            return None  # \d, \s…: a class
        if ch in REGEX_SYNTAX:
            return None
        out.append(ch)
        i += 1
    return "".join(out) or None


def _trie(words: list[str]) -> str:
    """One regular expression matching exactly ``words``, factored by common prefixes:
    Python's backtracking engine then tries one branch per letter, not every word."""
    root: dict = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        leaves, branches = [], []
        for ch in sorted(k for k in node if k):
            rest = build(node[ch])
            if rest:
                branches.append(re.escape(ch) + rest)
            else:
                leaves.append(re.escape(ch))
        if leaves:
            branches.append(leaves[0] if len(leaves) == 1 else "[" + "".join(leaves) + "]")
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(root)


def crawler_pattern() -> re.Pattern[str]:
    """The maintained crawler list (``crawler-user-agents``) as one compiled pattern,
    built once per process (about 0.2 s): its 1,400-odd plain strings as one prefix
    tree, then its few real regexes. A search of it says what ``is_crawler`` says (the
    same patterns, case-sensitive; tests/tracking/test_devices.py compares them), in one
    pass where ``is_crawler`` runs some 60 patterns of 25 alternatives each."""
    global _crawlers
    if _crawlers is None:
        patterns = [entry["pattern"] for entry in CRAWLER_USER_AGENTS_DATA]
        literals = [text for p in patterns if (text := _literal(p)) is not None]
        regexes = [p for p in patterns if _literal(p) is None]
        _crawlers = re.compile("|".join([_trie(literals), *regexes]))
    return _crawlers


def is_listed_crawler(ua: str) -> bool:
    """Whether the maintained crawler list names this user agent."""
    return crawler_pattern().search(ua) is not None


Resolver = Callable[[str, Domain], object]
# Built once per process, on first use (about 0.7 s, holding the GIL): gunicorn's
# workers build it before they take requests (cli/gunicorn_config.py).
_resolver: Resolver | None = None


def compiled_resolver() -> Resolver:
    """ua-parser's compiled resolver over the bundled regexes (ImportError without it)."""
    from ua_parser.regex import Resolver as RegexResolver

    return RegexResolver(load_lazy_builtins())


def python_resolver() -> Resolver:
    """ua-parser's pure-Python resolver over the same regexes (the fallback)."""
    from ua_parser.basic import Resolver as BasicResolver

    return BasicResolver(load_builtins())


def resolver() -> Resolver:
    """The resolver of this process: the compiled one if installed, else pure Python.

    No lock: two threads that both build one waste a build, no more (and a lock held
    across a fork would hang the child)."""
    global _resolver
    if _resolver is None:
        try:
            _resolver = compiled_resolver()
        except ImportError:
            _resolver = python_resolver()
    return _resolver


class ParsedAgent(UserAgent):
    """``user_agents.parsers.UserAgent`` (``is_mobile``, ``is_bot``… as it judges them)
    made from ua-parser's result instead of its legacy parse."""

    def __init__(self, ua: str, parse_with: Resolver | None = None):
        result = (parse_with or resolver())(ua, Domain.ALL)
        # Nothing matched: "Other", as the legacy API says.
        browser = result.user_agent or UaBrowser()
        os_ = result.os or OS()
        device = result.device or UaDevice()
        self.ua_string = ua
        self.os = parse_operating_system(
            os_.family, os_.major, os_.minor, os_.patch, os_.patch_minor
        )
        # The legacy API drops the browser's patch_minor; so does this.
        self.browser = parse_browser(browser.family, browser.major, browser.minor, browser.patch)
        self.device = parse_device(device.family, device.brand, device.model)


def parse(ua: str) -> UserAgent:
    """A user agent as ``user_agents.parse`` reads it, by the compiled resolver."""
    return ParsedAgent(ua)


def summarise(parsed: UserAgent, ua: str, headless_is_bot: bool) -> Device:
    """What Ringtrail keeps of a parsed user agent (see :func:`classify_agent`)."""
    # The crawler list names headless browsers too; whether they are bots is a setting
    # (browser tests drive headless Chromium), so they are judged without that word.
    listed = is_listed_crawler(ua if headless_is_bot else HEADLESS.sub("", ua))
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


def bot_reason(ua: str | None, *, max_chars: int = 512, headless_is_bot: bool = True) -> str | None:
    """Why :func:`classify_agent` calls this user agent a bot, in words; None if it does
    not. (The demo shows it; the snippet's answer never carries it.)"""
    text = (ua or "")[:max_chars]
    if not text.strip():
        return "it sent no user agent"
    if headless_is_bot and (found := HEADLESS.search(text)):
        return f"its user agent says it is a headless browser (“{found.group(0)}”)"
    if found := AUTOMATION.search(text):
        return f"its user agent names an automation tool (“{found.group(0)}”)"
    if is_listed_crawler(text if headless_is_bot else HEADLESS.sub("", text)):
        return "its user agent is on the crawler list"
    if parse(text).is_bot:
        return "the user-agent parser classes it as a bot"
    return None


@lru_cache(maxsize=2048)
def _parse(ua: str, headless_is_bot: bool) -> Device:
    if not ua.strip():
        return Device("bot", "", "", True)
    return summarise(parse(ua), ua, headless_is_bot)


def classify_agent(ua: str | None, *, max_chars: int = 512, headless_is_bot: bool = True) -> Device:
    """Parse a user agent after truncating it; an empty one is a bot."""
    return _parse((ua or "")[:max_chars], headless_is_bot)
