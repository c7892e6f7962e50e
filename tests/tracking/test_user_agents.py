"""ua-parser's compiled resolver agrees with its pure-Python one on real user agents.

Ringtrail parses user agents with ``user-agents``, fed by ua-parser's compiled resolver
(``ua-parser-rs``) instead of its legacy pure-Python parse. The table is
tests/data/user_agents.txt (browsers, phones, tablets, in-app browsers, old clients and
bots; sources in its header) and the real crawler user agents that crawler-user-agents
ships.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import ua_parser.basic
import ua_parser.regex
from crawleruseragents import CRAWLER_USER_AGENTS_DATA
from user_agents import parse as legacy_parse

from ringtrail.tracking import devices
from ringtrail.tracking.devices import ParsedAgent, classify_agent, summarise

TABLE = Path(__file__).resolve().parent.parent / "data" / "user_agents.txt"


def table() -> list[str]:
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def crawlers() -> list[str]:
    return sorted({ua for entry in CRAWLER_USER_AGENTS_DATA for ua in entry.get("instances", [])})


@pytest.fixture(scope="module")
def resolvers():
    return devices.compiled_resolver(), devices.python_resolver()


def what_user_agents_says(agent) -> tuple:
    """Everything ``user-agents`` answers about a user agent."""
    return (
        agent.browser,
        agent.os,
        agent.device,
        agent.is_mobile,
        agent.is_tablet,
        agent.is_pc,
        agent.is_bot,
        agent.is_touch_capable,
        agent.is_email_client,
    )


def test_the_table_is_real_and_varied():
    uas = table()
    assert len(uas) >= 170
    assert len(set(uas)) == len(uas)
    assert len(crawlers()) >= 1_000
    kinds = Counter(classify_agent(ua).kind for ua in uas)
    assert {"mobile", "tablet", "desktop", "bot", "other"} <= set(kinds)
    assert min(kinds[k] for k in ("mobile", "desktop", "bot")) >= 20


def test_the_process_parses_with_the_compiled_resolver():
    assert isinstance(devices.resolver(), ua_parser.regex.Resolver)


def test_the_pure_python_resolver_reads_user_agents_as_user_agents_does(resolvers):
    """The adapter is faithful: fed by ua-parser's pure-Python resolver, it answers what
    ``user_agents.parse`` (ua-parser's legacy API) answers, field by field."""
    _, python = resolvers
    for ua in table() + crawlers()[::4]:
        assert what_user_agents_says(ParsedAgent(ua, python)) == what_user_agents_says(
            legacy_parse(ua)
        ), ua


@pytest.mark.parametrize("headless_is_bot", [True, False])
def test_compiled_and_pure_python_agree_on_what_ringtrail_keeps(resolvers, headless_is_bot):
    compiled, python = resolvers
    agreed = 0
    for ua in table():
        fast = summarise(ParsedAgent(ua, compiled), ua, headless_is_bot)
        slow = summarise(ParsedAgent(ua, python), ua, headless_is_bot)
        assert fast == slow, ua
        agreed += 1
    for ua in crawlers():
        fast = summarise(ParsedAgent(ua, compiled), ua, headless_is_bot)
        slow = summarise(ParsedAgent(ua, python), ua, headless_is_bot)
        # A bot gets no visit, so its browser and system are never kept: for the
        # crawler list, bot or not is what must agree (and whatever a human keeps).
        assert fast.bot == slow.bot, ua
        if not fast.bot:
            assert fast == slow, ua
        agreed += 1
    assert agreed == len(table()) + len(crawlers())


def test_a_human_user_agent_reads_the_same_through_classify_agent():
    ua = table()[0]  # Chrome on Windows
    device = classify_agent(ua)
    assert (device.kind, device.browser, device.os, device.bot) == (
        "desktop",
        "Chrome",
        "Windows",
        False,
    )
    assert isinstance(devices.python_resolver(), ua_parser.basic.Resolver)
