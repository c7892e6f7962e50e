"""Retiring tracking numbers: out of the lease set at once, back to the carrier only when
no visitor who was shown one can still call it within the match window.

A retiring number (``TrackingNumber.retiring_since``) is left out of its pool's leasable
list (``directory.load``), so the next lease syncs it out of Redis's ``numbers`` set:
``lease.lua`` then never gives it to a new visitor, neither free nor shared, and only its
current holders renew it until their leases end. It stays routed, so a late caller still
reaches the business and is attributed from the lease history.

It may go back to the carrier at the end of its last lease (read from the lease history
in Redis, on Redis's clock) plus the pool's match window, and never before its retirement
plus the lease plus the match window (a lease given just before it retired, even if
Redis has since lost its history). :func:`release_time` reads that time;
:func:`due_for_release` lists the numbers whose ``release_after`` has come.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringtrail.storage.models import Pool, TrackingNumber
from ringtrail.tracking.pool import PoolKeys, PoolStore


def earliest_release(number: TrackingNumber, pool: Pool) -> datetime:
    """The floor of a retiring number's release: its retirement, plus a whole lease (one
    given just before), plus the match window."""
    assert number.retiring_since is not None
    span = pool.lease_seconds + pool.match_window_seconds
    return number.retiring_since + timedelta(seconds=span)


def retire(number: TrackingNumber, now: datetime) -> None:
    """Take ``number`` out of its pool's lease set from ``now`` (the caller commits and
    invalidates the directory, so every process stops leasing it)."""
    number.retiring_since = now
    number.release_after = earliest_release(number, number.pool)


def leasable_numbers(db: Session, pool_id: int) -> list[str]:
    """The pool's leasable numbers as SQL has them (as ``directory.load`` lists them)."""
    return sorted(
        db.scalars(
            select(TrackingNumber.number).where(
                TrackingNumber.pool_id == pool_id,
                TrackingNumber.role == "pool",
                TrackingNumber.active.is_(True),
                TrackingNumber.retiring_since.is_(None),
            )
        )
    )


def redis_now(store: PoolStore) -> datetime:
    """Redis's clock: the one every lease was written on."""
    seconds, micros = store.redis.time()
    return datetime.fromtimestamp(seconds + micros / 1e6, UTC)


def release_time(db: Session, store: PoolStore, number: TrackingNumber) -> datetime:
    """When ``number`` may go back to the carrier: the end of its last lease in Redis's
    history (a live lease's current expiry) plus the match window, and never before
    :func:`earliest_release`. A number still in the pool's lease set in Redis (no lease
    has synced the pool since it retired) is synced out first."""
    pool = number.pool
    keys = PoolKeys(pool.id)
    if store.redis.sismember(keys.numbers, number.number):
        store.sync(pool.id, leasable_numbers(db, pool.id))
    ends = [record.end for record in store.records(pool.id, number.number)]
    at = earliest_release(number, pool)
    if ends:
        last = datetime.fromtimestamp(max(ends) + pool.match_window_seconds, UTC)
        at = max(at, last)
    return at


def due_for_release(db: Session, now: datetime) -> list[TrackingNumber]:
    """Retiring numbers whose ``release_after`` has come by ``now`` (Redis's clock), oldest
    retirement first. Check each with :func:`release_time` before releasing it."""
    return list(
        db.scalars(
            select(TrackingNumber)
            .where(
                TrackingNumber.retiring_since.is_not(None),
                TrackingNumber.release_after <= now,
            )
            .order_by(TrackingNumber.retiring_since, TrackingNumber.id)
        )
    )
