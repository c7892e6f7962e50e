"""Numbers from the carrier, configured for Ringtrail: search what is for sale, buy into
a pool, release, and import what the account already owns. Shared by the admin API, the
settings pages and ``ringtrail carrier``; the pool autosizer calls :func:`buy_for_pool`
and :func:`release_number`.

Every number Ringtrail buys or imports has its voice URL, status callback and fallback
URL set to Ringtrail's (``RINGTRAIL_PUBLIC_URL`` plus the paths the webhooks are served
on). Every purchase, release and webhook change is audited.

Nothing is left half-configured: a purchase buys at the carrier, then writes SQL in one
transaction; if SQL fails, what was bought is released again. If the carrier fails after
buying some of N numbers, the ones bought are kept (configured and in the pool) and the
error says exactly which were bought and which failed. A number is in one pool at a time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.carrier_account import credentials
from ringtrail.accounts.configuration import agency_of, commit_config, require_admin
from ringtrail.context import setting
from ringtrail.errors import Conflict, Invalid, Unavailable
from ringtrail.phones import parse as e164
from ringtrail.storage.models import Agency, Pool, TrackingNumber
from ringtrail.telephony import twilio_rest
from ringtrail.telephony.carrier import CarrierError
from ringtrail.telephony.twilio_rest import Available, CarrierRefused, Owned, Webhooks

log = logging.getLogger(__name__)

MAX_BUY = 20
WEBHOOK_PATHS = {
    "voice_url": "/telephony/twilio/voice",
    "status_callback": "/telephony/twilio/status",
    "voice_fallback_url": "/telephony/twilio/fallback",
}
CRITERIA = {
    "area_code": re.compile(r"[2-9]\d\d"),
    "region": re.compile(r"[A-Za-z]{2}"),
    "locality": re.compile(r"[^\x00-\x1f]{1,100}"),
    "contains": re.compile(r"[0-9A-Za-z*]{2,16}"),
}


def webhooks() -> Webhooks:
    """Ringtrail's three URLs, from ``RINGTRAIL_PUBLIC_URL``."""
    base = str(setting("PUBLIC_URL")).rstrip("/")
    return Webhooks(**{name: base + path for name, path in WEBHOOK_PATHS.items()})


def criteria(data: dict[str, Any]) -> dict[str, Any]:
    """Search criteria, checked: area_code, region, locality, contains, toll_free, limit."""
    out: dict[str, Any] = {}
    for name, pattern in CRITERIA.items():
        value = data.get(name)
        if value in (None, ""):
            continue
        value = str(value).strip()
        if not pattern.fullmatch(value):
            raise Invalid(f"{name}: not a valid {name.replace('_', ' ')}")
        out[name] = value.upper() if name == "region" else value
    out["toll_free"] = bool(data.get("toll_free"))
    limit = data.get("limit") or 20
    if not isinstance(limit, int) or not 1 <= limit <= 50:
        raise Invalid("limit: from 1 to 50")
    out["limit"] = limit
    return out


def _agency_of_pool(pool: Pool) -> Agency:
    return pool.site.client.agency


def _record(db: Session, action, number_id, details, *, p: Principal | None, actor, agency_id):
    entry = audit.record(db, action, "number", number_id, details, principal=p, agency_id=agency_id)
    if p is None:
        entry.actor = actor[:254]


def search(
    db: Session, p: Principal, data: dict[str, Any], agency_id: int | None = None
) -> list[Available]:
    """Numbers for sale in the agency's account that match the criteria."""
    require_admin(p)
    agency = db.get(Agency, agency_of(p, agency_id))
    return twilio_rest.search(credentials(agency), **criteria(data))


def _taken(db: Session, numbers: list[str], agency_id: int) -> list[str]:
    """Why each of ``numbers`` already in a pool cannot be bought or imported."""
    rows = db.scalars(select(TrackingNumber).where(TrackingNumber.number.in_(numbers))).all()
    reasons = []
    for row in rows:
        ours = _agency_of_pool(row.pool).id == agency_id
        where = f"pool {row.pool_id}" if ours else "another pool"
        reasons.append(f"{row.number} is already in {where}")
    return reasons


def _buy(
    db: Session, pool: Pool, wanted: list[str], p: Principal | None, actor: str
) -> list[TrackingNumber]:
    agency = _agency_of_pool(pool)
    creds = credentials(agency)
    if reasons := _taken(db, wanted, agency.id):
        raise Conflict("; ".join(reasons))
    hooks = webhooks()
    bought: list[Owned] = []
    failed: tuple[str, CarrierError] | None = None
    for number in wanted:
        try:
            bought.append(twilio_rest.buy(creds, number, hooks))
        except CarrierError as exc:
            failed = (number, exc)
            break
    rows = [
        TrackingNumber(pool_id=pool.id, number=o.phone_number, role="pool", carrier_sid=o.sid)
        for o in bought
    ]
    try:
        db.add_all(rows)
        db.flush()
        for row in rows:
            details = {"number": row.number, "pool_id": pool.id, "carrier_sid": row.carrier_sid}
            _record(db, "buy", row.id, details | vars(hooks), p=p, actor=actor, agency_id=agency.id)
        commit_config(db)
    except SQLAlchemyError as exc:
        db.rollback()
        error = type(exc).__name__
        log.error("bought %d number(s) but could not save them: %s", len(bought), error)
        kept = [o.phone_number for o in bought if not _give_back(creds, o)]
        reason = "the numbers were bought but could not be saved, so they were released again"
        if kept:
            reason += f"; release these in Twilio's console: {', '.join(kept)}"
        raise Unavailable(reason) from None
    if failed is not None:
        number, exc = failed
        done = ", ".join(o.phone_number for o in bought) or "none"
        kind = CarrierRefused if isinstance(exc, CarrierRefused) else CarrierError
        raise kind(
            f"bought {len(bought)} of {len(wanted)} number(s) into pool {pool.id} ({done}); "
            f"{number} failed: {exc.reason}",
            exc.status,
        )
    return rows


def _give_back(creds, owned: Owned) -> bool:
    try:
        twilio_rest.release(creds, owned.sid)
        return True
    except CarrierError:
        return False


def buy(db: Session, p: Principal, pool: Pool, numbers: list[str]) -> list[TrackingNumber]:
    """Buy the numbers (found by :func:`search`) into the pool, configured for Ringtrail."""
    require_admin(p)
    if not numbers or len(numbers) > MAX_BUY:
        raise Invalid(f"numbers: from 1 to {MAX_BUY} numbers")
    wanted = []
    for number in numbers:
        try:
            parsed = e164(str(number))
        except ValueError as exc:
            raise Invalid(f"numbers: {exc}") from None
        if parsed not in wanted:
            wanted.append(parsed)
    return _buy(db, pool, wanted, p, p.label)


def buy_for_pool(
    db: Session, pool: Pool, count: int, *, actor: str, search: dict | None = None
) -> list[TrackingNumber]:
    """Buy up to ``count`` numbers into ``pool`` (for jobs: no principal, ``actor`` is
    named in the audit log). ``search`` holds the criteria (default: the area code of the
    pool's business number). Fewer than ``count`` are bought when the carrier has fewer
    for sale; raises CarrierError as :func:`buy` does."""
    if count < 1:
        return []
    agency = _agency_of_pool(pool)
    wanted = dict(search or {})
    business = pool.business_number or ""
    if not search and business.startswith("+1") and len(business) == 12:
        wanted["area_code"] = business[2:5]
    wanted["limit"] = min(50, count + 10)
    offers = twilio_rest.search(credentials(agency), **criteria(wanted))
    free = [o.phone_number for o in offers]
    taken = set(db.scalars(select(TrackingNumber.number).where(TrackingNumber.number.in_(free))))
    return _buy(db, pool, [n for n in free if n not in taken][:count], None, actor)


def release_number(db: Session, number: TrackingNumber, *, actor: str) -> None:
    """Give the number back to the carrier, then take it out of its pool (calls keep the
    number they were made to). Nothing changes if the carrier refuses."""
    _release(db, number, None, actor)


def release(db: Session, p: Principal, number: TrackingNumber) -> None:
    """:func:`release_number` for an agency admin."""
    require_admin(p)
    _release(db, number, p, p.label)


def _release(db: Session, number: TrackingNumber, p: Principal | None, actor: str) -> None:
    agency = _agency_of_pool(number.pool)
    creds = credentials(agency)
    sid = number.carrier_sid
    if sid is None:
        found = twilio_rest.owned_numbers(creds, number.number)
        sid = found[0].sid if found else None
    released = twilio_rest.release(creds, sid) if sid else False
    details = {
        "number": number.number,
        "pool_id": number.pool_id,
        "carrier_sid": sid,
        "at_carrier": released,
    }
    _record(db, "release", number.id, details, p=p, actor=actor, agency_id=agency.id)
    db.delete(number)
    commit_config(db)


@dataclass
class ImportChange:
    """What importing one owned number does: add it to the pool, point its webhooks at
    Ringtrail, nothing, or skip it (it is in another pool)."""

    number: str
    carrier_sid: str
    action: str  # "add", "point", "unchanged", "skip"
    webhooks: dict[str, list[str]] = field(default_factory=dict)  # field: [now, then]
    reason: str = ""


def plan_import(db: Session, p: Principal, pool: Pool) -> list[ImportChange]:
    """What :func:`import_owned` would do (the dry run): one entry per owned number."""
    require_admin(p)
    agency = _agency_of_pool(pool)
    owned = twilio_rest.owned_numbers(credentials(agency))
    numbers = [o.phone_number for o in owned]
    rows = {
        r.number: r
        for r in db.scalars(select(TrackingNumber).where(TrackingNumber.number.in_(numbers)))
    }
    hooks = webhooks()
    changes = []
    for o in owned:
        row, diff = rows.get(o.phone_number), hooks.differences(o)
        if row is not None and row.pool_id != pool.id:
            ours = _agency_of_pool(row.pool).id == agency.id
            where = f"pool {row.pool_id}" if ours else "another pool"
            changes.append(ImportChange(o.phone_number, o.sid, "skip", {}, f"in {where}"))
            continue
        action = "add" if row is None else ("point" if diff else "unchanged")
        changes.append(ImportChange(o.phone_number, o.sid, action, diff))
    return changes


def import_owned(
    db: Session, p: Principal, pool: Pool, *, dry_run: bool = True
) -> list[ImportChange]:
    """Add the account's numbers that are in no pool to ``pool`` and point every one at
    Ringtrail; with ``dry_run``, only say what would change. A carrier failure half-way
    keeps what was done (committed) and says which number failed."""
    changes = plan_import(db, p, pool)
    if dry_run:
        return changes
    agency = _agency_of_pool(pool)
    creds, hooks = credentials(agency), webhooks()
    done = 0
    for change in changes:
        if change.action in ("skip", "unchanged"):
            continue
        try:
            if change.webhooks:
                twilio_rest.point(creds, change.carrier_sid, hooks)
        except CarrierError as exc:
            commit_config(db)
            raise CarrierError(
                f"imported {done} number(s) into pool {pool.id}; {change.number} failed: "
                f"{exc.reason}",
                exc.status,
            ) from None
        row = db.scalar(select(TrackingNumber).where(TrackingNumber.number == change.number))
        if row is None:
            row = TrackingNumber(
                pool_id=pool.id, number=change.number, role="pool", carrier_sid=change.carrier_sid
            )
            db.add(row)
            db.flush()
        row.carrier_sid = change.carrier_sid
        details = {"number": change.number, "pool_id": pool.id, "carrier_sid": change.carrier_sid}
        if change.action == "add":
            _record(db, "import", row.id, details, p=p, actor=p.label, agency_id=agency.id)
        if change.webhooks:
            _record(
                db,
                "webhooks",
                row.id,
                details | {"webhooks": change.webhooks},
                p=p,
                actor=p.label,
                agency_id=agency.id,
            )
        done += 1
    commit_config(db)
    return changes
