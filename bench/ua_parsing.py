"""User-agent parsing on a cache miss: ua-parser's compiled resolver against the legacy
pure-Python parse ``user_agents.parse`` used before, in the same run.

    python bench/ua_parsing.py [--rounds 3]

Every user agent is parsed once per round by each (no cache: each is distinct), in
interleaved rounds so that machine noise hits both alike: the table of
tests/data/user_agents.txt and the real crawler user agents crawler-user-agents ships
(about 2,300 in all). Prints µs per miss, the ratio compiled / pure Python, and on how
many user agents the two agree on what Ringtrail keeps (tracking/devices.py: a
person's device kind, browser and system; whether it is a bot).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def user_agents() -> list[str]:
    from crawleruseragents import CRAWLER_USER_AGENTS_DATA

    lines = (ROOT / "tests" / "data" / "user_agents.txt").read_text().splitlines()
    table = [line for line in lines if line.strip() and not line.startswith("#")]
    listed = {ua for entry in CRAWLER_USER_AGENTS_DATA for ua in entry.get("instances", [])}
    return sorted(set(table) | listed)


def per_miss(parse, uas: list[str]) -> float:
    started = time.perf_counter()
    for ua in uas:
        parse(ua)
    return (time.perf_counter() - started) / len(uas) * 1e6


def main(rounds: int) -> dict:
    from user_agents import parse as legacy
    from user_agents.parsers import user_agent_parser

    from ringtrail.tracking.devices import ParsedAgent, compiled_resolver, summarise

    uas = user_agents()
    compiled = compiled_resolver()
    legacy_us, compiled_us = [], []
    for _ in range(rounds):
        user_agent_parser._PARSE_CACHE.clear()  # the legacy API keeps 200 parses
        legacy_us.append(per_miss(legacy, uas))
        compiled_us.append(per_miss(lambda ua: ParsedAgent(ua, compiled), uas))
    agree = identical = 0
    for ua in uas:
        slow_device = summarise(legacy(ua), ua, True)
        fast_device = summarise(ParsedAgent(ua, compiled), ua, True)
        identical += slow_device == fast_device
        # A bot gets no visit: only "bot" is kept of it.
        agree += slow_device == fast_device or (slow_device.bot and fast_device.bot)
    slow, fast = statistics.median(legacy_us), statistics.median(compiled_us)
    return {
        "user_agents": len(uas),
        "pure_python_us_per_miss": round(slow, 1),
        "compiled_us_per_miss": round(fast, 1),
        "ratio_compiled_vs_pure_python": round(fast / slow, 3),
        "agree_on_what_ringtrail_keeps": f"{agree} of {len(uas)}",
        "identical_devices_bots_included": f"{identical} of {len(uas)}",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    print(json.dumps(main(parser.parse_args().rounds), indent=2))
