"""Reports over SQL: the source report, calls per day, confidence, pool health.

Every function takes a database session, the client ids the caller may see (its tenant
scope: never widen it here) and a :class:`Period`, whose days are the client's local days.

Rows are fetched with one ``select`` each and grouped in Python. Landing pages and
referrer domains need URL parsing that SQLite and PostgreSQL do not share, and one
grouping path for every dimension keeps the numbers consistent between dimensions. A
month of calls for an agency of forty clients is tens of thousands of narrow rows.

Attribution touch:

- ``last`` (default): each call is credited to the visit that led to it, the visit
  snapshot its attribution found (source, medium, campaign, keyword, landing page and
  referrer of that visit). Calls to fixed source-level numbers carry their source and
  medium only.
- ``first``: each call is credited to the visit behind the *first attributed call ever*
  made by the same caller number to the same client. Ringtrail keeps no cross-visit
  visitor id (by design: see the privacy rules), so this is first touch as far as calls
  can tell, not the visitor's first visit to the site. Calls without an identifiable
  caller keep their own visit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ringtrail.phones import is_withheld
from ringtrail.reports import live
from ringtrail.reports.sizing import (
    DAYS_SHARE,
    erlang_b,
    hold_seconds,
    observed_hold,
    peak_arrivals,
    recommend,
)
from ringtrail.storage.models import (
    Call,
    Client,
    DailyVisits,
    Pool,
    PoolHour,
    Site,
    TrackingNumber,
    VisitSnapshot,
)
from ringtrail.terms import CONFIDENCES
from ringtrail.tracking.visit_counts import VisitKey

DIMENSIONS = {
    "source": "Source",
    "medium": "Medium",
    "source_medium": "Source / medium",
    "campaign": "Campaign",
    "keyword": "Keyword",
    "landing_page": "Landing page",
    "referrer_domain": "Referrer domain",
}
# Dimensions that visits are counted by, so visits and the share that called mean something.
VISIT_DIMENSIONS = ("source", "medium", "source_medium", "campaign", "keyword", "landing_page")
TOUCHES = ("last", "first")
NOT_SET = "(not set)"
NO_VISIT = "(no visit)"
DEFAULT_OVERFLOW = 0.01
MAX_PERIOD_DAYS = 400


def zone(name: str | None) -> ZoneInfo:
    """The client's timezone, or UTC when it is unset or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Period:
    """Local days ``start`` … ``end`` (both included) in one timezone."""

    start: date
    end: date
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the period ends before it starts")
        if (self.end - self.start).days >= MAX_PERIOD_DAYS:
            raise ValueError(f"a period is at most {MAX_PERIOD_DAYS} days")

    @classmethod
    def last_days(cls, days: int, tz: ZoneInfo, now: datetime | None = None) -> Period:
        """The ``days`` local days up to and including today."""
        today = (now or datetime.now(UTC)).astimezone(tz).date()
        return cls(today - timedelta(days=days - 1), today, tz)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC instants [from, to): local midnight to local midnight."""
        lo = datetime.combine(self.start, time(0), self.tz)
        hi = datetime.combine(self.end + timedelta(days=1), time(0), self.tz)
        return lo.astimezone(UTC), hi.astimezone(UTC)

    def days(self) -> list[date]:
        """Every local day of the period, in order."""
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def local_day(self, when: datetime) -> date:
        """The local day of a UTC instant."""
        return when.astimezone(self.tz).date()

    def within(self, tz: ZoneInfo) -> Period:
        """The same local days in another timezone."""
        return Period(self.start, self.end, tz)


# Client id -> its timezone: pages across clients apply the period in each client's days.
Timezones = Mapping[int, ZoneInfo]


def identifiable(caller: str | None) -> bool:
    """Whether a caller id names one caller (anonymous and withheld ids do not)."""
    return not is_withheld(caller)


# Who called, for counting callers: the keyed hash when there is one (every call since
# hashes were introduced, and the only trace of the caller in HIPAA mode), else the
# number. A hash is 64 hex digits and a number starts with "+" or a letter, so the two
# never collide.
CALLER_KEY = func.coalesce(Call.caller_hash, Call.caller_number)


def caller_key(call: Call) -> str | None:
    """The caller's identity for counting, or None for a caller who cannot be told apart.

    A call with neither a hash nor a usable number (anonymous, withheld) counts as a
    call, never as a unique or first-time caller.
    """
    if call.caller_hash:
        return call.caller_hash
    return call.caller_number if identifiable(call.caller_number) else None


def path_of(url: str) -> str:
    """The path of a URL, "/" for an empty one; the query (and its click ids) is dropped."""
    try:
        return urlsplit(url).path[:300] or "/"
    except ValueError:
        return NOT_SET


def domain_of(url: str) -> str:
    """The referrer's host without "www."; "(direct)" when there was no referrer."""
    if not url:
        return "(direct)"
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    return host.lower().removeprefix("www.")[:200] or NOT_SET


# ---------------------------------------------------------------------------- calls


@dataclass
class CallFacts:
    """What the source report needs to know about one call."""

    id: int
    client_id: int
    started_at: datetime
    caller: str | None
    answered: bool
    talk_seconds: int | None
    confidence: str
    first_ever: bool  # this is the caller's first call to the client
    dims: dict[str, str]
    has_click_id: bool


def _visit_dims(key: VisitKey) -> dict[str, str]:
    """The dimensions of a counted visit, labelled as calls' are."""
    source = key.source or NOT_SET
    medium = key.medium or NOT_SET
    return {
        "source": source,
        "medium": medium,
        "source_medium": f"{source} / {medium}",
        "campaign": key.campaign or NOT_SET,
        "keyword": key.keyword or NOT_SET,
        "landing_page": key.landing_page or NOT_SET,
    }


def _dims(call_source: str, call_medium: str, snap: VisitSnapshot | None) -> dict[str, str]:
    source = call_source or NOT_SET
    medium = call_medium or NOT_SET
    out = {"source": source, "medium": medium, "source_medium": f"{source} / {medium}"}
    if snap is None:
        out.update(campaign=NOT_SET, keyword=NOT_SET, landing_page=NO_VISIT)
        out["referrer_domain"] = NO_VISIT
    else:
        out["campaign"] = snap.campaign or NOT_SET
        out["keyword"] = snap.term or NOT_SET
        out["landing_page"] = path_of(snap.landing_url)
        out["referrer_domain"] = domain_of(snap.referrer)
    return out


def _in_period(query, period: Period, timezones: Timezones | None = None):
    """``query`` of calls narrowed to the period, in each client's own days if given."""
    if not timezones:
        lo, hi = period.bounds
        return query.where(Call.started_at >= lo, Call.started_at < hi)
    groups: dict[str, list[int]] = defaultdict(list)
    for client_id, tz in timezones.items():
        groups[tz.key].append(client_id)
    windows = []
    for key, ids in sorted(groups.items()):
        lo, hi = period.within(ZoneInfo(key)).bounds
        windows.append(
            and_(Call.client_id.in_(sorted(ids)), Call.started_at >= lo, Call.started_at < hi)
        )
    return query.where(or_(*windows))


def call_facts(
    db: Session, client_ids: Sequence[int], period: Period, touch: str = "last"
) -> list[CallFacts]:
    """Every call of the period in scope, with its dimensions under ``touch``."""
    if touch not in TOUCHES:
        raise ValueError(f"touch must be one of {', '.join(TOUCHES)}")
    if not client_ids:
        return []
    firsts = (
        select(
            Call.client_id,
            CALLER_KEY.label("caller"),
            func.min(Call.started_at).label("first_at"),
        )
        .where(Call.client_id.in_(client_ids), CALLER_KEY.is_not(None))
        .group_by(Call.client_id, CALLER_KEY)
        .subquery()
    )
    query = _in_period(
        select(Call, VisitSnapshot, firsts.c.first_at)
        .outerjoin(VisitSnapshot, Call.visit_id == VisitSnapshot.id)
        .outerjoin(
            firsts,
            (firsts.c.client_id == Call.client_id) & (firsts.c.caller == CALLER_KEY),
        )
        .where(Call.client_id.in_(client_ids), Call.blocked.is_(False)),  # refused: apart
        period,
    ).order_by(Call.started_at, Call.id)
    out = []
    for call, snap, first_at in db.execute(query).all():
        caller = caller_key(call)
        out.append(
            CallFacts(
                id=call.id,
                client_id=call.client_id,
                started_at=call.started_at,
                caller=caller,
                answered=bool(call.answered),
                talk_seconds=call.talk_seconds,
                confidence=call.confidence,
                first_ever=caller is not None
                and first_at is not None
                and call.started_at <= first_at,
                dims=_dims(call.source, call.medium, snap),
                has_click_id=bool(snap is not None and snap.click_ids),
            )
        )
    if touch == "first":
        _apply_first_touch(db, out, client_ids, period)
    return out


def _apply_first_touch(
    db: Session, facts: list[CallFacts], client_ids: Sequence[int], period: Period
) -> None:
    """Replace each call's dimensions with those of its caller's first attributed call."""
    if not any(f.caller for f in facts):
        return
    attributed = Call.source != ""
    # The period's callers, as a subquery: no bind parameter per caller.
    ours = (
        _in_period(
            select(Call.client_id, CALLER_KEY.label("caller")).where(
                Call.client_id.in_(client_ids)
            ),
            period,
        )
        .distinct()
        .subquery()
    )
    earliest = (
        select(Call.client_id, CALLER_KEY.label("caller"), func.min(Call.started_at).label("t"))
        .join(ours, (ours.c.client_id == Call.client_id) & (ours.c.caller == CALLER_KEY))
        .where(attributed)
        .group_by(Call.client_id, CALLER_KEY)
        .subquery()
    )
    rows = db.execute(
        select(Call, VisitSnapshot)
        .join(
            earliest,
            (earliest.c.client_id == Call.client_id)
            & (earliest.c.caller == CALLER_KEY)
            & (earliest.c.t == Call.started_at),
        )
        .outerjoin(VisitSnapshot, Call.visit_id == VisitSnapshot.id)
        .where(attributed)
        .order_by(Call.id)
    ).all()
    first: dict[tuple[int, str], tuple[dict[str, str], bool]] = {}
    for call, snap in rows:
        first.setdefault(
            (call.client_id, call.caller_hash or call.caller_number),
            (_dims(call.source, call.medium, snap), bool(snap is not None and snap.click_ids)),
        )
    for f in facts:
        if f.caller and (f.client_id, f.caller) in first:
            f.dims, f.has_click_id = first[(f.client_id, f.caller)]


# ---------------------------------------------------------------------------- source report


@dataclass
class SourceRow:
    """One row of the source report."""

    label: str
    calls: int = 0
    unique_callers: int = 0
    first_time_callers: int = 0
    answered: int = 0
    talk_seconds: int = 0
    talked: int = 0  # answered calls whose talk time is known
    with_click_id: int = 0
    visits: int | None = None
    visits_called: int | None = None  # of those visits, how many led to a call

    @property
    def answered_rate(self) -> float | None:
        """Answered calls over calls."""
        return self.answered / self.calls if self.calls else None

    @property
    def average_duration(self) -> float | None:
        """Mean talk time of the answered calls, in seconds."""
        return self.talk_seconds / self.talked if self.talked else None

    @property
    def calls_per_visit(self) -> float | None:
        """Calls over visits counted for the same value (may exceed 1: a visit may call
        twice, and calls to source-level numbers have no counted visit)."""
        return self.calls / self.visits if self.visits else None

    @property
    def conversion_rate(self) -> float | None:
        """Visits that called: the share of the period's visits that led to a call."""
        if not self.visits or self.visits_called is None:
            return None
        return min(self.visits_called, self.visits) / self.visits  # see source_report


@dataclass
class SourceReport:
    """The source report: one row per value of the dimension, and a total."""

    dimension: str
    touch: str
    period: Period
    rows: list[SourceRow]
    total: SourceRow


def _fill(row: SourceRow, facts: Iterable[CallFacts]) -> SourceRow:
    callers: set[tuple[int, str]] = set()
    new_callers: set[tuple[int, str]] = set()
    for f in facts:
        row.calls += 1
        if f.caller:
            callers.add((f.client_id, f.caller))
            if f.first_ever:
                new_callers.add((f.client_id, f.caller))
        if f.answered:
            row.answered += 1
            if f.talk_seconds is not None:
                row.talk_seconds += f.talk_seconds
                row.talked += 1
        row.with_click_id += f.has_click_id
    row.unique_callers = len(callers)
    row.first_time_callers = len(new_callers)
    return row


def _scope_pools(db: Session, client_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(pool id, site id) of every pool of the clients' sites."""
    return [
        (pool_id, site_id)
        for pool_id, site_id in db.execute(
            select(Pool.id, Pool.site_id)
            .join(Site, Site.id == Pool.site_id)
            .where(Site.client_id.in_(client_ids))
            .order_by(Pool.id)
        ).all()
    ]


def _utc_days(period: Period) -> tuple[datetime, datetime]:
    """The period's days read as UTC days, as visits are counted."""
    lo = datetime.combine(period.start, time(0), UTC)
    return lo, datetime.combine(period.end + timedelta(days=1), time(0), UTC)


def visit_counts(
    db: Session, client_ids: Sequence[int], period: Period, dimension: str
) -> dict[str, int]:
    """Visits by ``dimension`` in the period: SQL, merged with Redis's live counts.

    Visits are counted per UTC day (the lease script runs in UTC), so a period's first
    and last day are matched by date, not to the hour. For the days Redis still holds,
    each count is the larger of SQL's and Redis's (:mod:`ringtrail.reports.live`), so a
    visit is in the report the moment it is counted, as its call is.
    """
    if dimension not in VISIT_DIMENSIONS or not client_ids:
        return {}
    counts: dict[tuple[int, date, VisitKey], int] = {}
    for site_id, day, source, medium, campaign, keyword, landing, visits in db.execute(
        select(
            DailyVisits.site_id,
            DailyVisits.day,
            DailyVisits.source,
            DailyVisits.medium,
            DailyVisits.campaign,
            DailyVisits.keyword,
            DailyVisits.landing_page,
            DailyVisits.visits,
        )
        .join(Site, Site.id == DailyVisits.site_id)
        .where(
            Site.client_id.in_(client_ids),
            DailyVisits.day >= period.start,
            DailyVisits.day <= period.end,
        )
    ).all():
        key = (site_id, day, VisitKey(source, medium, campaign, keyword, landing))
        counts[key] = counts.get(key, 0) + int(visits or 0)
    days = live.live_days(period.start, period.end)
    if days and (now := live.visit_counts(_scope_pools(db, client_ids), days)):
        for key, visits in now.items():
            counts[key] = max(counts.get(key, 0), visits)
    out: Counter[str] = Counter()
    for (_site, _day, key), visits in counts.items():
        out[_visit_dims(key)[dimension]] += visits
    return dict(out)


def visits_that_called(
    db: Session, client_ids: Sequence[int], period: Period, dimension: str
) -> dict[str, int]:
    """Of the visits counted in the period, how many led to a call (by now), by
    ``dimension`` of the visit itself. Read on the same UTC days as the counts, so it is
    a part of them: the rate it gives never passes 100 %."""
    if dimension not in VISIT_DIMENSIONS or not client_ids:
        return {}
    lo, hi = _utc_days(period)
    called = select(Call.visit_id).where(Call.visit_id.is_not(None)).distinct().subquery()
    out: Counter[str] = Counter()
    for snap in db.scalars(
        select(VisitSnapshot)
        .join(Site, Site.id == VisitSnapshot.site_id)
        .join(called, called.c.visit_id == VisitSnapshot.id)
        .where(
            Site.client_id.in_(client_ids),
            VisitSnapshot.started_at >= lo,
            VisitSnapshot.started_at < hi,
        )
    ):
        key = VisitKey(
            snap.source, snap.medium, snap.campaign, snap.term, path_of(snap.landing_url)
        )
        out[_visit_dims(key)[dimension]] += 1
    return dict(out)


def source_report(
    db: Session,
    client_ids: Sequence[int],
    period: Period,
    dimension: str = "source",
    touch: str = "last",
) -> SourceReport:
    """Calls by ``dimension`` with callers, answer rate, duration, click ids and visits."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}")
    facts = call_facts(db, client_ids, period, touch)
    groups: dict[str, list[CallFacts]] = defaultdict(list)
    for f in facts:
        groups[f.dims[dimension]].append(f)
    visits = visit_counts(db, client_ids, period, dimension)
    called = visits_that_called(db, client_ids, period, dimension)
    counted = dimension in VISIT_DIMENSIONS
    rows = []
    for label in set(groups) | set(visits):
        row = _fill(SourceRow(label), groups.get(label, ()))
        if counted:
            row.visits = visits.get(label, 0)
            # Never more than were counted: a count Redis lost before its copy to SQL
            # must not make a rate above 100 %.
            row.visits_called = min(called.get(label, 0), row.visits)
        rows.append(row)
    rows.sort(key=lambda r: (-r.calls, -(r.visits or 0), r.label))
    total = _fill(SourceRow("Total"), facts)
    if counted:
        total.visits = sum(visits.values())
        total.visits_called = sum(r.visits_called or 0 for r in rows)
    return SourceReport(dimension, touch, period, rows, total)


# ---------------------------------------------------------------------------- series


@dataclass(frozen=True)
class DayCount:
    """Calls on one local day."""

    day: date
    calls: int
    answered: int


def calls_per_day(db: Session, client_ids: Sequence[int], period: Period) -> list[DayCount]:
    """Calls and answered calls per local day, every day of the period (zero-filled)."""
    calls: Counter[date] = Counter()
    answered: Counter[date] = Counter()
    if client_ids:
        query = _in_period(
            select(Call.started_at, Call.answered).where(Call.client_id.in_(client_ids)), period
        )
        for started_at, was_answered in db.execute(query).all():
            day = period.local_day(started_at)
            calls[day] += 1
            answered[day] += bool(was_answered)
    return [DayCount(d, calls[d], answered[d]) for d in period.days()]


def calls_by_confidence(
    db: Session, client_ids: Sequence[int], period: Period, pool_ids: Sequence[int] | None = None
) -> dict[str, int]:
    """Calls per attribution confidence, every confidence present (zero-filled)."""
    out = dict.fromkeys(CONFIDENCES, 0)
    if not client_ids:
        return out
    query = _in_period(
        select(Call.confidence, func.count()).where(Call.client_id.in_(client_ids)), period
    ).group_by(Call.confidence)
    if pool_ids is not None:
        query = query.where(Call.pool_id.in_(pool_ids))
    for confidence, count in db.execute(query).all():
        out[confidence] = out.get(confidence, 0) + count
    return out


# ---------------------------------------------------------------------------- pool health


@dataclass
class PoolHealth:
    """One pool's load in a period, and the pool size Erlang-B recommends for it.

    - ``peak_leases``: the most numbers leased at once in any hour (counted live by the
      lease script).
    - ``average_leases``: seconds of leases held, over the seconds observed; by Little's
      law the mean number of numbers held. A lease's seconds count in the hour it ended.
    - ``peak_arrivals``: the arrival rate sized for: each day's busiest hour (new leases
      plus exhaustions: every visitor who wanted a number then, served or not), at the
      ``DAYS_SHARE`` quantile across the period's days (:func:`sizing.peak_arrivals`).
    - ``hold_seconds``: mean time a number is kept from others: with a visitor (the
      visit plus the lease time after its last activity, from ended leases; without any,
      ``lease_seconds`` + ``DEFAULT_VISIT_SECONDS``), then resting (``rest_seconds``).
    - ``recommended``: the smallest pool that turns away at most ``overflow`` of visitors
      arriving at the peak rate, each holding a number for ``hold_seconds``.
    - ``rest_cost``: how many of those numbers the rest accounts for.
    - ``days_met``: the share of the period's days whose busiest hour the recommended
      size serves within the target.
    """

    pool_id: int
    name: str
    site: str
    client: str
    client_id: int
    size: int
    lease_seconds: int
    policy: str
    hours: float
    peak_leases: int
    average_leases: float | None
    new_leases: int
    exhausted: int
    peak_hour: datetime | None
    peak_arrivals: int
    hold_seconds: float
    hold_observed: bool
    calls: int
    confidence: dict[str, int]
    overflow: float
    recommended: int
    load: float  # offered load at the peak, in Erlangs
    rest_seconds: int = 0
    rest_cost: int = 0
    days: int = 0
    days_met: float | None = None
    days_share: float = DAYS_SHARE

    @property
    def peak_utilisation(self) -> float | None:
        """Peak concurrent leases over the pool size."""
        return self.peak_leases / self.size if self.size else None

    @property
    def average_utilisation(self) -> float | None:
        """Average concurrent leases over the pool size."""
        if not self.size or self.average_leases is None:
            return None
        return self.average_leases / self.size

    @property
    def calls_per_number_hour(self) -> float | None:
        """Calls per tracking number per hour observed."""
        if not self.size or not self.hours:
            return None
        return self.calls / (self.size * self.hours)

    @property
    def expected_overflow(self) -> float:
        """Share of peak-hour visitors the current size turns away, by Erlang-B."""
        return erlang_b(self.size, self.load)

    @property
    def change(self) -> int:
        """Numbers to add (positive) or that could go (negative) to meet the target."""
        return self.recommended - self.size


@dataclass
class HourLoad:
    """One pool's load in one hour, as :class:`PoolHour` holds it (or Redis, before the
    copy)."""

    hour: datetime
    new_leases: int = 0
    exhausted: int = 0
    peak_leases: int = 0
    held_seconds: int = 0
    ended_leases: int = 0


# The lease script's hourly field names, and the column each is copied to.
HOUR_FIELDS = {
    "new": "new_leases",
    "exhausted": "exhausted",
    "peak": "peak_leases",
    "held": "held_seconds",
    "ended": "ended_leases",
}


def _hour_loads(
    db: Session, pool_ids: Sequence[int], lo: datetime, hi: datetime
) -> dict[int, list[HourLoad]]:
    """Each pool's hours in [lo, hi): SQL, merged with Redis's live counts (each field
    the larger of the two, as the copy job does), in order."""
    loads: dict[tuple[int, datetime], HourLoad] = {}
    for row in db.scalars(
        select(PoolHour).where(
            PoolHour.pool_id.in_(pool_ids), PoolHour.hour >= lo, PoolHour.hour < hi
        )
    ):
        loads[(row.pool_id, row.hour)] = HourLoad(
            row.hour, *(getattr(row, c) for c in HOUR_FIELDS.values())
        )
    days = live.live_days(lo.date(), (hi - timedelta(seconds=1)).date())
    if days and (now := live.pool_hours(pool_ids, days)):
        for (pool_id, hour), fields in now.items():
            if not lo <= hour < hi:
                continue
            load = loads.setdefault((pool_id, hour), HourLoad(hour))
            for field, column in HOUR_FIELDS.items():
                if field in fields:
                    setattr(load, column, max(getattr(load, column), fields[field]))
    out: dict[int, list[HourLoad]] = defaultdict(list)
    for (pool_id, _hour), load in sorted(loads.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        out[pool_id].append(load)
    return out


def _floor_hour(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def pool_health(
    db: Session,
    client_ids: Sequence[int],
    period: Period,
    overflow: float = DEFAULT_OVERFLOW,
    now: datetime | None = None,
    pool_ids: Sequence[int] | None = None,
    timezones: Timezones | None = None,
) -> list[PoolHealth]:
    """Load, utilisation, exhaustion, calls and a recommended size for each pool in scope.

    With ``timezones``, each pool's period is its client's local days.
    """
    if not 0 < overflow < 1:
        raise ValueError("overflow target must be between 0 and 1")
    if not client_ids:
        return []
    now = now or datetime.now(UTC)
    timezones = timezones or {}
    spans = [period.within(tz).bounds for tz in timezones.values()] or [period.bounds]
    lo, hi = min(b[0] for b in spans), max(b[1] for b in spans)
    query = (
        select(Pool, Site.name, Client.name, Client.id)
        .join(Site, Site.id == Pool.site_id)
        .join(Client, Client.id == Site.client_id)
        .where(Client.id.in_(client_ids))
        .order_by(Client.name, Site.name, Pool.id)
    )
    if pool_ids is not None:
        query = query.where(Pool.id.in_(pool_ids))
    pools = db.execute(query).all()
    ids = [p.id for p, *_ in pools]
    if not ids:
        return []
    sizes = dict(
        db.execute(
            select(TrackingNumber.pool_id, func.count())
            .where(
                TrackingNumber.pool_id.in_(ids),
                TrackingNumber.role == "pool",
                TrackingNumber.active.is_(True),
                TrackingNumber.retiring_since.is_(None),
            )
            .group_by(TrackingNumber.pool_id)
        ).all()
    )
    hours = _hour_loads(db, ids, lo, hi)
    confidence: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CONFIDENCES, 0))
    for pool_id, conf, count in db.execute(
        _in_period(
            select(Call.pool_id, Call.confidence, func.count()).where(
                Call.pool_id.in_(ids), Call.client_id.in_(client_ids)
            ),
            period,
            timezones,
        ).group_by(Call.pool_id, Call.confidence)
    ):
        confidence[pool_id][conf] = confidence[pool_id].get(conf, 0) + count

    out = []
    for pool, site_name, client_name, client_id in pools:
        p_lo, p_hi = period.within(timezones.get(client_id, period.tz)).bounds
        rows = [r for r in hours.get(pool.id, []) if p_lo <= r.hour < p_hi]
        # Hours observed: from when the pool (or its first counted hour) began, to now.
        began = _floor_hour(pool.created_at)
        if rows:
            began = min(began, rows[0].hour)
        span_start = max(p_lo, began)
        span_end = min(p_hi, _floor_hour(now) + timedelta(hours=1))
        span = max(0.0, (span_end - span_start).total_seconds() / 3600)
        held = sum(r.held_seconds for r in rows)
        ended = sum(r.ended_leases for r in rows)
        busiest = max(rows, key=lambda r: (r.new_leases + r.exhausted, r.hour), default=None)
        tz = timezones.get(client_id, period.tz)
        day_peaks = _busiest_by_day(rows, span_start, span_end, tz)
        rate = peak_arrivals(day_peaks)
        kept = observed_hold(held, ended, pool.lease_seconds)
        hold = hold_seconds(kept, pool.rest)
        load = rate / 3600.0 * hold
        size = recommend(rate, hold, overflow)
        by_conf = confidence[pool.id]
        out.append(
            PoolHealth(
                pool_id=pool.id,
                name=pool.name or f"Pool {pool.id}",
                site=site_name,
                client=client_name,
                client_id=client_id,
                size=int(sizes.get(pool.id, 0)),
                lease_seconds=pool.lease_seconds,
                policy=pool.exhaustion_policy,
                hours=span,
                peak_leases=max((r.peak_leases for r in rows), default=0),
                average_leases=held / (span * 3600) if span else None,
                new_leases=sum(r.new_leases for r in rows),
                exhausted=sum(r.exhausted for r in rows),
                peak_hour=busiest.hour if busiest and rate else None,
                peak_arrivals=rate,
                hold_seconds=hold,
                hold_observed=bool(ended),
                calls=sum(by_conf.values()),
                confidence=dict(by_conf),
                overflow=overflow,
                recommended=size,
                load=load,
                rest_seconds=pool.rest,
                rest_cost=size - recommend(rate, kept, overflow),
                days=len(day_peaks),
                days_met=sum(erlang_b(size, c / 3600.0 * hold) <= overflow for c in day_peaks)
                / len(day_peaks)
                if day_peaks
                else None,
            )
        )
    return out


def _busiest_by_day(
    rows: Sequence[HourLoad], start: datetime, end: datetime, tz: ZoneInfo
) -> list[int]:
    """Each local day's busiest hour of arrivals, for every day of the span (a day without
    a counted hour had none)."""
    peaks: dict[date, int] = {}
    day = start.astimezone(tz).date()
    while datetime.combine(day, time(), tz) < end:
        peaks[day] = 0
        day += timedelta(days=1)
    for r in rows:
        local = r.hour.astimezone(tz).date()
        if local in peaks:
            peaks[local] = max(peaks[local], r.new_leases + r.exhausted)
    return list(peaks.values())


# ---------------------------------------------------------------------------- overview


@dataclass
class ClientSummary:
    """One client's line on the agency overview, in its own timezone."""

    client_id: int
    name: str
    timezone: str
    calls: int = 0
    answered: int = 0
    first_time_callers: int = 0
    with_click_id: int = 0
    attributed: int = 0  # exact or late
    top_source: str | None = None
    pools_short: int = 0  # pools whose recommended size exceeds their size
    hipaa: bool = False  # the client is in HIPAA mode: the overview says so

    @property
    def answered_rate(self) -> float | None:
        """Answered calls over calls."""
        return self.answered / self.calls if self.calls else None

    @property
    def attributed_rate(self) -> float | None:
        """Calls tied to a visit with confidence exact or late, over calls."""
        return self.attributed / self.calls if self.calls else None


def overview(
    db: Session,
    clients: Sequence[Client],
    start: date,
    end: date,
    overflow: float = DEFAULT_OVERFLOW,
    now: datetime | None = None,
) -> list[ClientSummary]:
    """A summary per client for local days ``start`` … ``end``, each in its own timezone."""
    out = []
    for client in clients:
        period = Period(start, end, zone(client.timezone))
        facts = call_facts(db, [client.id], period)
        row = ClientSummary(client.id, client.name, client.timezone, hipaa=bool(client.hipaa))
        filled = _fill(SourceRow(client.name), facts)
        row.calls, row.answered = filled.calls, filled.answered
        row.first_time_callers, row.with_click_id = filled.first_time_callers, filled.with_click_id
        row.attributed = sum(f.confidence in ("exact", "late", "repeat") for f in facts)
        sources = Counter(f.dims["source"] for f in facts)
        row.top_source = sources.most_common(1)[0][0] if sources else None
        row.pools_short = sum(
            h.change > 0 for h in pool_health(db, [client.id], period, overflow, now)
        )
        out.append(row)
    return out
