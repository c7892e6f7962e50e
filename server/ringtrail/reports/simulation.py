"""Attribution accuracy, measured by replaying synthetic traffic through the real code.

Visitors arrive as a Poisson process whose rate follows a daily curve; each views a few
pages (renewing its lease as the snippet would) and some call, during the visit, shortly
after leaving, or much later. Every lease goes through ``lease.lua`` on a real Redis and
every call through :func:`server.attribution.attribute`, with time injected: a simulated
day takes seconds. Each call is then judged against the visitor who really made it.
"""

from __future__ import annotations

import heapq
import math
import random
import secrets
from collections import Counter
from dataclasses import dataclass, field

import redis

from ringtrail.calls.attribution import attribute
from ringtrail.reports.sizing import erlang_b
from ringtrail.tracking.pool import LeaseRequest, PoolStore

DAY = 86_400.0
OUTCOMES = ("correct", "wrong", "ambiguous", "none")


@dataclass(frozen=True)
class Traffic:
    """The synthetic traffic: rates, visit shapes and calling behaviour."""

    peak_arrivals_per_hour: float = 120.0
    trough_share: float = 0.15  # night-time rate as a share of the peak
    mean_pages: float = 4.0
    mean_page_seconds: float = 75.0
    heartbeat_seconds: float = 60.0
    call_share: float = 0.08
    # Where calls fall: during the visit, soon after it, long after it (shares sum to 1).
    during: float = 0.6
    soon_after: float = 0.3
    soon_mean_seconds: float = 300.0
    late_mean_seconds: float = 2400.0
    days: float = 1.0
    seed: int = 7

    def hold_seconds(self, lease_seconds: float) -> float:
        """How long a visitor holds a number on average: the visit, then the lease."""
        return self.mean_pages * self.mean_page_seconds + lease_seconds

    def offered_load(self, lease_seconds: float) -> float:
        """Erlangs offered at the peak: arrivals per second times the holding time."""
        return self.peak_arrivals_per_hour / 3600.0 * self.hold_seconds(lease_seconds)

    def rate(self, t: float) -> float:
        """Arrivals per second at time ``t``: a daily curve peaking mid-afternoon."""
        hour = (t % DAY) / 3600.0
        shape = 0.5 * (1 + math.cos((hour - 14.0) / 24.0 * 2 * math.pi))
        share = self.trough_share + (1 - self.trough_share) * shape
        return self.peak_arrivals_per_hour / 3600.0 * share


@dataclass
class Result:
    """Outcomes of one simulated configuration."""

    numbers: int
    lease_seconds: int
    allocation: str
    policy: str
    visitors: int = 0
    peak_visitors: int = 0  # arrivals in the busiest hours, 12:00 to 16:00
    peak_overflowed: int = 0  # of those, the ones whose first lease was a shared number
    calls: Counter = field(default_factory=Counter)
    in_window: Counter = field(default_factory=Counter)
    predicted_overflow: float = 0.0

    def share(self, outcome: str, *, window_only: bool = False) -> float:
        counts = self.in_window if window_only else self.calls
        total = sum(counts.values())
        return counts[outcome] / total if total else 0.0

    def row(self) -> dict:
        return {
            "numbers": self.numbers,
            "lease_seconds": self.lease_seconds,
            "allocation": self.allocation,
            "policy": self.policy,
            "visitors": self.visitors,
            "calls": sum(self.calls.values()),
            **{o: round(self.share(o), 4) for o in OUTCOMES},
            "correct_in_lease_window": round(self.share("correct", window_only=True), 4),
            "peak_overflow_observed": round(self.peak_overflowed / self.peak_visitors, 4)
            if self.peak_visitors
            else 0.0,
            "peak_overflow_erlang_b": round(self.predicted_overflow, 4),
        }


def _visitors(traffic: Traffic, rng: random.Random):
    """Arrival times by thinning a Poisson process at the peak rate."""
    peak = traffic.rate(14 * 3600.0)
    t, end = 0.0, traffic.days * DAY
    while True:
        t += rng.expovariate(peak)
        if t >= end:
            return
        if rng.random() < traffic.rate(t) / peak:
            yield t


def simulate(
    client: redis.Redis,
    traffic: Traffic,
    *,
    numbers: int,
    lease_seconds: int,
    match_window: int = 3600,
    allocation: str = "lru",
    policy: str = "reuse_oldest",
    pool_id: int | None = None,
) -> Result:
    """Run one configuration; the pool's Redis keys are deleted afterwards."""
    # The same visitors, visits and calls for every configuration: only the pool differs.
    rng = random.Random(traffic.seed)
    pool_id = pool_id or 1_000_000 + secrets.randbelow(1_000_000_000)
    store = PoolStore(client)
    pool_numbers = [f"+1555{7000000 + i:07d}" for i in range(numbers)]
    result = Result(numbers, lease_seconds, allocation, policy)
    result.predicted_overflow = erlang_b(numbers, traffic.offered_load(lease_seconds))

    # Events: (time, order, kind, visitor); a heap keeps them in time order.
    events: list[tuple[float, int, str, int]] = []
    shown: dict[int, str | None] = {}
    last_seen: dict[int, float] = {}
    order = 0
    peak: set[int] = set()
    for visitor, start in enumerate(_visitors(traffic, rng)):
        result.visitors += 1
        if 12 <= (start % DAY) / 3600.0 < 16:
            peak.add(visitor)
        pages = 1 + int(rng.expovariate(1 / max(traffic.mean_pages - 1, 0.01)))
        t = start
        for _ in range(pages):
            heapq.heappush(events, (t, order, "lease", visitor))
            order += 1
            stay = rng.expovariate(1 / traffic.mean_page_seconds)
            beat = t + traffic.heartbeat_seconds
            while beat < t + stay:
                heapq.heappush(events, (beat, order, "lease", visitor))
                order += 1
                beat += traffic.heartbeat_seconds
            t += stay
        if rng.random() < traffic.call_share:
            pick = rng.random()
            if pick < traffic.during:
                when = rng.uniform(start, t)
            elif pick < traffic.during + traffic.soon_after:
                when = t + rng.expovariate(1 / traffic.soon_mean_seconds)
            else:
                when = t + rng.expovariate(1 / traffic.late_mean_seconds)
            heapq.heappush(events, (when, order, "call", visitor))
            order += 1
    result.peak_visitors = len(peak)

    session = {}
    while events:
        now, _, kind, visitor = heapq.heappop(events)
        sid = session.setdefault(visitor, f"v{visitor}")
        if kind == "lease":
            first = visitor not in shown
            if not first and shown[visitor] is None and policy == "original":
                continue  # the loss system: a blocked visitor does not come back for a number
            (lease,) = store.lease_all(
                [
                    LeaseRequest(
                        pool_id,
                        sid,
                        pool_numbers,
                        lease_seconds,
                        policy,
                        lease_seconds + match_window,
                        allocation=allocation,
                    )
                ],
                now=now,
            )
            if first and lease.status in ("shared", "original") and visitor in peak:
                result.peak_overflowed += 1
            shown[visitor] = lease.number  # may change: a new lease after the old expired
            last_seen[visitor] = now
            continue
        number = shown.get(visitor)
        within = now <= last_seen.get(visitor, now) + lease_seconds
        if number is None:
            outcome = "none"
        else:
            found = attribute(store.records(pool_id, number), now, match_window)
            if found.confidence == "ambiguous":
                outcome = "ambiguous"
            elif found.session is None:
                outcome = "none"
            else:
                outcome = "correct" if found.session == sid else "wrong"
        result.calls[outcome] += 1
        if within:
            result.in_window[outcome] += 1

    store.forget(
        pool_id, sorted({_day(t) for t in range(0, int((traffic.days + 2) * DAY), int(DAY))})
    )
    return result


def _day(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(t))


def svg_plot(results: list[Result], path: str) -> None:
    """Write correct-attribution share against pool size, one line per lease/allocation."""
    width, height, pad = 640, 400, 50
    sizes = sorted({r.numbers for r in results})
    lo, hi = min(sizes), max(sizes)
    span = max(hi - lo, 1)

    def x(n):
        return pad + (n - lo) / span * (width - 2 * pad)

    def y(v):
        return height - pad - v * (height - 2 * pad)

    colours = ["#0b6bcb", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#495057"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">'
        "Calls attributed to the right visitor, by pool size</text>",
        f'<line x1="{pad}" y1="{y(0)}" x2="{width - pad}" y2="{y(0)}" stroke="#333"/>',
        f'<line x1="{pad}" y1="{y(0)}" x2="{pad}" y2="{y(1)}" stroke="#333"/>',
    ]
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{pad - 6}" y="{y(v) + 4}" text-anchor="end">{v:.0%}</text>')
    for n in sizes:
        parts.append(f'<text x="{x(n)}" y="{height - pad + 16}" text-anchor="middle">{n}</text>')
    series: dict[tuple[int, str], list[Result]] = {}
    for r in results:
        series.setdefault((r.lease_seconds, r.allocation), []).append(r)
    for i, ((lease, alloc), rows) in enumerate(sorted(series.items())):
        colour = colours[i % len(colours)]
        rows.sort(key=lambda r: r.numbers)
        points = " ".join(f"{x(r.numbers):.1f},{y(r.share('correct')):.1f}" for r in rows)
        dash = ' stroke-dasharray="5,4"' if alloc == "random" else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        parts.append(
            f'<text x="{width - pad - 150}" y="{y(0) - 16 * (i + 1)}" fill="{colour}">'
            f"lease {lease // 60} min, {alloc}</text>"
        )
    parts.append("</svg>")
    with open(path, "w") as fh:
        fh.write("\n".join(parts))
