"""Pool sizing with textbook queueing: a pool is an Erlang loss system.

Visitors arrive at rate λ and each keeps a number for a holding time h; the offered load
is A = λ·h (the mean number of numbers kept). A visitor who arrives when all N numbers are
kept overflows; the Erlang-B formula gives that probability.

A number is kept from a visitor's first page view to their last activity, then for the
lease, and then it *rests* (by default for the match window) before anyone else may have
it: the rest is part of the holding time. The dashboard and ``ringtrail simulate``
estimate both inputs the same way, from the lease script's hourly counters:
:func:`observed_hold` and :func:`peak_arrivals`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# The visit before the lease's idle tail, when a pool has no ended lease to measure.
DEFAULT_VISIT_SECONDS = 180
# The recommendation meets the overflow target in the busiest hour on this share of days.
DAYS_SHARE = 0.9


def erlang_b(servers: int, load: float) -> float:
    """Probability that an arrival finds all ``servers`` busy under offered ``load`` (Erlangs).

    Uses the stable recurrence B(0) = 1, B(n) = A·B(n-1) / (n + A·B(n-1)).
    """
    if servers < 0 or load < 0:
        raise ValueError("servers and load must not be negative")
    b = 1.0
    for n in range(1, servers + 1):
        b = load * b / (n + load * b)
    return b


def numbers_needed(load: float, overflow: float = 0.01, limit: int = 1_000_000) -> int:
    """The smallest pool whose overflow probability is at most ``overflow``."""
    if not 0 < overflow < 1:
        raise ValueError("overflow target must be between 0 and 1")
    b = 1.0
    n = 0
    while b > overflow:
        n += 1
        if n > limit:
            raise ValueError("load too large for any sensible pool")
        b = load * b / (n + load * b)
    return n


def recommend(peak_arrivals_per_hour: float, hold_seconds: float, overflow: float = 0.01) -> int:
    """Recommended pool size for a peak arrival rate and a holding time (rest included)."""
    load = peak_arrivals_per_hour / 3600.0 * hold_seconds
    return numbers_needed(load, overflow)


def observed_hold(held_seconds: float, ended: int, lease_seconds: int) -> float:
    """Mean seconds a visitor kept a number, from the leases that ended (first page view
    to last activity, plus the lease); before any ended, the lease plus a short visit.
    The rest comes on top (see :func:`hold_seconds`)."""
    if ended:
        return held_seconds / ended
    return float(lease_seconds + DEFAULT_VISIT_SECONDS)


def hold_seconds(kept_seconds: float, rest_seconds: float) -> float:
    """The holding time Erlang-B needs: kept by the visitor, then resting."""
    return kept_seconds + rest_seconds


def peak_arrivals(busiest_by_day: Sequence[float], share: float = DAYS_SHARE) -> float:
    """The arrival rate to size for: each day's busiest hour (new leases plus
    exhaustions), taken at the ``share`` quantile across days, so that the size meets its
    target on that share of days. The single busiest hour of a long period is not used:
    the maximum of many Poisson counts grows with the period, not with the traffic."""
    days = sorted(busiest_by_day)
    if not days:
        return 0.0
    # The nearest-rank quantile: the smallest day count that covers `share` of the days.
    rank = max(1, math.ceil(share * len(days)))
    return float(days[rank - 1])
