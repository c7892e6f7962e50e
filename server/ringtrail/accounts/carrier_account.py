"""An agency's carrier account: connect it, show it (masked), rotate its auth token,
finish the rotation, disconnect it. Shared by the admin API, the settings pages and
``ringtrail carrier``; only an agency admin (or the command line) may act.

Credentials are checked against the carrier before they are saved, and the reason it
gives is the reason shown. Secrets are sealed with ``ringtrail.crypto`` at once and never
leave this module in clear except as :class:`~ringtrail.telephony.twilio_rest.Credentials`
for a call to the carrier: what is shown is :func:`mask` of them, and the audit log names
the account and the key, never a secret.

Rotation: the new token becomes the current one and the old one the previous one, still
accepted on signed webhooks (``tracking/directory.py``) until the agency finishes the
rotation, which forgets it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.configuration import agency_of, commit_config, require_admin
from ringtrail.crypto import seal, unseal
from ringtrail.errors import Conflict, Invalid, Unprocessable
from ringtrail.storage.models import Agency
from ringtrail.telephony import twilio_rest
from ringtrail.telephony.carrier import CarrierError
from ringtrail.telephony.twilio_rest import Credentials, NotConnected

ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
API_KEY_SID = re.compile(r"SK[0-9a-fA-F]{32}")
SECRET = re.compile(r"[\x21-\x7e]{16,128}")
NOT_CONNECTED = (
    "This agency's Twilio account is not connected: calls to its numbers are refused as "
    "unsigned (403) until an agency admin connects it."
)


@dataclass(frozen=True)
class CarrierStatus:
    """What may be shown of an agency's account: ids, and secrets masked."""

    agency_id: int
    connected: bool
    account_sid: str | None = None
    auth_token: str | None = None  # masked
    rotating: bool = False
    previous_auth_token: str | None = None  # masked
    api_key_sid: str | None = None
    api_key_secret: str | None = None  # masked

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def mask(secret: str | None) -> str | None:
    """``••••`` and the last four characters, enough to tell two secrets apart."""
    return None if not secret else "••••" + secret[-4:]


def status_of(agency: Agency) -> CarrierStatus:
    """The agency's account as it may be shown."""
    if not agency.twilio_account_sid or not agency.twilio_auth_token:
        return CarrierStatus(agency.id, False)
    return CarrierStatus(
        agency_id=agency.id,
        connected=True,
        account_sid=agency.twilio_account_sid,
        auth_token=mask(unseal(agency.twilio_auth_token)),
        rotating=agency.twilio_previous_auth_token is not None,
        previous_auth_token=mask(unseal(agency.twilio_previous_auth_token))
        if agency.twilio_previous_auth_token
        else None,
        api_key_sid=agency.twilio_api_key_sid,
        api_key_secret=mask(unseal(agency.twilio_api_key_secret))
        if agency.twilio_api_key_secret
        else None,
    )


def credentials(agency: Agency) -> Credentials:
    """The agency's credentials in clear, for one call to the carrier."""
    if not agency.twilio_account_sid or not agency.twilio_auth_token:
        raise NotConnected(NOT_CONNECTED.split(":")[0] + ": connect it first")
    key_secret = agency.twilio_api_key_secret
    return Credentials(
        agency.twilio_account_sid,
        unseal(agency.twilio_auth_token),
        agency.twilio_api_key_sid if key_secret else None,
        unseal(key_secret) if key_secret else None,
    )


def _agency(db: Session, p: Principal, agency_id: int | None) -> Agency:
    require_admin(p)
    agency = db.get(Agency, agency_of(p, agency_id))
    assert agency is not None  # agency_of found it
    return agency


def _secret(value: Any, name: str) -> str:
    if not isinstance(value, str) or not SECRET.fullmatch(value.strip()):
        raise Invalid(f"{name}: 16 to 128 printable characters, no spaces")
    return value.strip()


def _checked(creds: Credentials) -> None:
    """Ask the carrier whether the credentials open the account, and say why not."""
    try:
        account = twilio_rest.fetch_account(Credentials(creds.account_sid, creds.auth_token))
    except CarrierError as exc:
        if exc.status in (401, 404):
            raise Unprocessable(exc.reason) from None
        raise
    if account.status != "active":
        raise Unprocessable(f"the Twilio account is {account.status or 'not active'}")
    if creds.api_key_sid:
        try:
            twilio_rest.fetch_account(creds)
        except CarrierError as exc:
            if exc.status in (401, 403, 404):
                raise Unprocessable(
                    f"Twilio refused the API key ({exc.status}): check the API key SID and "
                    "its secret, and that the key belongs to this account"
                ) from None
            raise


def connect(
    db: Session, p: Principal, data: dict[str, Any], agency_id: int | None = None
) -> CarrierStatus:
    """Save an account's SID and auth token (and an optional API key), once the carrier
    has accepted them. Replaces what was there, and ends any rotation."""
    agency = _agency(db, p, agency_id)
    sid = str(data.get("account_sid") or "").strip()
    if not ACCOUNT_SID.fullmatch(sid):
        raise Invalid("account_sid: a Twilio Account SID, AC and 32 hexadecimal digits")
    token = _secret(data.get("auth_token"), "auth_token")
    key_sid = str(data.get("api_key_sid") or "").strip() or None
    key_secret = data.get("api_key_secret") or None
    if bool(key_sid) != bool(key_secret):
        raise Invalid("api_key_sid and api_key_secret go together")
    if key_sid and not API_KEY_SID.fullmatch(key_sid):
        raise Invalid("api_key_sid: a Twilio API key SID, SK and 32 hexadecimal digits")
    if key_secret:
        key_secret = _secret(key_secret, "api_key_secret")
    creds = Credentials(sid, token, key_sid, key_secret)
    _checked(creds)
    taken = db.scalar(
        select(Agency.id).where(Agency.twilio_account_sid == sid, Agency.id != agency.id)
    )
    if taken is not None:
        raise Conflict("this Twilio account is connected to another agency")
    before = agency.twilio_account_sid
    agency.twilio_account_sid = sid
    agency.twilio_auth_token = seal(token)
    agency.twilio_previous_auth_token = None
    agency.twilio_api_key_sid = key_sid
    agency.twilio_api_key_secret = seal(key_secret) if key_secret else None
    details = {"account_sid": sid, "api_key_sid": key_sid, "replaced": before}
    audit.record(db, "connect", "carrier", agency.id, details, principal=p, agency_id=agency.id)
    commit_config(db)
    return status_of(agency)


def rotate(
    db: Session, p: Principal, auth_token: Any, agency_id: int | None = None
) -> CarrierStatus:
    """Make a new auth token the current one; the old one stays accepted until
    :func:`finish_rotation`."""
    agency = _agency(db, p, agency_id)
    current = credentials(agency)
    token = _secret(auth_token, "auth_token")
    if token == current.auth_token:
        raise Invalid("auth_token: that is the current token; give the new one")
    _checked(Credentials(current.account_sid, token))
    agency.twilio_previous_auth_token = agency.twilio_auth_token
    agency.twilio_auth_token = seal(token)
    details = {"account_sid": current.account_sid}
    audit.record(db, "rotate", "carrier", agency.id, details, principal=p, agency_id=agency.id)
    commit_config(db)
    return status_of(agency)


def finish_rotation(db: Session, p: Principal, agency_id: int | None = None) -> CarrierStatus:
    """Stop accepting the previous auth token."""
    agency = _agency(db, p, agency_id)
    credentials(agency)
    if agency.twilio_previous_auth_token is None:
        raise Conflict("no token rotation is under way")
    agency.twilio_previous_auth_token = None
    details = {"account_sid": agency.twilio_account_sid}
    audit.record(
        db, "finish_rotation", "carrier", agency.id, details, principal=p, agency_id=agency.id
    )
    commit_config(db)
    return status_of(agency)


def disconnect(db: Session, p: Principal, agency_id: int | None = None) -> CarrierStatus:
    """Forget the account's credentials (its numbers stay, and are refused as unsigned)."""
    agency = _agency(db, p, agency_id)
    if agency.twilio_account_sid is None:
        return status_of(agency)
    details = {"account_sid": agency.twilio_account_sid}
    agency.twilio_account_sid = None
    agency.twilio_auth_token = None
    agency.twilio_previous_auth_token = None
    agency.twilio_api_key_sid = None
    agency.twilio_api_key_secret = None
    audit.record(db, "disconnect", "carrier", agency.id, details, principal=p, agency_id=agency.id)
    commit_config(db)
    return status_of(agency)


def show(db: Session, p: Principal, agency_id: int | None = None) -> CarrierStatus:
    """The agency's account, masked."""
    return status_of(_agency(db, p, agency_id))
