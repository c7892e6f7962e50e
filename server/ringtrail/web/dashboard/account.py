"""A person's own account: their password and their second factor."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ringtrail.accounts import access as people
from ringtrail.accounts import logins, twofactor
from ringtrail.errors import Conflict, Forbidden, Invalid
from ringtrail.storage.models import Agency, User
from ringtrail.storage.sql import get_db
from ringtrail.web.dashboard.blueprints import dashboard as bp
from ringtrail.web.login import current_login, current_principal, login_required, login_user

# Refusals a form shows as a message on the page.
REFUSED = (Invalid, Conflict, Forbidden)


def _me() -> User:
    return get_db().get(User, current_principal().id)


def _page(**shown):
    db, user = get_db(), _me()
    agency = db.get(Agency, user.agency_id)
    return render_template(
        "account.html",
        user=user,
        two_factor=twofactor.enabled(user),
        required=bool(agency and agency.require_two_factor),
        must_enrol=twofactor.must_enrol(db, user),
        **({"enrolment": None, "recovery_codes": None} | shown),
    )


@bp.get("/dashboard/account")
@login_required(enrolling=True)
def account():
    """Password and two-factor settings of the logged-in person."""
    return _page()


@bp.post("/dashboard/account/password")
@login_required(enrolling=True)
def change_password():
    """Change one's own password; every other login of the person ends."""
    db, user = get_db(), _me()
    try:
        people.change_password(
            db,
            current_principal(),
            user,
            request.form.get("current") or "",
            request.form.get("new") or "",
        )
    except REFUSED as exc:
        flash(str(exc), "error")
    else:
        login_user(user)  # a fresh token for this browser; every older cookie is dead
        db.commit()
        flash("Password changed. Every other login of yours has ended.", "success")
    return redirect(url_for("dashboard.account"))


@bp.post("/dashboard/account/two-factor")
@login_required(enrolling=True)
def begin_two_factor():
    """Show a new key, once, to add to an authenticator app."""
    try:
        enrolment = twofactor.begin(get_db(), _me())
    except REFUSED as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.account"))
    return _page(enrolment=enrolment)


@bp.post("/dashboard/account/two-factor/confirm")
@login_required(enrolling=True)
def confirm_two_factor():
    """Turn two-factor on with the app's first code; show the recovery codes, once."""
    db, user = get_db(), _me()
    try:
        codes = twofactor.confirm(db, current_principal(), user, request.form.get("code") or "")
    except REFUSED as exc:
        flash(f"{exc}. Start again with a new key.", "error")
        return redirect(url_for("dashboard.account"))
    logins.end_all(db, user.id, keep=current_login())  # other browsers log in again
    db.commit()
    flash("Two-factor authentication is on.", "success")
    return _page(recovery_codes=codes)


@bp.post("/dashboard/account/recovery-codes")
@login_required()
def renew_recovery_codes():
    """Ten new recovery codes, shown once; the old ones stop working."""
    try:
        codes = twofactor.renew_recovery_codes(get_db(), current_principal(), _me())
    except REFUSED as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.account"))
    return _page(recovery_codes=codes)


@bp.post("/dashboard/account/two-factor/off")
@login_required()
def disable_two_factor():
    """Turn two-factor off (the password must be strong enough alone)."""
    try:
        twofactor.disable(get_db(), current_principal(), _me(), request.form.get("password") or "")
    except REFUSED as exc:
        flash(str(exc), "error")
    else:
        flash("Two-factor authentication is off.", "success")
    return redirect(url_for("dashboard.account"))
