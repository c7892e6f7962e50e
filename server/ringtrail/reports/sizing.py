"""Pool sizing with textbook queueing: a pool is an Erlang loss system.

Visitors arrive at rate λ and each holds a number for the lease time h; the offered load
is A = λ·h (the mean number of visitors holding a number). A visitor who arrives when all
N numbers are held overflows. The Erlang-B formula gives that probability.
"""

from __future__ import annotations


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
    """Recommended pool size for an observed peak arrival rate.

    ``hold_seconds`` is how long a visitor keeps a number: the visit itself plus the
    pool's lease time after the last activity.
    """
    load = peak_arrivals_per_hour / 3600.0 * hold_seconds
    return numbers_needed(load, overflow)
