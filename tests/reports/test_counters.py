"""Daily visit counts: counted on the lease path, copied to SQL idempotently."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from ringtrail.reports.counters import PERIODIC, flush, periodic_flush
from ringtrail.storage.models import DailyVisits
from ringtrail.tracking.pool import PoolKeys, PoolStore
from tests.helpers import make_site, tracking_numbers

NOW = 1_800_000_000.0


@pytest.mark.postgres
def test_flush_copies_counts_and_is_idempotent(app, db, db_backend, redis_client):
    setup = make_site(db)
    store = PoolStore(redis_client)
    numbers = tracking_numbers(5)
    for i, field in enumerate(["google|organic", "google|organic", "(direct)|(none)"]):
        store.lease(
            setup.pool.id,
            f"s{i}",
            numbers=numbers,
            lease_seconds=60,
            visit_field=field,
            now=NOW + i,
        )
    day = time.strftime("%Y-%m-%d", time.gmtime(NOW))
    assert redis_client.ttl(PoolKeys(setup.pool.id).visits(day)) > 2 * 86400

    with app.app_context():
        flush(now=NOW + 10)
        flush(now=NOW + 20)  # running twice changes nothing
    rows = {(r.source, r.medium): r.visits for r in db.scalars(select(DailyVisits))}
    assert rows == {("google", "organic"): 2, ("(direct)", "(none)"): 1}

    # A Redis that lost its counters never lowers what SQL already has.
    redis_client.delete(PoolKeys(setup.pool.id).visits(day))
    store.lease(
        setup.pool.id,
        "late",
        numbers=numbers,
        lease_seconds=60,
        visit_field="google|organic",
        now=NOW + 30,
    )
    with app.app_context():
        flush(now=NOW + 40)
    db.expire_all()
    rows = {(r.source, r.medium): r.visits for r in db.scalars(select(DailyVisits))}
    assert rows[("google", "organic")] == 2


def test_flush_copies_hourly_pool_load(app, db, redis_client):
    from datetime import UTC, datetime

    from ringtrail.storage.models import PoolHour

    setup = make_site(db, numbers=1)
    store = PoolStore(redis_client)
    numbers = tracking_numbers(1)
    for session, at in (("a", 0), ("b", 1), ("c", 100)):  # no rest: c gets it anew
        store.lease(
            setup.pool.id, session, numbers=numbers, lease_seconds=30, rest_seconds=0, now=NOW + at
        )
    with app.app_context():
        flush(now=NOW + 200)
        flush(now=NOW + 300)
    (row,) = db.scalars(select(PoolHour)).all()
    hour = datetime.fromtimestamp(NOW, UTC).replace(minute=0, second=0, microsecond=0)
    assert row.hour == hour
    assert (row.new_leases, row.exhausted, row.peak_leases) == (2, 1, 1)
    assert (row.ended_leases, row.held_seconds) == (2, 60)  # a and b (shared) held 30 s each


def test_the_flush_is_a_cron_job_every_five_minutes():
    assert PERIODIC.func is periodic_flush
    assert PERIODIC.cron == "*/5 * * * *"
