"""Attribution accuracy, measured by replaying synthetic traffic through the real code.

Every lease goes through ``lease.lua`` on a real Redis and every call through
:func:`ringtrail.calls.attribution.attribute` and :func:`repeat_of`, with time injected:
a simulated day takes seconds. Each call is then judged against who really made it.

The traffic (:class:`Traffic`) is a realistic mix: a daily curve of visitors, second
tabs, undetected bots, a weekly campaign burst, heartbeats only while the visitor is
active and the tab visible, callers who redial from their call log, numbers written down
and called days later, callers with no visit at all, and web nodes whose clocks disagree.
A scenario (:func:`scenario`) is drawn once per seed; every pool configuration replays the
same one (:func:`replay`), so only the pool differs between rows.
"""

from __future__ import annotations

import math
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis

from ringtrail.calls.attribution import EarlierCall, attribute, repeat_of
from ringtrail.reports import autosizing, sizing
from ringtrail.tracking.pool import LeaseRequest, PoolKeys, PoolStore

DAY = 86_400.0
WEEK = 7 * DAY
# Simulated time starts two weeks after the epoch: a never-used number (released at 0,
# as sync_add.lua has it) is then rested, as it is in production.
EPOCH = 14 * DAY
REPEAT_WINDOW = 30 * DAY
LABELS = ("exact", "late", "ambiguous", "repeat", "source", "none", "business")
TRUTHS = ("right", "wrong", "missed", "no visit")


@dataclass(frozen=True)
class Traffic:
    """The synthetic traffic: rates, visit shapes and calling behaviour."""

    peak_arrivals_per_hour: float = 60.0
    trough_share: float = 0.15  # night-time rate as a share of the peak
    mean_pages: float = 3.5  # 1 + a geometric number of further pages
    mean_page_seconds: float = 75.0
    mean_active_seconds: float = 45.0  # of each page: active and visible, then idle
    heartbeat_seconds: float = 60.0
    second_tab_share: float = 0.25
    tabs_share_a_visit: bool = True  # the snippet shares one visit across tabs
    bots_per_hour: float = 15.0  # undetected: they run the snippet and take numbers
    burst_visitors: int = 500  # a campaign e-mail (0: none)
    burst_seconds: float = 300.0
    burst_every_days: float = 30.0  # a monthly newsletter, first sent on day 8
    burst_has_source_number: bool = True  # the campaign's source has its own number
    call_share: float = 0.08
    # Where calls fall: during the visit, soon after it, later (shares sum to 1).
    during: float = 0.6
    soon_after: float = 0.3
    soon_mean_seconds: float = 300.0
    late_mean_seconds: float = 2400.0
    written_down_share: float = 0.02  # of calling visitors: call 1 to 10 days later
    redial_share: float = 0.2  # of calling visitors: redial 1 hour to 3 days later
    no_visit_share: float = 0.05  # of all calls: callers who never visited
    withheld_share: float = 0.05  # of callers: no caller id
    clock_skew_seconds: float = 30.0  # one of two web nodes is this far off
    # On-intent leasing (the snippet's data-intent): no number until the visitor does
    # something (a second page, a minute in use); bots never do.
    on_intent: bool = False
    one_clock: bool = True  # lease and call times on Redis's clock (False: each node's)
    days: float = 30.0
    seed: int = 7
    # A traffic ramp: from day ``ramp_from`` the rate grows linearly to ``ramp`` times
    # itself over ``ramp_days`` days, then stays there (1: no ramp).
    ramp: float = 1.0
    ramp_days: float = 7.0
    ramp_from: float = 7.0

    def growth(self, t: float) -> float:
        """The ramp's factor at time ``t`` (1 before it starts)."""
        if self.ramp == 1.0:
            return 1.0
        done = (t - EPOCH - self.ramp_from * DAY) / max(self.ramp_days * DAY, 1.0)
        return 1.0 + (self.ramp - 1.0) * min(1.0, max(0.0, done))

    def rate(self, t: float) -> float:
        """Visitors per second at time ``t``: a daily curve peaking mid-afternoon."""
        hour = (t % DAY) / 3600.0
        shape = 0.5 * (1 + math.cos((hour - 14.0) / 24.0 * 2 * math.pi))
        share = self.trough_share + (1 - self.trough_share) * shape
        return self.peak_arrivals_per_hour / 3600.0 * share * self.growth(t)


@dataclass(frozen=True)
class Call:
    """A call in a scenario: when, by whom, and which number it dials."""

    at: float
    caller: str | None  # None: withheld
    visitor: int | None  # who really calls; None: nobody who visited
    dials: str  # "shown" (the visitor's number), "redial" (an earlier call's), "random"
    redials: int | None = None  # the earlier call's index, for a redial
    kind: str = "visitor"  # visitor | redial | withheld redial | written | no visit


@dataclass
class Scenario:
    """Every request and call of one seed, in time order."""

    traffic: Traffic
    events: list[tuple[float, int, str, object]]  # (time, order, kind, payload)
    visitors: int = 0
    bots: int = 0


def _arrivals(traffic: Traffic, rng: random.Random, rate_at, peak: float):
    """Arrival times by thinning a Poisson process at rate ``peak``."""
    t, end = EPOCH, EPOCH + traffic.days * DAY
    while True:
        t += rng.expovariate(peak)
        if t >= end:
            return
        if rng.random() < rate_at(t) / peak:
            yield t


def _page_views(traffic: Traffic, rng: random.Random, start: float, pages: int):
    """Request times of one tab: each page view, then a heartbeat each minute in which
    the visitor was active (the tab is visible while active). Returns (times, end)."""
    times, t = [], start
    for _ in range(pages):
        times.append(t)
        stay = rng.expovariate(1 / traffic.mean_page_seconds)
        active = min(stay, rng.expovariate(1 / traffic.mean_active_seconds))
        beat = traffic.heartbeat_seconds
        while beat <= stay and beat - traffic.heartbeat_seconds < active:
            times.append(t + beat)
            beat += traffic.heartbeat_seconds
        t += stay
    return times, t


def scenario(traffic: Traffic) -> Scenario:
    """Draw one seed's visitors, bots, bursts and calls."""
    rng = random.Random(traffic.seed)
    out = Scenario(traffic, [])
    order = 0

    def push(t: float, kind: str, payload) -> None:
        nonlocal order
        out.events.append((t, order, kind, payload))
        order += 1

    peak = traffic.rate(14 * 3600.0) * max(1.0, traffic.ramp)  # the ramp's top
    starts = list(_arrivals(traffic, rng, traffic.rate, peak))
    end_of_run = EPOCH + traffic.days * DAY
    bursts = []
    if traffic.burst_visitors:
        every = traffic.burst_every_days * DAY
        for n in range(int(traffic.days * DAY // every) + 1):
            at = EPOCH + n * every + 7 * DAY + 10 * 3600.0  # at ten in the morning
            if at < end_of_run:
                bursts += [
                    at + rng.uniform(0, traffic.burst_seconds)
                    for _ in range(traffic.burst_visitors)
                ]
    visitors = [(t, False) for t in starts] + [(t, True) for t in bursts]
    visitors.sort()
    calls: list[Call] = []
    for visitor, (start, campaign) in enumerate(visitors):
        pages = 1 + int(rng.expovariate(1 / max(traffic.mean_pages - 1, 0.01)) + 0.5)
        times, end = _page_views(traffic, rng, start, pages)
        tabs = [("s", times)]
        if rng.random() < traffic.second_tab_share:
            opened = rng.choice(times)
            more, end2 = _page_views(traffic, rng, opened, 1 + int(rng.expovariate(1.0)))
            tabs.append(("t", more))
            end = max(end, end2)
        for tab, requests in tabs:
            session = f"v{visitor}" if traffic.tabs_share_a_visit else f"v{visitor}{tab}"
            for i, t in enumerate(requests):
                node = rng.random() < 0.5
                first = i == 0 and tab == "s"
                push(t, "lease", (visitor, session, campaign, first, node, not first))
        last = max(t for _, r in tabs for t in r)
        if rng.random() >= traffic.call_share:
            continue
        caller = None if rng.random() < traffic.withheld_share else f"c{visitor}"
        if rng.random() < traffic.written_down_share:
            calls.append(
                Call(end + rng.uniform(DAY, 10 * DAY), caller, visitor, "shown", None, "written")
            )
            continue
        pick = rng.random()
        if pick < traffic.during:
            when = rng.uniform(start + 1, max(start + 1, last))  # having seen the number
        elif pick < traffic.during + traffic.soon_after:
            when = end + rng.expovariate(1 / traffic.soon_mean_seconds)
        else:
            when = end + rng.expovariate(1 / traffic.late_mean_seconds)
        calls.append(Call(when, caller, visitor, "shown"))
        if rng.random() < traffic.redial_share:
            later = when + math.exp(rng.uniform(math.log(3600), math.log(3 * DAY)))
            kind = "redial" if caller else "withheld redial"  # no caller id to match
            calls.append(Call(later, caller, visitor, "redial", len(calls) - 1, kind))
    # Undetected bots, day and night: a few quick pages, no heartbeats, no calls.
    bot_rate = traffic.bots_per_hour / 3600
    bots = list(_arrivals(traffic, rng, lambda _: bot_rate, bot_rate)) if bot_rate else []
    for bot, t in enumerate(bots):
        for i in range(1 + int(rng.expovariate(1 / 3))):
            push(
                t + i * rng.uniform(2, 10),
                "lease",
                (-1 - bot, f"b{bot}", False, i == 0, True, False),
            )
    out.bots = len(bots)
    # Callers who never visited: they dial some pool number at a random time.
    visitor_calls = len(calls)
    share = traffic.no_visit_share
    for _ in range(int(visitor_calls * share / (1 - share)) if share < 1 else 0):
        who = None if rng.random() < 0.1 else f"x{rng.randrange(10**9)}"
        calls.append(Call(rng.uniform(EPOCH, end_of_run), who, None, "random", None, "no visit"))
    for i, c in enumerate(calls):
        if c.at < end_of_run:
            push(c.at, "call", (i, c))
    out.events.sort()
    out.visitors = len(visitors)
    return out


@dataclass
class Result:
    """Outcomes of one pool configuration on one scenario."""

    numbers: int
    lease_seconds: int
    rest_seconds: int
    allocation: str
    policy: str
    seed: int
    visitors: int = 0
    table: Counter = field(default_factory=Counter)  # (label, truth) -> calls
    within: Counter = field(default_factory=Counter)  # truth of calls within the lease
    # Of calls within the lease: (label, truth), to tell a sure answer from a best guess.
    within_labels: Counter = field(default_factory=Counter)
    weeks: dict = field(default_factory=dict)  # week -> Counter of within-lease truths
    kinds: Counter = field(default_factory=Counter)  # (call kind, truth) -> calls
    peak_visitors: int = 0
    peak_overflowed: int = 0
    hours: dict = field(default_factory=dict)  # the lease script's counters, by day
    autosize: bool = False
    sizes: list = field(default_factory=list)  # autosize: leasable numbers, day by day
    bought: int = 0
    retired: int = 0
    released: int = 0

    def row(self) -> dict:
        """The counts a report needs (shares and intervals come from ``accuracy``)."""
        return {
            "numbers": self.numbers,
            "lease_seconds": self.lease_seconds,
            "rest_seconds": self.rest_seconds,
            "allocation": self.allocation,
            "policy": self.policy,
            "seed": self.seed,
            "visitors": self.visitors,
            "table": {f"{label}|{truth}": n for (label, truth), n in sorted(self.table.items())},
            "within": dict(self.within),
            "within_labels": {f"{k}|{t}": n for (k, t), n in sorted(self.within_labels.items())},
            "weeks": {str(w): dict(c) for w, c in sorted(self.weeks.items())},
            "kinds": {f"{k}|{t}": n for (k, t), n in sorted(self.kinds.items())},
            "peak_visitors": self.peak_visitors,
            "peak_overflowed": self.peak_overflowed,
            "autosize": self.autosize,
            "sizes": list(self.sizes),
            "bought": self.bought,
            "retired": self.retired,
            "released": self.released,
        }


def estimate(hours: dict, lease_seconds: int, rest_seconds: int, overflow: float = 0.01) -> dict:
    """The dashboard's estimate (reports/sizing.py) from the lease script's counters
    (``{day: {"new:HH": n, ...}}``)."""
    held = sum(v for h in hours.values() for k, v in h.items() if k.startswith("held:"))
    ended = sum(v for h in hours.values() for k, v in h.items() if k.startswith("ended:"))
    busiest = []
    for h in hours.values():
        arrivals: dict[str, int] = {}
        for k, v in h.items():
            kind, _, hour = k.partition(":")
            if kind in ("new", "exhausted"):
                arrivals[hour] = arrivals.get(hour, 0) + v
        busiest.append(max(arrivals.values(), default=0))
    kept = sizing.observed_hold(held, ended, lease_seconds)
    hold = sizing.hold_seconds(kept, rest_seconds)
    rate = sizing.peak_arrivals(busiest)
    return {
        "peak_arrivals": rate,
        "kept_seconds": kept,
        "hold_seconds": hold,
        "recommended": sizing.recommend(rate, hold, overflow),
        "without_rest": sizing.recommend(rate, kept, overflow),
        "days": len(busiest),
    }


@dataclass(frozen=True)
class Autosize:
    """Apply the autosizing planner at each simulated midnight, from the last
    ``observe_days`` days of the lease script's counters: bought numbers join the pool at
    once; retired ones leave its lease set at once and are released (dropped) once their
    last lease plus the match window is over, as ``tracking/retiring.py`` does."""

    limits: autosizing.Limits = autosizing.Limits(max_numbers=100_000, cooldown_seconds=86400)
    price: autosizing.Price = autosizing.Price(115, "USD")
    observe_days: int = 7


class _Sizer:
    """The autosizing state of one replay."""

    def __init__(self, config: Autosize, store: PoolStore, pool_id: int, numbers: list[str]):
        self.config, self.store, self.pool_id = config, store, pool_id
        self.numbers = numbers  # the replay's list, changed in place
        self.retiring: dict[str, float] = {}
        self.surplus_since: datetime | None = None
        self.next_id = len(numbers)

    def day(self, at: float, lease_seconds: int, window: int, rest: int, result: Result) -> None:
        """Release what is due, then plan and act, at midnight ``at``."""
        for number, since in list(self.retiring.items()):
            ends = [r.end for r in self.store.records(self.pool_id, number)]
            due = max([since + lease_seconds, *ends]) + window
            if at >= due:
                del self.retiring[number]
                result.released += 1
        days = [
            time.strftime("%Y-%m-%d", time.gmtime(at - k * DAY))
            for k in range(1, self.config.observe_days + 1)
        ]
        hours = {d: h for d in days if (h := self.store.hours(self.pool_id, d))}
        if hours:
            est = estimate(hours, lease_seconds, rest)
            observed = autosizing.Observed(
                est["peak_arrivals"], est["hold_seconds"], len(self.numbers), len(self.retiring)
            )
            made = autosizing.plan(
                observed,
                self.config.limits,
                self.config.price,
                now=datetime.fromtimestamp(at, UTC),
                surplus_since=self.surplus_since,
            )
            self.surplus_since = made.surplus_since
            if made.action == autosizing.BUY:
                for _ in range(made.count):
                    self.numbers.append(f"+1555{7000000 + self.next_id:07d}")
                    self.next_id += 1
                result.bought += made.count
            elif made.action == autosizing.RETIRE:
                busy = PoolKeys(self.pool_id).busy
                idle = [n for n in self.numbers if self.store.redis.zscore(busy, n) is None]
                chosen = (idle[::-1] + [n for n in self.numbers[::-1] if n not in idle])[
                    : made.count
                ]
                for number in chosen:
                    self.numbers.remove(number)
                    self.retiring[number] = at
                result.retired += len(chosen)
        result.sizes.append(len(self.numbers))


def replay(
    client: redis.Redis,
    plan: Scenario,
    *,
    numbers: int,
    lease_seconds: int,
    match_window: int = 3600,
    rest_seconds: int | None = None,
    allocation: str = "lru",
    policy: str = "reuse_oldest",
    pool_id: int | None = None,
    autosize: Autosize | None = None,
) -> Result:
    """Replay one scenario through a pool; the pool's Redis keys are deleted afterwards.

    With ``autosize`` the pool starts with ``numbers`` and sizes itself each midnight."""
    traffic = plan.traffic
    rest = match_window if rest_seconds is None else rest_seconds
    pick = random.Random(traffic.seed * 7919 + numbers)  # random allocation's own draws
    pool_id = pool_id or 1_000_000 + secrets.randbelow(1_000_000_000)
    store = PoolStore(client)
    pool_numbers = [f"+1555{7000000 + i:07d}" for i in range(numbers)]
    result = Result(numbers, lease_seconds, rest, allocation, policy, traffic.seed)
    result.visitors = plan.visitors
    result.autosize = autosize is not None
    sizer = _Sizer(autosize, store, pool_id, pool_numbers) if autosize else None
    midnight = EPOCH + DAY
    skew = {True: traffic.clock_skew_seconds, False: 0.0}
    shown: dict[int, tuple[str | None, str, str]] = {}  # visitor -> (number, session, status)
    last_active: dict[int, float] = {}
    visitor_of: dict[str, int] = {}
    made: dict[int, tuple[str | None, str]] = {}  # call index -> (number, status)
    earlier: dict[str, list[EarlierCall]] = {}
    visit_of_call: dict[int, int | None] = {}
    for now, _, kind, payload in plan.events:
        while sizer is not None and now >= midnight:
            sizer.day(midnight, lease_seconds, match_window, rest, result)
            midnight += DAY
        if kind == "lease":
            visitor, session, campaign, first, node, intent = payload
            if traffic.on_intent and not intent and visitor not in shown:
                continue  # no number yet: the page shows the business number
            at = now if traffic.one_clock else now + skew[node]
            frac = repr(pick.random()) if allocation == "random" else allocation
            (lease,) = store.lease_all(
                [
                    LeaseRequest(
                        pool_id,
                        session,
                        pool_numbers,
                        lease_seconds,
                        policy,
                        match_window + DAY,
                        allocation=frac,
                        rest_seconds=rest,
                        has_source_number=campaign and traffic.burst_has_source_number,
                    )
                ],
                now=at,
            )
            visitor_of[session] = visitor
            if visitor >= 0:
                if first and 12 <= (now % DAY) / 3600 < 16:
                    result.peak_visitors += 1
                    result.peak_overflowed += lease.status not in ("new", "renewed")
                label = "source" if lease.status == "source" else None
                shown[visitor] = (lease.number, session, label or lease.status)
                last_active[visitor] = now
            continue
        index, call = payload
        t_call = now if traffic.one_clock else now + skew[index % 2 == 0]
        number, status, truth_visitor = None, "", call.visitor
        if call.dials == "shown":
            number, _, status = shown.get(call.visitor, (None, "", ""))
        elif call.dials == "redial":
            number, status = made.get(call.redials, (None, ""))
        else:
            number, status = pick.choice(pool_numbers), "new"
        label, named = _judge(
            store,
            pool_id,
            number,
            status,
            t_call,
            match_window,
            call,
            earlier,
            visit_of_call,
            visitor_of,
            index,
        )
        made[index] = (number, status)
        visit_of_call[index] = named
        if call.caller and number and status != "source":
            earlier.setdefault(call.caller, []).append(EarlierCall(index, t_call, number, 1))
        truth = _truth(truth_visitor, named)
        result.table[(label, truth)] += 1
        result.kinds[(call.kind, truth)] += 1
        holder = shown.get(truth_visitor) if truth_visitor is not None else None
        if (
            call.kind == "visitor"
            and holder is not None
            and holder[0] is not None
            and holder[2] in ("new", "renewed", "shared")
            and now < last_active[truth_visitor] + lease_seconds
        ):
            result.within[truth] += 1
            result.within_labels[(label, truth)] += 1
            result.weeks.setdefault(int((now - EPOCH) // WEEK), Counter())[truth] += 1
    days = {
        time.strftime("%Y-%m-%d", time.gmtime(EPOCH + d * DAY))
        for d in range(int(traffic.days) + 12)
    }
    result.hours = {day: store.hours(pool_id, day) for day in sorted(days)}
    result.hours = {day: h for day, h in result.hours.items() if h}
    store.forget(pool_id, sorted(days))
    return result


def _judge(
    store, pool_id, number, status, t, window, call, earlier, visit_of_call, visitor_of, index
):
    """The label the real code gives a call, and the visitor it names (or None)."""
    if status == "source":  # the source's own number: a source, not a person
        return "source", None
    if number is None:
        return "business", None
    found = attribute(store.records(pool_id, number), t, window)
    if call.caller is not None:
        prior = repeat_of(
            found,
            earlier.get(call.caller, []),
            number=number,
            pool_id=1,
            t=t,
            window=REPEAT_WINDOW,
        )
        if prior is not None:
            return "repeat", visit_of_call.get(prior.id)
    named = visitor_of.get(found.session) if found.session else None
    return found.confidence, named


def _truth(visitor: int | None, named: int | None) -> str:
    """How a call's attribution compares with who made it."""
    if visitor is None:
        return "no visit"
    if named is None:
        return "missed"
    return "right" if named == visitor else "wrong"


def svg_plot(rows: list[dict], path: str) -> None:
    """Write within-lease accuracy against pool size, one line per lease/allocation."""
    width, height, pad = 640, 400, 50
    sizes = sorted({r["numbers"] for r in rows})
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
        "Calls within the lease attributed to the right visitor, by pool size</text>",
        f'<line x1="{pad}" y1="{y(0)}" x2="{width - pad}" y2="{y(0)}" stroke="#333"/>',
        f'<line x1="{pad}" y1="{y(0)}" x2="{pad}" y2="{y(1)}" stroke="#333"/>',
    ]
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{pad - 6}" y="{y(v) + 4}" text-anchor="end">{v:.0%}</text>')
    for n in sizes:
        parts.append(f'<text x="{x(n)}" y="{height - pad + 16}" text-anchor="middle">{n}</text>')
    series: dict[tuple[int, str], list[dict]] = {}
    for r in rows:
        series.setdefault((r["lease_seconds"], r["allocation"]), []).append(r)
    for i, ((lease, alloc), points) in enumerate(sorted(series.items())):
        colour = colours[i % len(colours)]
        points.sort(key=lambda r: r["numbers"])
        line = " ".join(f"{x(r['numbers']):.1f},{y(r['right_within']):.1f}" for r in points)
        dash = ' stroke-dasharray="5,4"' if alloc == "random" else ""
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        parts.append(
            f'<text x="{width - pad - 150}" y="{y(0) - 16 * (i + 1)}" fill="{colour}">'
            f"lease {lease // 60} min, {alloc}</text>"
        )
    parts.append("</svg>")
    with open(path, "w") as fh:
        fh.write("\n".join(parts))
