"""Pool health in outcomes: what to do about a pool, in a marketer's words.

The recommendation (Erlang-B, :mod:`ringtrail.reports.sizing`) answers "how many numbers
keep the share of visitors a pool turns away at its busiest hour under the target". A
visitor turned away sees the business number, so a call of theirs is not matched to
their visit: the target, read the other way round, is the share of calls kept matched.

The live count of numbers leased right now is a floor: a pool never needs fewer numbers
than are in use at this moment, so the advice and the "leased now" badge always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ringtrail.reports.queries import PoolHealth


def kept_share(overflow: float) -> str:
    """The share of calls kept matched, as words: 0.01 → "99 %", 0.005 → "99.5 %"."""
    kept = (1 - overflow) * 100
    return f"{kept:.1f} %".replace(".0 %", " %")


@dataclass(frozen=True)
class Advice:
    """What to do about one pool."""

    needed: int  # numbers the pool needs: the recommendation, at least those leased now
    change: int  # numbers to add (positive) or that could go (negative)
    text: str
    urgent: bool  # the pool turns visitors away now or at its busiest hour


def advise(health: PoolHealth, leased_now: int | None = None) -> Advice:
    """The advice for one pool, given how many of its numbers are leased right now."""
    needed = max(health.recommended, leased_now or 0)
    delta = needed - health.size
    share = kept_share(health.overflow)
    if delta > 0:
        noun = "number" if delta == 1 else "numbers"
        return Advice(
            needed, delta, f"Add {delta} {noun} to keep {share} of calls matched to a visit.", True
        )
    if delta < 0 and not health.hold_observed and not health.new_leases:
        return Advice(
            needed, 0, f"No visits yet: the pool's {health.size} numbers are untested.", False
        )
    if delta < 0:
        spare = -delta
        noun = "number" if spare == 1 else "numbers"
        return Advice(
            needed,
            delta,
            f"{spare} {noun} could go and {share} of calls would still be matched to a visit.",
            False,
        )
    return Advice(needed, 0, f"Enough numbers to keep {share} of calls matched to a visit.", False)
