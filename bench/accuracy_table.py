"""The README's accuracy tables, from the JSON that `ringtrail simulate` wrote.

    python bench/accuracy_table.py [bench/results]

Prints Markdown: the main table (every lease and size of bench/results/simulation.json),
the label × truth table at each recommended size, and the comparisons (allocation, clock,
tabs, on-intent) from the other simulation-*.json files that exist.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def pct(share: dict, digits: int = 2) -> str:
    """ "99.93 % [99.80, 99.98]" from a summary share."""
    if not share["total"]:
        return "–"
    lo, hi = share["wilson95"]
    return f"{100 * share['share']:.{digits}f} % [{100 * lo:.{digits}f}, {100 * hi:.{digits}f}]"


def spread(share: dict) -> str:
    seeds = share["seeds"]
    return f"{100 * min(seeds):.2f}–{100 * max(seeds):.2f}" if seeds else "–"


def main(folder: str = "bench/results") -> None:
    root = Path(folder)
    main_run = json.loads((root / "simulation.json").read_text())
    print(
        "| lease | numbers | right visitor, calls within the lease (seeds) | worst week "
        "| exact but another visitor | exact but no visit | redials right | "
        "no-visit callers labelled exact or late | visitors at the peak without a number "
        "of their own |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for s in main_run["summaries"]:
        size = f"**{s['numbers']}** (recommended)" if s["recommended"] else str(s["numbers"])
        worst = pct(s["worst_week"]["right_within"]) if s["worst_week"] else "–"
        print(
            f"| {s['lease_seconds'] // 60} min | {size} | {pct(s['right_within'])} "
            f"({spread(s['right_within'])}) | {worst} | {pct(s['exact_wrong_visitor'])} | "
            f"{pct(s['exact_no_visit'])} | {pct(s['redials_right'])} | "
            f"{pct(s['no_visit_certain'], 1)} | {pct(s['peak_overflow'])} |"
        )
    for s in main_run["summaries"]:
        if not s["recommended"]:
            continue
        print(
            f"\nLabel × truth, {s['lease_seconds'] // 60} min leases, {s['numbers']} numbers "
            f"(calls, {main_run['seeds']} seeds together):\n"
        )
        print("| label | right visitor | wrong visitor | visitor missed | no visitor |")
        print("|---|---|---|---|---|")
        for label, row in s["table"].items():
            if any(row.values()):
                cells = " | ".join(f"{row[t]:,}" for t in ("right", "wrong", "missed", "no visit"))
                print(f"| {label} | {cells} |")
    print(
        "\n| comparison (30 min leases) | numbers | right within the lease | exact but "
        "another visitor | exact but no visit | visitor calls to the business number |"
    )
    print("|---|---|---|---|---|---|")
    for name in (
        "random",
        "redis-skew0",
        "nodes-skew0",
        "nodes-skew30",
        "separate-tabs",
        "on-intent",
    ):
        path = root / f"simulation-{name}.json"
        if not path.exists():
            continue
        for s in json.loads(path.read_text())["summaries"]:
            mark = " (recommended)" if s["recommended"] else ""
            visitor_calls = sum(
                row[t] for row in s["table"].values() for t in ("right", "wrong", "missed")
            )
            business = s["table"]["business"]["missed"] / visitor_calls
            print(
                f"| {name} | {s['numbers']}{mark} | {pct(s['right_within'])} | "
                f"{pct(s['exact_wrong_visitor'])} | {pct(s['exact_no_visit'])} | "
                f"{100 * business:.1f} % |"
            )


if __name__ == "__main__":
    main(*sys.argv[1:])
