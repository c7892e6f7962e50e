"""Admin API: who am I, users, API keys and the audit log (agency keys only)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import select

from ringtrail.accounts import access
from ringtrail.accounts.audit import describe
from ringtrail.accounts.configuration import require_admin
from ringtrail.accounts.tenancy import scoped
from ringtrail.storage.models import ApiKey, AuditEntry, User
from ringtrail.storage.sql import get_db
from ringtrail.web.api.blueprint import bp, paginate, principal
from ringtrail.web.login import owned
from ringtrail.web.schemas import (
    AuditOut,
    KeyIn,
    KeyOut,
    NewKeyOut,
    PageQuery,
    UserIn,
    UserOut,
    UserPatch,
    page_of,
)


class MeOut(Schema):
    kind = fields.String()
    id = fields.Integer(allow_none=True)
    agency_id = fields.Integer(allow_none=True)
    client_id = fields.Integer(allow_none=True)
    role = fields.String()
    label = fields.String()


@bp.get("/me")
@bp.doc(tags=["access"])
@bp.response(200, MeOut)
def me():
    """The key making this request: its scope and role."""
    return principal()


@bp.get("/users")
@bp.doc(tags=["access"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(UserOut))
def list_users(query: dict[str, Any]):
    """The agency's dashboard users."""
    require_admin(principal())
    return paginate(scoped(select(User).order_by(User.id), User, principal()), query)


@bp.post("/users")
@bp.doc(tags=["access"])
@bp.arguments(UserIn)
@bp.response(201, UserOut)
def create_user(data: dict[str, Any]):
    """Create a dashboard user; client managers and report-only users need a client_id."""
    return access.create_user(get_db(), principal(), data)


@bp.get("/users/<int(min=1):user_id>")
@bp.doc(tags=["access"])
@bp.response(200, UserOut)
def get_user(user_id: int):
    """One user."""
    require_admin(principal())
    return owned(User, user_id)


@bp.patch("/users/<int(min=1):user_id>")
@bp.doc(tags=["access"])
@bp.arguments(UserPatch)
@bp.response(200, UserOut)
def update_user(data: dict[str, Any], user_id: int):
    """Rename a user, reset their password or deactivate them (their sessions end)."""
    return access.update_user(get_db(), principal(), owned(User, user_id), data)


@bp.get("/keys")
@bp.doc(tags=["access"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(KeyOut))
def list_keys(query: dict[str, Any]):
    """The agency's API keys (prefixes only; keys are never shown again)."""
    require_admin(principal())
    return paginate(scoped(select(ApiKey).order_by(ApiKey.id), ApiKey, principal()), query)


@bp.post("/keys")
@bp.doc(tags=["access"])
@bp.arguments(KeyIn)
@bp.response(201, NewKeyOut)
def create_key(data: dict[str, Any]):
    """Create a key for the agency or one client. The answer holds the key, once."""
    key, raw = access.create_key(get_db(), principal(), data)
    return {**{name: getattr(key, name) for name in KeyOut().fields}, "key": raw}


@bp.get("/keys/<int(min=1):key_id>")
@bp.doc(tags=["access"])
@bp.response(200, KeyOut)
def get_key(key_id: int):
    """One key (without the key itself)."""
    require_admin(principal())
    return owned(ApiKey, key_id)


@bp.delete("/keys/<int(min=1):key_id>")
@bp.doc(tags=["access"])
@bp.response(200, KeyOut)
def revoke_key(key_id: int):
    """Revoke a key; it is refused from the next request on."""
    return access.revoke_key(get_db(), principal(), owned(ApiKey, key_id))


@bp.get("/audit")
@bp.doc(tags=["access"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(AuditOut))
def list_audit(query: dict[str, Any]):
    """The audit log, newest first: changes, key and user management, denied attempts."""
    require_admin(principal())
    stmt = scoped(select(AuditEntry), AuditEntry, principal()).order_by(AuditEntry.id.desc())
    return paginate(stmt, query, describe)
