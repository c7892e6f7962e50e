"""Logging in and out of the dashboard: password, then the second factor if the person has
one, each attempt throttled (``accounts/throttle.py``)."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select

from ringtrail.accounts import audit, logins, throttle, twofactor
from ringtrail.accounts.auth import verify_password
from ringtrail.errors import Conflict, Invalid
from ringtrail.storage.models import User
from ringtrail.storage.sql import get_db
from ringtrail.web.addresses import client_address
from ringtrail.web.dashboard.blueprints import dashboard as bp
from ringtrail.web.login import (
    current_login,
    current_principal,
    login_user,
    logout_user,
    safe_next,
)
from ringtrail.web.words import plural

# Refusals a form shows as a message on the page; others (403, 404) are error pages.
REFUSED = (Invalid, Conflict)

# A browser that has logged in to an account carries the account's keyed e-mail hash,
# signed: the throttle then never holds it up for failures made elsewhere.
KNOWN_COOKIE = "ringtrail_known"
KNOWN_DAYS = 90
KNOWN_MAX = 5  # accounts remembered per browser


def _known() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="ringtrail known device")


def _known_hashes() -> list[str]:
    raw = request.cookies.get(KNOWN_COOKIE)
    try:
        hashes = _known().loads(raw, max_age=KNOWN_DAYS * 86400) if raw else []
    except BadSignature:
        return []
    return [h for h in hashes if isinstance(h, str)] if isinstance(hashes, list) else []


def _remember(response, email: str):
    mine = throttle.email_hash(email)
    hashes = [mine, *(h for h in _known_hashes() if h != mine)][:KNOWN_MAX]
    response.set_cookie(
        KNOWN_COOKIE,
        _known().dumps(hashes),
        max_age=KNOWN_DAYS * 86400,
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        samesite="Lax",
    )
    return response


def _client() -> str:
    return throttle.client_fingerprint(client_address(), request.headers.get("User-Agent"))


def _too_many(template: str, verdict: throttle.Verdict, **context):
    wait = verdict.retry_after
    when = plural(wait, "second") if wait < 120 else plural(wait // 60, "minute")
    error = f"Too many attempts. Try again in {when}."
    page = render_template(template, error=error, **context)
    return page, 429, {"Retry-After": str(wait)}


# -- login ------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; on success, the second factor if any, then where the user was
    headed (or the overview)."""
    next_url = safe_next(request.args.get("next")) or "/dashboard"
    if request.method == "GET":
        if current_principal() is not None:
            return redirect(next_url)
        return render_template("login.html", error=None, email="", next=next_url)
    email = (request.form.get("email") or "").strip().lower()[:254]
    password = request.form.get("password") or ""
    client = _client()
    if email:
        known = throttle.email_hash(email) in _known_hashes()
        verdict = throttle.check(email, client, known_device=known)
        if not verdict.allowed:
            return _too_many("login.html", verdict, email=email, next=next_url)
    db = get_db()
    user = db.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    if not verify_password(user, password[:1000]):
        if email:
            throttle.failed(email, client)
        audit.record_now(
            "login_failed",
            "user",
            user.id if user else None,
            {"email": email},
            agency_id=user.agency_id if user else None,
        )
        error = "Wrong email or password."
        return render_template("login.html", error=error, email=email, next=next_url), 401
    if twofactor.enabled(user):
        login_user(user, pending=True)
        db.commit()
        return redirect(url_for("dashboard.login_code", next=next_url))
    throttle.succeeded(email, client)
    login_user(user)
    db.commit()
    return _remember(redirect(next_url), email)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """The second step of a login: a code from the authenticator app, or a recovery code."""
    next_url = safe_next(request.args.get("next")) or "/dashboard"
    db = get_db()
    pending = current_login()
    if pending is None or not pending.pending_second_factor:
        return redirect(url_for("dashboard.login", next=next_url))
    if request.method == "GET":
        return render_template("login_code.html", error=None, next=next_url)
    user = db.get(User, pending.user_id)
    client = _client()
    known = throttle.email_hash(user.email) in _known_hashes()
    verdict = throttle.check(user.email, client, known_device=known)
    if not verdict.allowed:
        return _too_many("login_code.html", verdict, next=next_url)
    if user.active and twofactor.verify(db, user, request.form.get("code") or ""):
        throttle.succeeded(user.email, client)
        db.delete(pending)
        login_user(user)
        db.commit()
        return _remember(redirect(next_url), user.email)
    db.rollback()  # a refused code changes nothing but the counts below
    pending = current_login()
    throttle.failed(user.email, client)
    audit.record_now(
        "login_failed", "user", user.id, {"second_factor": True}, agency_id=user.agency_id
    )
    if pending is None or logins.code_failed(db, pending):
        db.commit()
        logout_user()
        error = "Too many wrong codes. Log in again."
        return render_template("login.html", error=error, email="", next=next_url), 401
    db.commit()
    error = "That code is not right, or was used already."
    return render_template("login_code.html", error=error, next=next_url), 401


@bp.post("/logout")
def logout():
    """End the session (a POST with the CSRF token, so no page can log you out)."""
    logout_user()
    return redirect(url_for("dashboard.login"))
