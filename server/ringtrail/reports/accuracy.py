"""Accuracy figures from simulated calls: shares with 95 % Wilson intervals, pooled over
seeds with the per-seed spread, the label × truth table and the worst week."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ringtrail.reports.simulation import LABELS, TRUTHS

Z95 = 1.959964


@dataclass(frozen=True)
class Share:
    """``hits`` of ``total``, with its 95 % Wilson interval and the spread over seeds."""

    hits: int
    total: int
    low: float
    high: float
    seeds: tuple[float, ...] = ()

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    def text(self, digits: int = 1) -> str:
        """ "99.2 % [98.9, 99.4] (n = 4,321; seeds 99.0–99.5)"."""
        if not self.total:
            return "n = 0"
        out = (
            f"{100 * self.value:.{digits}f} % [{100 * self.low:.{digits}f}, "
            f"{100 * self.high:.{digits}f}] (n = {self.total:,}"
        )
        if len(self.seeds) > 1:
            lo, hi = min(self.seeds), max(self.seeds)
            out += f"; seeds {100 * lo:.{digits}f}–{100 * hi:.{digits}f}"
        return out + ")"

    def as_dict(self) -> dict:
        return {
            "hits": self.hits,
            "total": self.total,
            "share": self.value,
            "wilson95": [self.low, self.high],
            "seeds": list(self.seeds),
        }


def wilson(hits: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial share (sound near 0 and 1, unlike ±2σ)."""
    if total <= 0:
        return 0.0, 1.0
    p = hits / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def share(parts: Sequence[tuple[int, int]]) -> Share:
    """Pool (hits, total) of each seed into one share, keeping each seed's own value."""
    hits, total = sum(h for h, _ in parts), sum(t for _, t in parts)
    low, high = wilson(hits, total)
    seeds = tuple(h / t for h, t in parts if t)
    return Share(hits, total, low, high, seeds)


def _table(row: dict) -> Counter:
    return Counter({tuple(k.split("|")): v for k, v in row["table"].items()})


def summary(rows: Iterable[dict]) -> dict:
    """The figures the README reports, for the runs of one configuration (one per seed)."""
    rows = list(rows)
    tables = [_table(r) for r in rows]
    within = [Counter(r["within"]) for r in rows]
    kinds = [Counter({tuple(k.split("|")): v for k, v in r["kinds"].items()}) for r in rows]

    def of(counters, hit, among) -> Share:
        return share(
            [(sum(c[k] for k in c if hit(k)), sum(c[k] for k in c if among(k))) for c in counters]
        )

    weeks = []
    for r in rows:
        for week, counts in r["weeks"].items():
            total = sum(counts.values())
            if total >= 30:  # a week with too few calls says little
                weeks.append((counts.get("right", 0), total, r["seed"], int(week)))
    worst = min(weeks, key=lambda w: w[0] / w[1], default=None)
    table = sum(tables, Counter())
    return {
        "right_within": share([(c["right"], sum(c.values())) for c in within]),
        # Right and sure of it: exact, late or repeat (not ambiguous, a best guess).
        "sure_within": of(
            [
                Counter({tuple(k.split("|")): v for k, v in r.get("within_labels", {}).items()})
                for r in rows
            ],
            lambda k: k[1] == "right" and k[0] in ("exact", "late", "repeat"),
            lambda k: True,
        ),
        "right_all_visitor_calls": of(
            tables, lambda k: k[1] == "right", lambda k: k[1] != "no visit"
        ),
        "exact_wrong_visitor": of(
            tables, lambda k: k == ("exact", "wrong"), lambda k: k[0] == "exact"
        ),
        "exact_no_visit": of(
            tables, lambda k: k == ("exact", "no visit"), lambda k: k[0] == "exact"
        ),
        "late_wrong": of(
            tables,
            lambda k: k[0] == "late" and k[1] in ("wrong", "no visit"),
            lambda k: k[0] == "late",
        ),
        "no_visit_certain": of(
            tables,
            lambda k: k[1] == "no visit" and k[0] in ("exact", "late"),
            lambda k: k[1] == "no visit",
        ),
        "redials_right": of(kinds, lambda k: k == ("redial", "right"), lambda k: k[0] == "redial"),
        "withheld_redials_right": of(
            kinds,
            lambda k: k == ("withheld redial", "right"),
            lambda k: k[0] == "withheld redial",
        ),
        "written_down_wrong": of(
            kinds, lambda k: k == ("written", "wrong"), lambda k: k[0] == "written"
        ),
        "worst_week": None
        if worst is None
        else {
            "seed": worst[2],
            "week": worst[3],
            "right_within": share([(worst[0], worst[1])]),
        },
        "table": {label: {truth: table[(label, truth)] for truth in TRUTHS} for label in LABELS},
        "peak_overflow": share([(r["peak_overflowed"], r["peak_visitors"]) for r in rows]),
    }


def jsonable(value):
    """A summary as plain JSON data."""
    if isinstance(value, Share):
        return value.as_dict()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value
