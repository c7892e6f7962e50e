"""Showing a leased number: a phonenumbers parse per answer (before) against the site's
display table made when the directory loads (now), in the same run.

    python bench/display.py [--numbers 50000] [--rounds 3]

A big pool hands out a different number each time, so the old per-process cache of
``phones.national`` (4,096 entries) missed on nearly every answer: "before" is a parse
per number. "now" is the lookup ``sessions.entry`` does. Also prints what the table
costs per number when the directory loads (``phones.national_table``), and the same for
the international display of UK and German numbers (``phones.international_table``;
a North American number's is a fixed pattern, never parsed).
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


def per_number(fn, numbers) -> float:
    started = time.perf_counter()
    for number in numbers:
        fn(number)
    return (time.perf_counter() - started) / len(numbers) * 1e6


def measure(numbers: list[str], rounds: int, exact, make_table) -> dict:
    """One display: ``exact`` per answer (before) against a lookup in the table
    ``make_table`` builds at load (now), and what building it costs per number."""
    count = len(numbers)
    before, now, load = [], [], []
    table: dict[str, str] = {}
    for _ in range(rounds):
        before.append(per_number(exact, numbers[:5000]))
        started = time.perf_counter()
        table = make_table(numbers)
        load.append((time.perf_counter() - started) / count * 1e6)
        now.append(per_number(table.get, numbers))
    assert all(table[n] == exact(n) for n in numbers[::101])
    parse, lookup = statistics.median(before), statistics.median(now)
    return {
        "numbers": count,
        "parse_per_answer_us": round(parse, 2),
        "lookup_per_answer_us": round(lookup, 3),
        "ratio_lookup_vs_parse": round(lookup / parse, 4),
        "table_at_load_us_per_number": round(statistics.median(load), 2),
        "ratio_table_vs_parse_per_number": round(statistics.median(load) / parse, 3),
    }


def main(count: int, rounds: int) -> dict:
    from ringtrail.phones import _national, international, international_table, national_table

    numbers = [f"+1628{2000000 + i:07d}" for i in range(count)]
    # The international display: North American numbers are a fixed pattern (no parse
    # before either); numbers of other countries were parsed per answer.
    abroad = [f"+44207946{i:04d}" for i in range(min(count, 10_000))]
    abroad += [f"+4930{1234000 + i:07d}" for i in range(min(count, 10_000))]
    return {
        "national": measure(numbers, rounds, _national, national_table),
        "international_uk_de": measure(abroad, rounds, international, international_table),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(main(args.numbers, args.rounds), indent=2))
