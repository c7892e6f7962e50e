"""A pool's autosizing settings, shared by the admin API, the settings pages and
``ringtrail pool autosizing``: read them, and change them validated and audited.

Autosizing is off until someone turns it on. Everything that can make it spend money
(turning it on, leaving dry-run mode, the target overflow, the minimum and maximum, the
cap) needs an agency admin; a client manager may change only the cool-down.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.configuration import commit_config, require_editor
from ringtrail.errors import Forbidden, Invalid, Unprocessable
from ringtrail.storage.models import Pool, PoolAutosize

FIELDS = (
    "enabled",
    "dry_run",
    "target_overflow",
    "min_numbers",
    "max_numbers",
    "monthly_cap_minor",
    "currency",
    "cooldown_seconds",
)
SPENDS_MONEY = FIELDS[:-1]  # all but the cool-down
MAX_NUMBERS = 10_000
MAX_COOLDOWN_SECONDS = 90 * 86400


def settings_of(db: Session, pool: Pool) -> PoolAutosize:
    """The pool's settings (the defaults, not yet stored, for a pool never configured)."""
    row = db.get(PoolAutosize, pool.id)
    if row is None:
        row = PoolAutosize(pool_id=pool.id)
        for name in FIELDS:
            default = PoolAutosize.__table__.c[name].default
            setattr(row, name, default.arg if default is not None else None)
    return row


def describe(row: PoolAutosize) -> dict[str, Any]:
    """The settings, and the job's last plan, as JSON."""
    out = {name: getattr(row, name) for name in FIELDS}
    out["pool_id"] = row.pool_id
    out["last_run_at"] = row.last_run_at.isoformat() if row.last_run_at else None
    out["last_plan"] = row.last_plan
    return out


def _check(row: PoolAutosize, data: dict[str, Any]) -> None:
    for name in data:
        if name not in FIELDS:
            raise Invalid(f"unknown autosizing setting: {name}")
    for name in ("enabled", "dry_run"):
        if name in data and not isinstance(data[name], bool):
            raise Invalid(f"{name} must be true or false")
    for name in ("min_numbers", "max_numbers", "cooldown_seconds"):
        value = data.get(name)
        if name in data and (isinstance(value, bool) or not isinstance(value, int)):
            raise Invalid(f"{name} must be a whole number")
    if "target_overflow" in data:
        value = data["target_overflow"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 0.5:
            raise Invalid("target_overflow must be a share above 0 and at most 0.5 (0.01: 1 %)")
    if not 0 <= data.get("min_numbers", 0) <= MAX_NUMBERS:
        raise Invalid(f"min_numbers must be 0 to {MAX_NUMBERS}")
    if not 1 <= data.get("max_numbers", 1) <= MAX_NUMBERS:
        raise Invalid(f"max_numbers must be 1 to {MAX_NUMBERS}")
    if not 0 <= data.get("cooldown_seconds", 0) <= MAX_COOLDOWN_SECONDS:
        raise Invalid(f"cooldown_seconds must be 0 to {MAX_COOLDOWN_SECONDS} (90 days)")
    if "monthly_cap_minor" in data:
        cap = data["monthly_cap_minor"]
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
            raise Invalid("monthly_cap_minor must be a whole number of cents, 0 or more, or null")
    if "currency" in data:
        currency = data["currency"]
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            raise Invalid("currency must be a three-letter ISO code (USD)")
        data["currency"] = currency.upper()
    low = data.get("min_numbers", row.min_numbers)
    high = data.get("max_numbers", row.max_numbers)
    if low > high:
        raise Unprocessable(f"the minimum ({low}) is above the maximum ({high})")


def update(db: Session, p: Principal, pool: Pool, data: dict[str, Any]) -> PoolAutosize:
    """Change a pool's autosizing settings (the caller checked the pool is ``p``'s)."""
    require_editor(p)
    row = settings_of(db, pool)
    data = dict(data)
    _check(row, data)
    if not p.is_agency_admin:
        for name in SPENDS_MONEY:
            if name in data and data[name] != getattr(row, name):
                raise Forbidden(f"only an agency admin may change {name}: it spends money")
    changed = {}
    for name, value in data.items():
        old = getattr(row, name)
        if old != value:
            changed[name] = [old, value]
            setattr(row, name, value)
    if changed:
        if db.get(PoolAutosize, pool.id) is None:
            db.add(row)
        audit.record(
            db,
            "update",
            "pool_autosizing",
            pool.id,
            changed,
            principal=p,
            agency_id=pool.site.client.agency_id,
        )
    commit_config(db)
    return row
