"""Admin API: who am I, users, API keys and the audit log (agency keys only)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import select

from ringtrail.accounts import configuration as admin
from ringtrail.accounts.audit import describe
from ringtrail.accounts.auth import current_principal
from ringtrail.accounts.tenancy import get_or_404, scoped
from ringtrail.storage.models import ApiKey, AuditEntry, User
from ringtrail.storage.sql import get_db
from ringtrail.web.api import bp
from ringtrail.web.schemas import (
    AuditOut,
    KeyIn,
    KeyOut,
    NewKeyOut,
    PageQuery,
    UserIn,
    UserOut,
    UserPatch,
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
    return current_principal()


@bp.get("/users")
@bp.doc(tags=["access"])
@bp.response(200, UserOut(many=True))
def list_users():
    """The agency's dashboard users."""
    admin.require_admin(current_principal())
    return get_db().scalars(scoped(select(User).order_by(User.id), User)).all()


@bp.post("/users")
@bp.doc(tags=["access"])
@bp.arguments(UserIn)
@bp.response(201, UserOut)
def create_user(data: dict[str, Any]):
    """Create a dashboard user; client managers and report-only users need a client_id."""
    return admin.create_user(get_db(), current_principal(), data)


@bp.get("/users/<int:user_id>")
@bp.doc(tags=["access"])
@bp.response(200, UserOut)
def get_user(user_id: int):
    """One user."""
    admin.require_admin(current_principal())
    return get_or_404(User, user_id)


@bp.patch("/users/<int:user_id>")
@bp.doc(tags=["access"])
@bp.arguments(UserPatch)
@bp.response(200, UserOut)
def update_user(data: dict[str, Any], user_id: int):
    """Rename a user, reset their password or deactivate them (their sessions end)."""
    return admin.update_user(get_db(), current_principal(), get_or_404(User, user_id), data)


@bp.get("/keys")
@bp.doc(tags=["access"])
@bp.response(200, KeyOut(many=True))
def list_keys():
    """The agency's API keys (prefixes only; keys are never shown again)."""
    admin.require_admin(current_principal())
    return get_db().scalars(scoped(select(ApiKey).order_by(ApiKey.id), ApiKey)).all()


@bp.post("/keys")
@bp.doc(tags=["access"])
@bp.arguments(KeyIn)
@bp.response(201, NewKeyOut)
def create_key(data: dict[str, Any]):
    """Create a key for the agency or one client. The answer holds the key, once."""
    key, raw = admin.create_key(get_db(), current_principal(), data)
    return {**{name: getattr(key, name) for name in KeyOut().fields}, "key": raw}


@bp.get("/keys/<int:key_id>")
@bp.doc(tags=["access"])
@bp.response(200, KeyOut)
def get_key(key_id: int):
    """One key (without the key itself)."""
    admin.require_admin(current_principal())
    return get_or_404(ApiKey, key_id)


@bp.delete("/keys/<int:key_id>")
@bp.doc(tags=["access"])
@bp.response(200, KeyOut)
def revoke_key(key_id: int):
    """Revoke a key; it is refused from the next request on."""
    return admin.revoke_key(get_db(), current_principal(), get_or_404(ApiKey, key_id))


@bp.get("/audit")
@bp.doc(tags=["access"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, AuditOut(many=True))
def list_audit(query: dict[str, Any]):
    """The audit log, newest first: changes, key and user management, denied attempts."""
    admin.require_admin(current_principal())
    page, per_page = query["page"], query["per_page"]
    entries = get_db().scalars(
        scoped(select(AuditEntry), AuditEntry)
        .order_by(AuditEntry.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [describe(e) for e in entries]
