"""Users, API keys and the audit log, for agency admins."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from ringtrail.accounts import access as people
from ringtrail.accounts import configuration
from ringtrail.accounts.tenancy import scoped
from ringtrail.errors import Conflict, Invalid
from ringtrail.storage.models import Agency, ApiKey, AuditEntry, Client, User
from ringtrail.storage.sql import get_db
from ringtrail.terms import ROLES
from ringtrail.web.dashboard.audit_log import readable
from ringtrail.web.dashboard.blueprints import dashboard as bp
from ringtrail.web.dashboard.forms import flash_refusal, load_form
from ringtrail.web.login import (
    current_principal,
    login_required,
    owned,
)
from ringtrail.web.schemas import (
    AgencyPatch,
    KeyIn,
    UserIn,
)

# Refusals a form shows as a message on the page; others (403, 404) are error pages.
REFUSED = (Invalid, Conflict)


# -- users and keys ---------------------------------------------------------------------


def _access_page(new_key: str | None = None) -> str:
    db, p = get_db(), current_principal()
    entries = scoped(select(AuditEntry), AuditEntry, p).order_by(AuditEntry.id.desc()).limit(50)
    return render_template(
        "settings_access.html",
        users=db.scalars(scoped(select(User).order_by(User.email), User, p)).all(),
        keys=db.scalars(scoped(select(ApiKey).order_by(ApiKey.id.desc()), ApiKey, p)).all(),
        clients=db.scalars(scoped(select(Client).order_by(Client.name), Client, p)).all(),
        entries=[readable(e) for e in db.scalars(entries)],
        roles=ROLES,
        new_key=new_key,
        agency=db.get(Agency, p.agency_id),
    )


@bp.get("/dashboard/access")
@login_required("agency_admin")
def access():
    """Users, API keys and the recent audit log of the agency."""
    return _access_page()


@bp.post("/dashboard/access/users")
@login_required("agency_admin")
def create_user():
    """Invite a user with a first password."""
    data = load_form(UserIn())
    if data is not None:
        try:
            user = people.create_user(get_db(), current_principal(), data)
        except REFUSED as exc:
            flash(str(exc), "error")
        else:
            flash(f"User {user.email} created.", "success")
    return redirect(url_for("dashboard.access"))


@bp.post("/dashboard/access/users/<int:user_id>/active")
@login_required("agency_admin")
def toggle_user(user_id: int):
    """Deactivate or reactivate a user; their sessions end at once."""
    user = owned(User, user_id)
    try:
        people.update_user(get_db(), current_principal(), user, {"active": not user.active})
    except REFUSED as exc:
        flash(str(exc), "error")
    else:
        flash(f"{user.email} is now {'active' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("dashboard.access"))


@bp.post("/dashboard/access/keys")
@login_required("agency_admin")
def create_key():
    """Create an API key and show it, this once."""
    data = load_form(KeyIn())
    if data is None:
        return redirect(url_for("dashboard.access"))
    key, raw = people.create_key(get_db(), current_principal(), data)
    flash(f"Key “{key.name}” created. Copy it now: it will not be shown again.", "success")
    # The key is rendered into this one answer; never into a URL, a log or the session.
    return _access_page(new_key=raw)


@bp.post("/dashboard/access/keys/<int:key_id>/revoke")
@login_required("agency_admin")
def revoke_key(key_id: int):
    """Revoke a key with immediate effect."""
    key = people.revoke_key(get_db(), current_principal(), owned(ApiKey, key_id))
    flash(f"Key {key.prefix}… revoked.", "success")
    return redirect(url_for("dashboard.access"))


@bp.post("/dashboard/access/default-forward")
@login_required("agency_admin")
def default_forward():
    """Set (or clear) where calls to numbers Ringtrail does not route go."""
    data = load_form(AgencyPatch())
    if data is None:
        return _access_page(), 422
    try:
        agency = configuration.update_agency(get_db(), current_principal(), data)
    except REFUSED as exc:
        return _access_page(), flash_refusal(exc)
    if agency.default_forward_number:
        flash(f"Calls to unknown numbers now go to {agency.default_forward_number}.", "success")
    else:
        flash("Calls to unknown numbers now go to the server's default number.", "success")
    return redirect(url_for("dashboard.access"))


@bp.post("/dashboard/access/two-factor")
@login_required("agency_admin")
def require_two_factor():
    """Require two-factor authentication of everyone in the agency (or stop requiring it)."""
    required = request.form.get("required") == "on"
    people.require_two_factor(get_db(), current_principal(), required)
    if required:
        flash("Two-factor is now required: users without it enrol at their next step.", "success")
    else:
        flash("Two-factor is no longer required.", "success")
    return redirect(url_for("dashboard.access"))
