"""Traffic counters: visits per source per day, and each pool's load per hour.

The lease path counts them in Redis; a periodic job copies them to SQL (``DailyVisits``,
``PoolHour``), where reports read them. The Redis hashes hold each day's running totals
(and expire after three days), so the copy is idempotent: SQL takes the larger of its
value and Redis's. A Redis that lost its data mid-day never lowers a count already copied.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from ringtrail.storage.jobs import Periodic
from ringtrail.storage.models import DailyVisits, Pool, PoolHour
from ringtrail.storage.sql import get_db
from ringtrail.tracking.pool import get_pools

FLUSH_EVERY = 300  # seconds


def flush(now: float | None = None, days: int = 2) -> int:
    """Copy today's and yesterday's counters of every pool to SQL; returns rows touched."""
    now = time.time() if now is None else now
    db = get_db()
    pools = get_pools()
    day0 = datetime.fromtimestamp(now, UTC).date()
    touched = 0
    try:
        for pool_id, site_id in db.execute(select(Pool.id, Pool.site_id)).all():
            for back in range(days):
                day = day0 - timedelta(days=back)
                counts = pools.visit_counts(pool_id, day.isoformat())
                for (source, medium), visits in counts.items():
                    touched += _upsert(db, site_id, day, source[:100], medium[:100], visits)
                touched += _copy_hours(db, pool_id, day, pools.hours(pool_id, day.isoformat()))
        db.commit()
    finally:
        db.close()
    return touched


def _upsert(db, site_id: int, day: date, source: str, medium: str, visits: int) -> int:
    row = db.scalar(
        select(DailyVisits).where(
            DailyVisits.site_id == site_id,
            DailyVisits.day == day,
            DailyVisits.source == source,
            DailyVisits.medium == medium,
        )
    )
    if row is None:
        db.add(DailyVisits(site_id=site_id, day=day, source=source, medium=medium, visits=visits))
        return 1
    if visits > row.visits:
        row.visits = visits
        return 1
    return 0


HOUR_FIELDS = {
    "new": "new_leases",
    "exhausted": "exhausted",
    "peak": "peak_leases",
    "held": "held_seconds",
    "ended": "ended_leases",
}


def _copy_hours(db, pool_id: int, day: date, counts: dict[str, int]) -> int:
    by_hour: dict[int, dict[str, int]] = {}
    for field, value in counts.items():
        name, _, hour = field.partition(":")
        if name in HOUR_FIELDS and hour.isdigit():
            by_hour.setdefault(int(hour), {})[HOUR_FIELDS[name]] = int(value)
    touched = 0
    for hour, values in by_hour.items():
        start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
        row = db.scalar(select(PoolHour).where(PoolHour.pool_id == pool_id, PoolHour.hour == start))
        if row is None:
            row = PoolHour(pool_id=pool_id, hour=start, **dict.fromkeys(HOUR_FIELDS.values(), 0))
            db.add(row)
        for column, value in values.items():
            if value > getattr(row, column):
                setattr(row, column, value)
                touched += 1
    return touched


def periodic_flush() -> int:
    """The periodic job (every five minutes, see :data:`PERIODIC`)."""
    return flush()


PERIODIC = Periodic(periodic_flush, cron="*/5 * * * *", timeout=FLUSH_EVERY)
