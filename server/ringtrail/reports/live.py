"""Today's counters, read live from Redis and merged with what SQL already holds.

The lease script counts visits and each pool's hourly load in Redis; a job copies them
to SQL every five minutes (:mod:`ringtrail.reports.counters`). Calls reach SQL at once.
Read from SQL alone, a report right after some traffic showed calls without their visits
("calls per visit 1700 %"), and pool health recommended a size from load it had not yet
seen. So reports read the days Redis still holds (today and yesterday, UTC) from Redis
too, and take the larger of the two for each count: the same rule the copy applies, so
a report reads now exactly what SQL will hold after the next copy.

Without an app (a script over SQL alone) or with Redis down, reports fall back to SQL
alone: figures a few minutes old beat a failed page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import redis

from ringtrail.context import has_app
from ringtrail.tracking.pool import PoolStore, get_pools
from ringtrail.tracking.visit_counts import VisitKey

log = logging.getLogger(__name__)
LIVE_DAYS = 2  # today and yesterday (UTC): what the copy job still rewrites


def store() -> PoolStore | None:
    """The pool store when there is an app to read it from, else None."""
    return get_pools() if has_app() else None


def live_days(start: date, end: date, now: datetime | None = None) -> list[date]:
    """The UTC days of ``start`` … ``end`` whose counters Redis may still be ahead on."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    days = [today - timedelta(days=i) for i in range(LIVE_DAYS)]
    return [d for d in days if start <= d <= end]


def visit_counts(
    pools: Iterable[tuple[int, int]], days: Iterable[date]
) -> dict[tuple[int, date, VisitKey], int] | None:
    """Visits counted in Redis, by (site, day, key), for ``(pool id, site id)`` pairs;
    None when Redis does not answer."""
    live = store()
    if live is None:
        return None
    out: dict[tuple[int, date, VisitKey], int] = {}
    try:
        for day in days:
            for pool_id, site_id in pools:
                for key, visits in live.visit_counts(pool_id, day.isoformat()).items():
                    out[(site_id, day, key)] = out.get((site_id, day, key), 0) + visits
    except (redis.RedisError, OSError):
        log.warning("reports: Redis did not answer; visit counts from SQL only")
        return None
    return out


def pool_hours(
    pool_ids: Iterable[int], days: Iterable[date]
) -> dict[tuple[int, datetime], dict[str, int]] | None:
    """Each pool's hourly load counted in Redis, by (pool, hour start in UTC), with the
    lease script's field names (new, exhausted, peak, held, ended); None without Redis."""
    live = store()
    if live is None:
        return None
    out: dict[tuple[int, datetime], dict[str, int]] = {}
    try:
        for day in days:
            for pool_id in pool_ids:
                for field, value in live.hours(pool_id, day.isoformat()).items():
                    name, _, hour = field.partition(":")
                    if hour.isdigit():
                        start = datetime(day.year, day.month, day.day, int(hour), tzinfo=UTC)
                        out.setdefault((pool_id, start), {})[name] = int(value)
    except (redis.RedisError, OSError):
        log.warning("reports: Redis did not answer; pool load from SQL only")
        return None
    return out
