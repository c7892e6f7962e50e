"""Configuration changes, shared by the admin API, the settings pages and ``ringtrail``:
clients, sites, pools and tracking numbers (users and keys are in ``access.py``).

Every function takes validated data (see ``schemas.py``) and the acting
:class:`~server.auth.Principal`; checks what that principal may do; writes the change
and its audit entry in one transaction; and makes the in-process directory reread SQL.
Objects named by id are fetched through :func:`server.tenancy.get_or_404`, so another
tenant's object is a 404 here too, whichever door the request came in by.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.tenancy import conditions, get_or_404
from ringtrail.errors import Conflict, Forbidden, Invalid, Unprocessable
from ringtrail.storage.models import (
    AdDestination,
    Agency,
    ApiKey,
    BlockedCaller,
    Call,
    Client,
    ClientTag,
    DailyVisits,
    Pool,
    PoolAutosize,
    PoolHour,
    Rule,
    Site,
    TrackingNumber,
    User,
    VisitSnapshot,
)
from ringtrail.telephony import consent
from ringtrail.tracking.directory import get_directory


def require_admin(p: Principal) -> None:
    """Only a whole-agency admin (or the command line) may go on."""
    if not p.is_agency_admin:
        raise Forbidden("this needs an agency admin")


def require_editor(p: Principal) -> None:
    """Report-only users may not change configuration."""
    if not p.can_edit:
        raise Forbidden("this needs an agency admin or a client manager")


# Fields only an agency admin may change, by kind of object. They decide whether a caller
# is recorded, and after what notice, or (hipaa) whether the caller's number is kept:
# what the agency answers for under consent and HIPAA law, not a client's day-to-day
# settings. ``voicemail`` is a recording of the caller; ``suspended`` stops a client.
# Not in the list: ``us_state`` (``check_client`` refuses a state where the consent mode
# an admin chose is not allowed), ``whisper`` (only ever on unrecorded calls), hours,
# the after-hours number and the voicemail prompt (said after the notice).
ADMIN_ONLY: dict[str, tuple[str, ...]] = {
    "client": (
        "hipaa",
        "consent_mode",
        "record_calls",
        "recording_notice",
        "transcribe",
        "voicemail",
        "suspended",
    ),
    "pool": ("record_calls",),
    "number": ("record_calls",),
}


def admin_only(p: Principal, kind: str) -> tuple[str, ...]:
    """The fields of ``kind`` ("client", "pool", "number") this principal may not change."""
    return () if p.is_agency_admin else ADMIN_ONLY[kind]


def check_fields(p: Principal, kind: str, data: dict[str, Any], current: Any = None) -> None:
    """Refuse (403, with the reason) a change to a field only an agency admin may make.

    A field sent with the value it already has (or, for a new object, its default of
    null: inherit) changes nothing and passes, so a client's script may send back what
    it read."""
    for name in admin_only(p, kind):
        if name in data and data[name] != (getattr(current, name) if current is not None else None):
            raise Forbidden(f"only an agency admin may change {name}")


def _changes(obj: Any, data: dict[str, Any]) -> dict[str, list[Any]]:
    """Apply ``data`` to ``obj``; returns {field: [old, new]} for what really changed."""
    changed = {}
    for name, value in data.items():
        old = getattr(obj, name)
        if old != value:
            changed[name] = [old, value]
            setattr(obj, name, value)
    return changed


def commit_config(db: Session) -> None:
    """Commit a configuration change and reread it into this process's routing cache.

    The commit announces the change to every other process (``storage/sql.py``)."""
    db.commit()
    get_directory().invalidate()


def agency_of(p: Principal, agency_id: int | None) -> int:
    """The agency a new object belongs to: the principal's own, or (from the command line,
    which has none) the one named; 404 if it is not the principal's to use."""
    agency_id = p.agency_id or agency_id
    if agency_id is None:
        raise Invalid("which agency? (--agency)")
    get_or_404(Agency, agency_id, p)
    return agency_id


# -- the agency ---------------------------------------------------------------


def update_agency(
    db: Session, p: Principal, data: dict[str, Any], agency_id: int | None = None
) -> Agency:
    """Change the agency's own settings (agency admins only): ``default_forward_number``,
    where its calls that no route takes go (numbers of its account that Ringtrail does
    not route, suspended clients); None falls back to RINGTRAIL_DEFAULT_FORWARD_NUMBER."""
    require_admin(p)
    agency = db.get(Agency, agency_of(p, agency_id))
    if agency is None:
        raise Invalid("no such agency")
    changed = _changes(agency, {k: data[k] for k in ("default_forward_number",) if k in data})
    if changed:
        audit.record(db, "update", "agency", agency.id, changed, principal=p, agency_id=agency.id)
    commit_config(db)
    return agency


# -- clients ------------------------------------------------------------------

# What the client-wide rules below read; a new client starts from the columns' defaults.
_RULED = ("record_calls", "recording_notice", "voicemail", "transcribe", "hipaa")
_RULED += ("consent_mode", "us_state")
HIPAA_REFUSAL = "HIPAA mode is on: calls are never recorded or transcribed and take no voicemail"


def _defaults() -> dict[str, Any]:
    out = {}
    for name in _RULED:
        default = Client.__table__.c[name].default
        out[name] = default.arg if default is not None else None
    return out


def _overrides_recording(db: Session, client_id: int | None) -> bool:
    """Whether a pool or number of the client is set to record whatever the client says."""
    if client_id is None:
        return False
    pools = select(Pool.id).join(Site, Site.id == Pool.site_id).where(Site.client_id == client_id)
    return bool(
        db.scalar(select(exists().where(Pool.id.in_(pools), Pool.record_calls.is_(True))))
        or db.scalar(
            select(
                exists().where(
                    TrackingNumber.pool_id.in_(pools), TrackingNumber.record_calls.is_(True)
                )
            )
        )
    )


def check_client(db: Session, client: Client | None, data: dict[str, Any]) -> None:
    """Refuse client settings that would break a consent or HIPAA rule, with the reason.

    Only rules that involve a field being changed are checked, so a rename never fails
    for a combination stored before these rules existed. Rules:

    - recording (the client's, a pool's or a number's) and voicemail need a notice;
    - ``one_party`` consent only where ``consent.check_mode`` allows it;
    - HIPAA mode refuses recording, transcription and voicemail rather than silently
      overriding them: what the settings say is what happens.
    """
    sent = set(data)
    now = (_defaults() if client is None else {n: getattr(client, n) for n in _RULED}) | data
    overrides = _overrides_recording(db, client.id if client is not None else None)
    records = bool(now["record_calls"]) or overrides
    if sent & {"hipaa", "record_calls", "transcribe", "voicemail"} and now["hipaa"]:
        on = [name for name in ("record_calls", "transcribe", "voicemail") if now[name]]
        if overrides:
            on.append("a pool or number set to record")
        if on:
            raise Unprocessable(f"{HIPAA_REFUSAL}; turn off {', '.join(on)} first")
    needs_notice = records or now["voicemail"]
    if (
        sent & {"record_calls", "recording_notice", "voicemail"}
        and needs_notice
        and not consent.notice_text(now["recording_notice"])
    ):
        raise Unprocessable(
            "recording_notice: recording and voicemail play the notice first, so it "
            "cannot be empty while either is on"
        )
    mode = now["consent_mode"] or consent.DEFAULT_MODE
    if sent & {"consent_mode", "us_state"} and (
        reason := consent.check_mode(now["us_state"], mode)
    ):
        raise Unprocessable(f"consent_mode: {reason}")


def check_override(client: Client, record: bool | None) -> None:
    """A pool or number may be set to record only where its client may record at all: a
    Conflict with the client's settings, not a flaw of the request."""
    if record is not True:
        return
    if client.hipaa:
        raise Conflict(f"record_calls: {HIPAA_REFUSAL} for this client")
    if not consent.notice_text(client.recording_notice):
        raise Conflict("record_calls: the client has no recording notice; set one first")


def create_client(
    db: Session, p: Principal, data: dict[str, Any], agency_id: int | None = None
) -> Client:
    """A new client of the principal's agency."""
    require_admin(p)
    agency_id = agency_of(p, agency_id)
    check_client(db, None, data)
    client = Client(agency_id=agency_id, **data)
    db.add(client)
    db.flush()
    audit.record(
        db, "create", "client", client.id, {"name": client.name}, principal=p, agency_id=agency_id
    )
    commit_config(db)
    return client


def update_client(db: Session, p: Principal, client: Client, data: dict[str, Any]) -> Client:
    """Change a client's settings (recording, consent, HIPAA mode and suspension: agency
    admins only; see ``ADMIN_ONLY``)."""
    require_editor(p)
    check_fields(p, "client", data, client)
    check_client(db, client, data)
    changed = _changes(client, data)
    if changed:
        audit.record(
            db, "update", "client", client.id, changed, principal=p, agency_id=client.agency_id
        )
    commit_config(db)
    return client


def delete_client(db: Session, p: Principal, client: Client) -> None:
    """Delete a client that has nothing attached any more."""
    require_admin(p)
    for model, what in ((Site, "sites"), (Call, "calls"), (User, "users"), (ApiKey, "API keys")):
        if db.scalar(select(exists().where(model.client_id == client.id))):
            raise Conflict(f"client {client.id} still has {what}")
    audit.record(
        db,
        "delete",
        "client",
        client.id,
        {"name": client.name},
        principal=p,
        agency_id=client.agency_id,
    )
    # Its outcome settings and ad platforms go with it (a client with no calls has no
    # upload log).
    for owned in (ClientTag, Rule, BlockedCaller, AdDestination):
        db.execute(delete(owned).where(owned.client_id == client.id))
    db.delete(client)
    commit_config(db)


# -- sites ------------------------------------------------------------------------------


def create_site(db: Session, p: Principal, data: dict[str, Any]) -> Site:
    """A new site of one of the principal's clients, with a fresh public key."""
    require_editor(p)
    client = get_or_404(Client, data["client_id"], p)
    site = Site(public_key=secrets.token_hex(10), **data)
    db.add(site)
    db.flush()
    audit.record(
        db,
        "create",
        "site",
        site.id,
        {"name": site.name, "client_id": client.id},
        principal=p,
        agency_id=client.agency_id,
    )
    commit_config(db)
    return site


def update_site(db: Session, p: Principal, site: Site, data: dict[str, Any]) -> Site:
    """Change a site's settings."""
    require_editor(p)
    changed = _changes(site, data)
    if changed:
        audit.record(
            db, "update", "site", site.id, changed, principal=p, agency_id=site.client.agency_id
        )
    commit_config(db)
    return site


def delete_site(db: Session, p: Principal, site: Site) -> None:
    """Delete a site without pools or recorded traffic."""
    require_editor(p)
    for model, what in (
        (Pool, "pools"),
        (Call, "calls"),
        (VisitSnapshot, "visits"),
        (DailyVisits, "visit counts"),
    ):
        if db.scalar(select(exists().where(model.site_id == site.id))):
            raise Conflict(f"site {site.id} still has {what}")
    audit.record(
        db,
        "delete",
        "site",
        site.id,
        {"name": site.name},
        principal=p,
        agency_id=site.client.agency_id,
    )
    db.delete(site)
    commit_config(db)


# -- pools ------------------------------------------------------------------------------


def create_pool(db: Session, p: Principal, data: dict[str, Any]) -> Pool:
    """A new, empty pool on one of the principal's sites."""
    require_editor(p)
    site = get_or_404(Site, data["site_id"], p)
    check_fields(p, "pool", data)
    check_override(site.client, data.get("record_calls"))
    pool = Pool(**data)
    db.add(pool)
    db.flush()
    audit.record(
        db,
        "create",
        "pool",
        pool.id,
        {k: v for k, v in data.items()},
        principal=p,
        agency_id=site.client.agency_id,
    )
    commit_config(db)
    return pool


def update_pool(db: Session, p: Principal, pool: Pool, data: dict[str, Any]) -> Pool:
    """Change a pool's settings (lease time, match window, exhaustion policy...)."""
    require_editor(p)
    check_fields(p, "pool", data, pool)
    check_override(pool.site.client, data.get("record_calls"))
    changed = _changes(pool, data)
    if changed:
        audit.record(
            db,
            "update",
            "pool",
            pool.id,
            changed,
            principal=p,
            agency_id=pool.site.client.agency_id,
        )
    commit_config(db)
    return pool


def delete_pool(db: Session, p: Principal, pool: Pool) -> None:
    """Delete a pool and its numbers, unless calls or load history refer to it."""
    require_editor(p)
    for model, what in ((Call, "calls"), (PoolHour, "load history")):
        if db.scalar(select(exists().where(model.pool_id == pool.id))):
            raise Conflict(
                f"pool {pool.id} has {what}; deactivate its numbers instead of deleting it"
            )
    numbers = [n.number for n in pool.numbers]
    for number in list(pool.numbers):
        db.delete(number)
    if (autosize := db.get(PoolAutosize, pool.id)) is not None:
        db.delete(autosize)
    audit.record(
        db,
        "delete",
        "pool",
        pool.id,
        {"name": pool.name, "numbers": numbers},
        principal=p,
        agency_id=pool.site.client.agency_id,
    )
    db.delete(pool)
    commit_config(db)


def pool_number_count(db: Session, pool_id: int) -> int:
    """Active tracking numbers in a pool."""
    return (
        db.scalar(
            select(func.count(TrackingNumber.id)).where(
                TrackingNumber.pool_id == pool_id, TrackingNumber.active.is_(True)
            )
        )
        or 0
    )


# -- numbers ----------------------------------------------------------------------------


def _check_role(data: dict[str, Any], current: TrackingNumber | None = None) -> None:
    """A source number needs a source: Invalid if the input says otherwise, a Conflict if
    the number's stored role or source does."""
    role = data.get("role", current.role if current else "pool")
    source = data.get("source", current.source if current else None)
    if role == "source" and not source:
        reason = "a source number needs a source (for example google/organic, or *)"
        stored = current is not None and not ({"role", "source"} <= set(data))
        raise Conflict(reason) if stored else Invalid(reason)


def _where_is(db: Session, p: Principal, number: str) -> str | None:
    """Why ``number`` cannot be added: it is in a pool already (named only if ours)."""
    other = db.scalar(select(TrackingNumber).where(TrackingNumber.number == number))
    if other is None:
        return None
    visible = db.scalar(select(Pool.id).where(Pool.id == other.pool_id, *_pool_conditions(p)))
    if visible is not None:
        return f"{number} is already in pool {other.pool_id}"
    return f"{number} is already in another pool"


def _pool_conditions(p: Principal) -> list[Any]:
    return conditions(Pool, p)


def add_number(db: Session, p: Principal, data: dict[str, Any]) -> TrackingNumber:
    """Add one tracking number to one of the principal's pools."""
    require_editor(p)
    pool = get_or_404(Pool, data["pool_id"], p)
    _check_role(data)
    check_fields(p, "number", data)
    check_override(pool.site.client, data.get("record_calls"))
    if reason := _where_is(db, p, data["number"]):
        raise Conflict(reason)
    number = TrackingNumber(**data)
    db.add(number)
    db.flush()
    audit.record(
        db,
        "create",
        "number",
        number.id,
        {"number": number.number, "pool_id": pool.id, "role": number.role},
        principal=p,
        agency_id=pool.site.client.agency_id,
    )
    commit_config(db)
    return number


def update_number(
    db: Session, p: Principal, number: TrackingNumber, data: dict[str, Any]
) -> TrackingNumber:
    """Change a number's role, source, recording override or whether it is active."""
    require_editor(p)
    _update_number(db, p, number, data)
    commit_config(db)
    return number


def _update_number(db: Session, p: Principal, number: TrackingNumber, data: dict[str, Any]) -> bool:
    _check_role(data, number)
    check_fields(p, "number", data, number)
    check_override(number.pool.site.client, data.get("record_calls"))
    changed = _changes(number, data)
    if changed:
        changed["number"] = number.number
        audit.record(
            db,
            "update",
            "number",
            number.id,
            changed,
            principal=p,
            agency_id=number.pool.site.client.agency_id,
        )
    return bool(changed)


def pool_numbers(db: Session, pool: Pool, ids: list[int]) -> list[TrackingNumber]:
    """The chosen numbers of ``pool`` (for a bulk change); Invalid if one is not its own."""
    if not ids:
        raise Invalid("choose at least one number")
    chosen = db.scalars(
        select(TrackingNumber)
        .where(TrackingNumber.pool_id == pool.id, TrackingNumber.id.in_(ids))
        .order_by(TrackingNumber.number)
    ).all()
    if len(chosen) != len(set(ids)):
        raise Invalid("some of the chosen numbers are not in this pool (any more)")
    return list(chosen)


def update_numbers(
    db: Session, p: Principal, numbers: list[TrackingNumber], data: dict[str, Any]
) -> int:
    """Make the same change to several numbers, all or none; returns how many changed."""
    require_editor(p)
    try:
        changed = sum(_update_number(db, p, number, data) for number in numbers)
    except Exception:
        db.rollback()  # one number refused: none changes
        raise
    commit_config(db)
    return changed


def delete_numbers(db: Session, p: Principal, numbers: list[TrackingNumber]) -> int:
    """Remove several numbers from their pools in one change; returns how many."""
    require_editor(p)
    for number in numbers:
        _audit_delete(db, p, number)
        db.delete(number)
    commit_config(db)
    return len(numbers)


def _audit_delete(db: Session, p: Principal, number: TrackingNumber) -> None:
    audit.record(
        db,
        "delete",
        "number",
        number.id,
        {"number": number.number, "pool_id": number.pool_id},
        principal=p,
        agency_id=number.pool.site.client.agency_id,
    )


def delete_number(db: Session, p: Principal, number: TrackingNumber) -> None:
    """Remove a tracking number (calls keep the number they were made to)."""
    require_editor(p)
    _audit_delete(db, p, number)
    db.delete(number)
    commit_config(db)
