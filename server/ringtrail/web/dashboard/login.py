"""Logging in and out of the dashboard."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from sqlalchemy import func, select

from ringtrail.accounts import audit, ratelimit
from ringtrail.accounts.auth import verify_password
from ringtrail.errors import Conflict, Invalid
from ringtrail.storage.models import User
from ringtrail.storage.sql import get_db
from ringtrail.web.dashboard.blueprints import dashboard as bp
from ringtrail.web.login import (
    current_principal,
    login_user,
    logout_user,
    safe_next,
)

# Refusals a form shows as a message on the page; others (403, 404) are error pages.
REFUSED = (Invalid, Conflict)


# -- login ------------------------------------------------------------------------------


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
    throttle = (
        ratelimit.hit(ratelimit.login_identity(email), ratelimit.LOGIN_LIMITS) if email else None
    )
    if throttle is not None and not throttle.allowed:
        minutes = max(1, throttle.retry_after // 60)
        error = f"Too many attempts. Try again in {minutes} minute(s)."
        return render_template("login.html", error=error, email=email, next=next_url), 429
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
        error = "Wrong email or password."
        return render_template("login.html", error=error, email=email, next=next_url), 401
    login_user(user)
    db.commit()
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """End the session (a POST with the CSRF token, so no page can log you out)."""
    logout_user()
    return redirect(url_for("dashboard.login"))
