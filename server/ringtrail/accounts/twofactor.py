"""Two-factor authentication: TOTP codes (RFC 6238) and one-time recovery codes.

- **Enrolment** makes a seed, stores it sealed (``crypto.seal``), and shows it once as a
  key to type and an ``otpauth://`` URI (no QR image: nothing leaves the page). The seed
  is in use only once a first code from the device proves it; ten recovery codes
  are then shown, once, and only their keyed hashes (``hashing.RECOVERY_CODE``) kept.
- **Verification** accepts the code of the current 30-second step or of the one before
  or after (clock drift), and never a step at or before the last one accepted: the
  compare-and-set on ``users.two_factor_last_step`` happens in one UPDATE, so a code
  seen over someone's shoulder (or sent twice at once) is refused. A recovery code works
  once, also by one conditional UPDATE.
- **Turning it off** needs the password, and that password must then be good enough
  alone (15 characters or more); an agency that requires two-factor refuses it.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal, verify_password
from ringtrail.accounts.passwords import MIN_SINGLE_FACTOR, normalise
from ringtrail.crypto import seal, unseal
from ringtrail.errors import Conflict, Forbidden, Invalid
from ringtrail.hashing import RECOVERY_CODE, keyed_hash
from ringtrail.storage.models import Agency, RecoveryCode, User, utcnow

ISSUER = "Ringtrail"
STEP = 30
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


@dataclass(frozen=True)
class Enrolment:
    """What a person copies into their authenticator app, shown once."""

    key: str  # base32, grouped by four for typing
    uri: str  # otpauth://totp/...


def enabled(user: User) -> bool:
    """Whether the person logs in with a second factor."""
    return user.two_factor_enabled_at is not None and bool(user.two_factor_secret)


def must_enrol(db: Session, user: User) -> bool:
    """The person's agency requires two-factor and they have not enrolled yet."""
    agency = db.get(Agency, user.agency_id)
    return bool(agency and agency.require_two_factor) and not enabled(user)


def begin(db: Session, user: User) -> Enrolment:
    """Start (or restart) enrolment with a fresh seed; it is unused until confirmed."""
    if enabled(user):
        raise Conflict("two-factor authentication is already on")
    secret = pyotp.random_base32()
    user.two_factor_secret = seal(secret)
    user.two_factor_last_step = None
    db.commit()
    uri = pyotp.TOTP(secret, interval=STEP).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)), uri)


def _digits(code: str) -> str:
    return "".join(code.split())


def _accept_totp(db: Session, user: User, code: str, now: float | None) -> bool:
    code = _digits(code)
    if not user.two_factor_secret or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(unseal(user.two_factor_secret), interval=STEP)
    now = time.time() if now is None else now
    for offset in (0, -1, 1):
        at = now + offset * STEP
        if hmac.compare_digest(totp.at(int(at)), code):
            step = int(at // STEP)
            claimed = db.execute(
                update(User)
                .where(User.id == user.id)
                .where(or_(User.two_factor_last_step.is_(None), User.two_factor_last_step < step))
                .values(two_factor_last_step=step)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                return False  # this step (or a later one) was used already: a replay
            user.two_factor_last_step = step
            return True
    return False


def _recovery_hash(user: User, code: str) -> str:
    bare = "".join(ch for ch in code.lower() if ch.isalnum())
    return keyed_hash(RECOVERY_CODE, f"{user.id}:{bare}")


def _accept_recovery(db: Session, user: User, code: str) -> bool:
    used = db.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id)
        .where(RecoveryCode.code_hash == _recovery_hash(user, code))
        .where(RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return used.rowcount == 1


def verify(db: Session, user: User, code: str, now: float | None = None) -> bool:
    """True for a fresh TOTP code or an unused recovery code (used up); the caller commits."""
    if not enabled(user) or not code or len(code) > 64:
        return False
    if _digits(code).isdigit():
        return _accept_totp(db, user, code, now)
    if _accept_recovery(db, user, code):
        audit.record(db, "recovery_code_used", "user", user.id, agency_id=user.agency_id)
        return True
    return False


def _new_codes(db: Session, user: User) -> list[str]:
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(user, raw)))
    return codes


def confirm(db: Session, p: Principal, user: User, code: str, now: float | None = None):
    """Turn two-factor on once the device's first code is right; returns the recovery
    codes, which are never shown again."""
    if enabled(user):
        raise Conflict("two-factor authentication is already on")
    if not user.two_factor_secret:
        raise Invalid("start the enrolment first")
    if not _accept_totp(db, user, code, now):
        raise Invalid("that code is not right: check the key and the device's clock")
    user.two_factor_enabled_at = utcnow()
    codes = _new_codes(db, user)
    audit.record(db, "two_factor_on", "user", user.id, principal=p, agency_id=user.agency_id)
    db.commit()
    return codes


def renew_recovery_codes(db: Session, p: Principal, user: User) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    if not enabled(user):
        raise Conflict("two-factor authentication is off")
    codes = _new_codes(db, user)
    audit.record(db, "recovery_codes", "user", user.id, principal=p, agency_id=user.agency_id)
    db.commit()
    return codes


def disable(db: Session, p: Principal, user: User, password: str) -> None:
    """Turn two-factor off, given the password, which must then be strong enough alone."""
    agency = db.get(Agency, user.agency_id)
    if agency is not None and agency.require_two_factor:
        raise Forbidden("your agency requires two-factor authentication")
    if not verify_password(user, password):
        raise Invalid("that password is not right")
    if len(normalise(password)) < MIN_SINGLE_FACTOR:
        raise Invalid(
            f"without a second factor the password is the only one: set one of at least "
            f"{MIN_SINGLE_FACTOR} characters first"
        )
    user.two_factor_secret = None
    user.two_factor_enabled_at = None
    user.two_factor_last_step = None
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit.record(db, "two_factor_off", "user", user.id, principal=p, agency_id=user.agency_id)
    db.commit()
