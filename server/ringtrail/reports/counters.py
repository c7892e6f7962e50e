"""Traffic counters: visits per source per day, and each pool's load per hour.

The lease path counts them in Redis; a periodic job copies them to SQL (``DailyVisits``,
``PoolHour``), where reports read them. The Redis hashes hold each day's running totals
(and expire after three days), so the copy is idempotent: SQL takes the larger of its
value and Redis's. A Redis that lost its data mid-day never lowers a count already copied.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from ringtrail.reports.queries import HOUR_FIELDS
from ringtrail.storage.jobs import Periodic
from ringtrail.storage.models import DailyVisits, Pool, PoolHour
from ringtrail.storage.sql import get_db
from ringtrail.tracking.pool import get_pools
from ringtrail.tracking.visit_counts import VisitKey

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
                for key, visits in counts.items():
                    touched += _upsert(db, site_id, day, key, visits)
                touched += _copy_hours(db, pool_id, day, pools.hours(pool_id, day.isoformat()))
        db.commit()
    finally:
        db.close()
    return touched


def dims_hash(key: VisitKey) -> str:
    """The short hash of the campaign, keyword and landing page of a count ("" without)."""
    if not (key.campaign or key.keyword or key.landing_page):
        return ""
    text = "\x1f".join((key.campaign, key.keyword, key.landing_page))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _upsert(db, site_id: int, day: date, key: VisitKey, visits: int) -> int:
    dims = dims_hash(key)
    row = db.scalar(
        select(DailyVisits).where(
            DailyVisits.site_id == site_id,
            DailyVisits.day == day,
            DailyVisits.source == key.source,
            DailyVisits.medium == key.medium,
            DailyVisits.dims == dims,
        )
    )
    if row is None:
        db.add(
            DailyVisits(
                site_id=site_id,
                day=day,
                source=key.source,
                medium=key.medium,
                campaign=key.campaign,
                keyword=key.keyword,
                landing_page=key.landing_page,
                dims=dims,
                visits=visits,
            )
        )
        db.flush()  # a second key of the same site and day must find this row
        return 1
    if visits > row.visits:
        row.visits = visits
        return 1
    return 0


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
