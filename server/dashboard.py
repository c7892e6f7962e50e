"""The dashboard for people: login and logout, settings, users and API keys.

Report pages live in ``reportpages.py``; every page extends ``templates/base.html``.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select

from . import audit
from .auth import (
    current_principal,
    login_required,
    login_user,
    logout_user,
    safe_next,
    verify_password,
)
from .db import get_db
from .models import User

bp = Blueprint("dashboard", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; on success, go where the user was headed (or the overview)."""
    next_url = safe_next(request.args.get("next")) or "/dashboard"
    if request.method == "GET":
        if current_principal() is not None:
            return redirect(next_url)
        return render_template("login.html", error=None, email="", next=next_url)
    email = (request.form.get("email") or "").strip().lower()[:254]
    password = request.form.get("password") or ""
    db = get_db()
    user = db.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    if not verify_password(user, password[:1000]):
        audit.record_now(
            "login_failed",
            "user",
            user.id if user else None,
            {"email": email},
            agency_id=user.agency_id if user else None,
        )
        return (
            render_template(
                "login.html", error="Wrong email or password.", email=email, next=next_url
            ),
            401,
        )
    login_user(user)
    db.commit()
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """End the session (a POST with the CSRF token, so no page can log you out)."""
    logout_user()
    return redirect(url_for("dashboard.login"))


@bp.get("/dashboard/settings")
@login_required()
def settings():
    """Sites, pools and numbers of the clients the user may see."""
    return render_template("settings.html")


@bp.get("/dashboard/access")
@login_required("agency_admin")
def access():
    """Users and API keys of the agency."""
    return render_template("settings_access.html")
