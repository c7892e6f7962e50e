"""The autosizing job: for every pool with autosizing on, plan (``autosizing.plan``) from
the pool-health estimate and act on it through the carrier; release retiring numbers
whose time has come (``tracking/retiring.py``).

The carrier is anything with ``buy_for_pool(db, pool, count, *, actor)`` (returns the new
``TrackingNumber`` rows, written in ``db``) and ``release_number(db, number, *, actor)``
(gives the number back and removes it from its pool): by default
:class:`TwilioCarrier`, the agency's own account. While the agency has not connected
one, the plan is recorded as "carrier not connected" and nothing is done. A pool in
dry-run mode, or a dry run of the whole job (``ringtrail pools autosize --dry-run``),
only says what would be done.

Every action is audited (``autosize.buy``, ``autosize.retire``, ``autosize.release``;
actor "autosizing"), and the pool keeps its last plan (``PoolAutosize.last_plan``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ringtrail.accounts import audit, carrier_numbers
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.configuration import commit_config
from ringtrail.context import setting
from ringtrail.reports import autosizing
from ringtrail.reports.queries import Period, pool_health, zone
from ringtrail.storage.jobs import Periodic
from ringtrail.storage.models import AuditEntry, Pool, PoolAutosize, TrackingNumber
from ringtrail.storage.sql import get_db
from ringtrail.telephony.twilio_rest import NotConnected
from ringtrail.tracking.pool import PoolKeys, PoolStore, get_pools
from ringtrail.tracking.retiring import due_for_release, redis_now, release_time, retire

log = logging.getLogger(__name__)

OBSERVE_DAYS = 7  # the traffic the plan reads: the pool-health page's default week
NOT_CONNECTED = "carrier not connected"


class Carrier(Protocol):
    def buy_for_pool(self, db: Session, pool: Pool, count: int, *, actor: Principal) -> Any: ...

    def release_number(self, db: Session, number: TrackingNumber, *, actor: Principal) -> Any: ...


class TwilioCarrier:
    """The agency's own Twilio account (``accounts/carrier_numbers.py``), acting in the
    job's name: the audit log names "autosizing" as the actor."""

    def buy_for_pool(self, db: Session, pool: Pool, count: int, *, actor: Principal) -> Any:
        return carrier_numbers.buy_for_pool(db, pool, count, actor=actor.label)

    def release_number(self, db: Session, number: TrackingNumber, *, actor: Principal) -> Any:
        return carrier_numbers.release_number(db, number, actor=actor.label)


def default_carrier() -> Carrier:
    """Each pool's agency's Twilio account."""
    return TwilioCarrier()


def actor_for(agency_id: int) -> Principal:
    """The job, acting for one agency (audit entries say "autosizing")."""
    return Principal("system", None, agency_id, None, "agency_admin", "autosizing")


def limits_of(row: PoolAutosize) -> autosizing.Limits:
    return autosizing.Limits(
        target_overflow=row.target_overflow,
        min_numbers=row.min_numbers,
        max_numbers=row.max_numbers,
        monthly_cap_minor=row.monthly_cap_minor,
        currency=row.currency,
        cooldown_seconds=row.cooldown_seconds,
    )


def price() -> autosizing.Price:
    """A number's monthly price (``RINGTRAIL_NUMBER_MONTHLY_PRICE``)."""
    return autosizing.Price.parse(setting("NUMBER_MONTHLY_PRICE"))


def retiring_count(db: Session, pool_id: int) -> int:
    return int(
        db.scalar(
            select(func.count(TrackingNumber.id)).where(
                TrackingNumber.pool_id == pool_id, TrackingNumber.retiring_since.is_not(None)
            )
        )
        or 0
    )


def plan_for(db: Session, pool: Pool, row: PoolAutosize, now: datetime) -> autosizing.Plan:
    """The plan for one pool now, from the same estimate as the pool-health page."""
    client = pool.site.client
    tz = zone(client.timezone)
    [health] = pool_health(
        db,
        [client.id],
        Period.last_days(OBSERVE_DAYS, tz, now),
        overflow=row.target_overflow,
        now=now,
        pool_ids=[pool.id],
        timezones={client.id: tz},
    )
    observed = autosizing.Observed(
        health.peak_arrivals, health.hold_seconds, health.size, retiring_count(db, pool.id)
    )
    return autosizing.plan(
        observed, limits_of(row), price(), now=now, surplus_since=row.surplus_since
    )


def surplus_numbers(db: Session, store: PoolStore, pool: Pool, count: int) -> list[TrackingNumber]:
    """Which numbers retire: those nobody holds now first, newest first."""
    numbers = db.scalars(
        select(TrackingNumber)
        .where(
            TrackingNumber.pool_id == pool.id,
            TrackingNumber.role == "pool",
            TrackingNumber.active.is_(True),
            TrackingNumber.retiring_since.is_(None),
        )
        .order_by(TrackingNumber.id.desc())
    ).all()
    busy = PoolKeys(pool.id).busy
    held = {n.number for n in numbers if store.redis.zscore(busy, n.number) is not None}
    return sorted(numbers, key=lambda n: n.number in held)[:count]


@dataclass
class Outcome:
    """What the job did (or would do) for one pool."""

    pool_id: int
    plan: dict
    done: str  # "bought 3" | "retired 2" | "nothing" | "dry run" | "carrier not connected"
    numbers: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)


def act(
    db: Session,
    pool: Pool,
    plan: autosizing.Plan,
    carrier: Carrier,
    *,
    store: PoolStore,
    now: datetime,
) -> list[str]:
    """Carry out a plan: buy through the carrier, or retire surplus numbers (they leave the
    lease set now and are released later). Audited; the caller commits."""
    actor = actor_for(pool.site.client.agency_id)
    agency_id = pool.site.client.agency_id
    if plan.action == autosizing.BUY and plan.count:
        bought = carrier.buy_for_pool(db, pool, plan.count, actor=actor) or []
        names = [n.number for n in bought]
        audit.record(
            db,
            "autosize.buy",
            "pool",
            pool.id,
            {"count": plan.count, "numbers": names, "reason": plan.reason},
            principal=actor,
            agency_id=agency_id,
        )
        return names
    if plan.action == autosizing.RETIRE and plan.count:
        chosen = surplus_numbers(db, store, pool, plan.count)
        for number in chosen:
            retire(number, now)
        names = [n.number for n in chosen]
        audit.record(
            db,
            "autosize.retire",
            "pool",
            pool.id,
            {"count": len(chosen), "numbers": names, "reason": plan.reason},
            principal=actor,
            agency_id=agency_id,
        )
        return names
    return []


@dataclass(frozen=True)
class Released:
    """A number given back to the carrier (or that would be)."""

    pool_id: int
    number: str


def release_due(
    db: Session,
    store: PoolStore,
    carrier: Carrier | None,
    now: datetime,
    *,
    dry_run: bool = False,
    pool_id: int | None = None,
) -> list[Released]:
    """Release the retiring numbers whose time has come (checked again against the lease
    history in Redis); a number still in use gets a later ``release_after``. Returns the
    numbers released (or, in a dry run or without a carrier, that would be)."""
    out = []
    for number in due_for_release(db, now):
        if pool_id is not None and number.pool_id != pool_id:
            continue
        at = release_time(db, store, number)
        if at > now:
            number.release_after = at
            continue
        released = Released(number.pool_id, number.number)
        if dry_run or carrier is None:
            out.append(released)
            continue
        actor = actor_for(number.pool.site.client.agency_id)
        try:
            _release(db, number, carrier, actor)
        except Exception:  # the carrier failed: this number waits for the next run
            db.rollback()
            log.exception("autosizing: releasing %s failed", released.number)
            continue
        out.append(released)
    return out


def _release(db: Session, number: TrackingNumber, carrier: Carrier, actor: Principal) -> None:
    """Give one number back and commit at once: the carrier's release cannot be undone."""
    audit.record(
        db,
        "autosize.release",
        "pool",
        number.pool_id,
        {
            "number": number.number,
            "number_id": number.id,
            "retiring_since": number.retiring_since.isoformat(),
        },
        principal=actor,
        agency_id=actor.agency_id,
    )
    carrier.release_number(db, number, actor=actor)
    commit_config(db)


_DEFAULT: Any = object()


def run(
    db: Session,
    store: PoolStore,
    carrier: Carrier | None = _DEFAULT,
    *,
    dry_run: bool = False,
    pool_id: int | None = None,
    now: datetime | None = None,
) -> list[Outcome]:
    """Plan and act for every pool with autosizing on (or only ``pool_id``); then release
    what is due. Times are Redis's clock unless ``now`` is given."""
    carrier = default_carrier() if carrier is _DEFAULT else carrier
    now = now or redis_now(store)
    query = (
        select(PoolAutosize).where(PoolAutosize.enabled.is_(True)).order_by(PoolAutosize.pool_id)
    )
    if pool_id is not None:
        query = query.where(PoolAutosize.pool_id == pool_id)
    outcomes = []
    for row in db.scalars(query).all():
        outcome = _one_pool(db, store, carrier, row, now, dry_run)
        outcomes.append(outcome)
        if dry_run:
            continue  # a dry run of the job changes nothing, not even the pool's state
        commit_config(db)
    try:
        released = release_due(db, store, carrier, now, dry_run=dry_run, pool_id=pool_id)
    except Exception:
        db.rollback()
        log.exception("autosizing: releasing retired numbers failed")
        released = []
    by_pool = {o.pool_id: o for o in outcomes}
    for number in released:
        if number.pool_id in by_pool:
            by_pool[number.pool_id].released.append(number.number)
    if dry_run:
        db.rollback()
    else:
        commit_config(db)
    return outcomes


def _one_pool(
    db: Session,
    store: PoolStore,
    carrier: Carrier | None,
    row: PoolAutosize,
    now: datetime,
    dry_run: bool,
) -> Outcome:
    pool = db.get(Pool, row.pool_id)
    made = plan_for(db, pool, row, now)
    names: list[str] = []
    if made.action == autosizing.NOTHING:
        done = "nothing"
    elif dry_run or row.dry_run:
        done = "dry run"
    elif carrier is None:
        done = NOT_CONNECTED
    else:
        try:
            names = act(db, pool, made, carrier, store=store, now=now)
            done = f"{'bought' if made.action == autosizing.BUY else 'retired'} {len(names)}"
        except NotConnected:  # the agency has no Twilio account connected yet
            db.rollback()
            done = NOT_CONNECTED
            row = db.get(PoolAutosize, pool.id)
        except Exception as exc:  # the carrier refused or failed: say so, try next time
            db.rollback()
            log.exception("autosizing: pool %s: %s failed", pool.id, made.action)
            done = f"failed: {exc}"[:300]
            row = db.get(PoolAutosize, pool.id)
    if not dry_run:
        row.surplus_since = made.surplus_since
        row.last_run_at = now
        row.last_plan = {**made.to_json(), "done": done, "numbers": names, "at": now.isoformat()}
    return Outcome(pool.id, made.to_json(), done, names)


def recent_actions(db: Session, pool_ids: list[int], limit: int = 5) -> dict[int, list]:
    """The last autosizing actions of each pool (audit entries), newest first."""
    out: dict[int, list] = {pool_id: [] for pool_id in pool_ids}
    if not pool_ids:
        return out
    for entry in db.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.object_type == "pool",
            AuditEntry.object_id.in_(pool_ids),
            AuditEntry.action.like("autosize.%"),
        )
        .order_by(AuditEntry.id.desc())
        .limit(limit * len(pool_ids))
    ):
        if len(out[entry.object_id]) < limit:
            out[entry.object_id].append(entry)
    return out


def periodic_autosize() -> int:
    """The periodic job (hourly, see :data:`PERIODIC`); returns the pools planned."""
    db = get_db()
    try:
        return len(run(db, get_pools()))
    finally:
        db.close()


RUN_EVERY = timedelta(hours=1)
PERIODIC = Periodic(periodic_autosize, cron="17 * * * *", timeout=600)
