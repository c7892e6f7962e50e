"""Who may act in an agency: the agency itself, its dashboard users and its API keys.

Shared by the admin API, the dashboard and ``ringtrail``, like
:mod:`ringtrail.accounts.configuration`: each function checks what the principal may do,
writes the change and its audit entry in one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from ringtrail.accounts import audit, logins, passwords, twofactor
from ringtrail.accounts.apikeys import new_key
from ringtrail.accounts.auth import Principal, hash_password, verify_password
from ringtrail.accounts.configuration import agency_of, commit_config, require_admin
from ringtrail.accounts.tenancy import get_or_404
from ringtrail.errors import Conflict, Forbidden, Invalid, NotFound
from ringtrail.storage.models import Agency, ApiKey, Client, User, utcnow

# -- agencies ---------------------------------------------------------------------------


def create_agency(db: Session, p: Principal, data: dict[str, Any]) -> Agency:
    """A new agency (command line only: agencies are the top of the tree)."""
    if p.kind != "cli":
        raise Forbidden("agencies are created from the command line")
    agency = Agency(name=data["name"])
    db.add(agency)
    db.flush()
    audit.record(
        db, "create", "agency", agency.id, {"name": agency.name}, principal=p, agency_id=agency.id
    )
    commit_config(db)
    return agency


# -- users ------------------------------------------------------------------------------


def create_user(
    db: Session, p: Principal, data: dict[str, Any], agency_id: int | None = None
) -> User:
    """A new dashboard user of the principal's agency."""
    require_admin(p)
    agency_id = agency_of(p, agency_id)
    role, client_id = data["role"], data.get("client_id")
    if role == "agency_admin" and client_id is not None:
        raise Invalid("an agency admin belongs to no single client; leave client_id out")
    if role != "agency_admin":
        if client_id is None:
            raise Invalid(f"a {role.replace('_', ' ')} belongs to one client: client_id")
        client = get_or_404(Client, client_id, p)
        if client.agency_id != agency_id:
            raise NotFound("no such client")
    email = data["email"].strip().lower()
    password = passwords.check(data["password"], email=email)  # no second factor yet
    if db.scalar(select(exists().where(func.lower(User.email) == email))):
        raise Conflict("a user with this email exists")
    user = User(
        agency_id=agency_id,
        client_id=client_id,
        email=email,
        name=data.get("name", ""),
        role=role,
        password_hash=hash_password(password),
    )
    db.add(user)
    db.flush()
    audit.record(
        db,
        "create",
        "user",
        user.id,
        {"email": email, "role": role, "client_id": client_id},
        principal=p,
        agency_id=agency_id,
    )
    commit_config(db)
    return user


def update_user(db: Session, p: Principal, user: User, data: dict[str, Any]) -> User:
    """Rename, reset the password of, or (de)activate a user; their logins end."""
    require_admin(p)
    if "password" in data:
        second = twofactor.enabled(user)
        data = {**data, "password": passwords.check(data["password"], second_factor=second)}
    details: dict[str, Any] = {}
    if "name" in data and data["name"] != user.name:
        details["name"] = [user.name, data["name"]]
        user.name = data["name"]
    if "password" in data:
        user.password_hash = hash_password(data["password"])
        user.session_version += 1
        details["password"] = "changed"  # noqa: S105 (a note, not a secret)
    if "active" in data and data["active"] != user.active:
        if p.kind == "user" and p.id == user.id and not data["active"]:
            raise Invalid("you cannot deactivate yourself")
        details["active"] = [user.active, data["active"]]
        user.active = data["active"]
        user.session_version += 1
    if "password" in details or "active" in details:
        logins.end_all(db, user.id)
    if details:
        audit.record(db, "update", "user", user.id, details, principal=p, agency_id=user.agency_id)
    commit_config(db)
    return user


def change_password(db: Session, p: Principal, user: User, current: str, new: str) -> User:
    """A person changes their own password; every login of theirs ends (the caller starts
    a fresh one for the browser that asked)."""
    if p.kind != "user" or p.id != user.id:
        raise Forbidden("only the person themselves changes their password here")
    if not verify_password(user, current):
        raise Invalid("your current password is not right")
    new = passwords.check(new, second_factor=twofactor.enabled(user), email=user.email)
    user.password_hash = hash_password(new)
    user.session_version += 1
    logins.end_all(db, user.id)
    audit.record(
        db,
        "update",
        "user",
        user.id,
        {"password": "changed"},
        principal=p,
        agency_id=user.agency_id,
    )
    db.commit()
    return user


def require_two_factor(
    db: Session, p: Principal, required: bool, agency_id: int | None = None
) -> Agency:
    """Make two-factor authentication required (or not) for every user of the agency."""
    require_admin(p)
    agency = db.get(Agency, agency_of(p, agency_id))
    if agency is None:
        raise NotFound("no such agency")
    if agency.require_two_factor != required:
        audit.record(
            db,
            "update",
            "agency",
            agency.id,
            {"require_two_factor": [agency.require_two_factor, required]},
            principal=p,
            agency_id=agency.id,
        )
        agency.require_two_factor = required
    commit_config(db)
    return agency


# -- API keys ---------------------------------------------------------------------------


def create_key(
    db: Session, p: Principal, data: dict[str, Any], agency_id: int | None = None
) -> tuple[ApiKey, str]:
    """A new API key; returns it with the key itself, which is never shown again."""
    require_admin(p)
    agency_id = agency_of(p, agency_id)
    client_id = data.get("client_id")
    if client_id is not None:
        client = get_or_404(Client, client_id, p)
        if client.agency_id != agency_id:
            raise NotFound("no such client")
    raw, prefix, digest = new_key()
    key = ApiKey(
        agency_id=agency_id,
        client_id=client_id,
        name=data["name"],
        prefix=prefix,
        key_hash=digest,
        created_by=p.label[:254],
    )
    db.add(key)
    db.flush()
    audit.record(
        db,
        "create",
        "api_key",
        key.id,
        {"name": key.name, "prefix": prefix, "client_id": client_id},
        principal=p,
        agency_id=agency_id,
    )
    commit_config(db)
    return key, raw


def revoke_key(db: Session, p: Principal, key: ApiKey) -> ApiKey:
    """Revoke a key; the next request made with it is refused."""
    require_admin(p)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(
            db,
            "revoke",
            "api_key",
            key.id,
            {"prefix": key.prefix},
            principal=p,
            agency_id=key.agency_id,
        )
    commit_config(db)
    return key
