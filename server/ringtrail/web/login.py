"""Dashboard logins: the session cookie, CSRF on forms, and who acts in this request.

The signed cookie holds a random token that names a login row on the server
(:mod:`ringtrail.accounts.logins`); the login is live only while that row is, so logout,
a password change and deactivation end it wherever the cookie has gone.

- :func:`current_principal` returns the :class:`~ringtrail.accounts.auth.Principal`
  acting in this request (an API key, else the logged-in user), or ``None``.
- :func:`login_required` guards dashboard views: ``@login_required()`` for any role,
  ``@login_required("agency_admin")`` for some roles only. Anonymous visitors are sent
  to ``/login``; a logged-in user whose role is not allowed gets 403; a user whose agency
  requires two-factor authentication and who has not enrolled is sent to enrol first.

Every form POST carries a CSRF token (Flask-WTF's ``CSRFProtect``; templates call
``{{ csrf_token() }}``); the public, telephony and API blueprints are exempt because they
authenticate otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Request, has_request_context, redirect, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from ringtrail.accounts import logins, twofactor
from ringtrail.accounts.auth import Principal, user_principal
from ringtrail.accounts.tenancy import get_or_404
from ringtrail.errors import Forbidden
from ringtrail.storage.models import LoginSession, User, utcnow
from ringtrail.storage.sql import get_db
from ringtrail.terms import ROLES

F = TypeVar("F", bound=Callable[..., Any])

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Secure session cookies, CSRF on forms, and the ``current_principal`` template global."""
    secure = app.config.get("SECURE_COOKIES")
    if secure is None:
        secure = urlsplit(app.config["PUBLIC_URL"]).scheme == "https"
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(secure),
        SESSION_COOKIE_NAME="ringtrail_session",
    )
    app.config["PERMANENT_SESSION_LIFETIME"] = int(app.config["LOGIN_HOURS"]) * 3600
    app.session_interface = CookieSessions()
    app.config.setdefault("WTF_CSRF_SSL_STRICT", bool(secure))
    csrf.init_app(app)
    app.jinja_env.globals["current_principal"] = current_principal


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, which make no signer for a request without the
    cookie (a carrier's webhook, the snippet's API): an empty session, as Flask's own
    would be, for none of its cost on the hot paths."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and "HTTP_COOKIE" not in request.environ:  # no cookie at all
            return self.session_class()
        return super().open_session(app, request)


def exempt_from_csrf(*blueprints) -> None:
    """Blueprints that authenticate otherwise (signatures, Bearer keys, public)."""
    for bp in blueprints:
        csrf.exempt(bp)


def login_user(user: User, *, pending: bool = False) -> None:
    """Start a fresh login for the user, or a pending one that still owes a second factor
    (the caller commits)."""
    session.clear()  # nothing from before the login survives it
    session.permanent = True
    session["sid"] = logins.start(get_db(), user, pending=pending)
    if not pending:
        user.last_login_at = utcnow()
    request.environ.pop(_CACHE, None)


def logout_user() -> None:
    """End this browser's login on the server, and forget the cookie (commits)."""
    db = get_db()
    logins.end(db, session.get("sid"))
    db.commit()
    session.clear()
    request.environ.pop(_CACHE, None)


def current_login() -> LoginSession | None:
    """This browser's live login row (pending or not), or None."""
    return logins.find(get_db(), session.get("sid"))


def _session_principal() -> Principal | None:
    row = current_login()
    if row is None or row.pending_second_factor:
        return None
    db = get_db()
    user = db.get(User, row.user_id)
    if user is None or not user.active:
        return None
    request.environ[_ENROL] = twofactor.must_enrol(db, user)
    return user_principal(user)


# Cached on the request, not on ``g``: an app context (and its ``g``) can outlive a
# request, and one request's principal must never act in the next.
_CACHE = "ringtrail.principal"
_ENROL = "ringtrail.must_enrol"


def current_principal() -> Principal | None:
    """Who is acting in this request: the API key, else the logged-in user, else None."""
    if not has_request_context():
        return None
    if _CACHE not in request.environ:
        request.environ[_CACHE] = _session_principal()
    return request.environ[_CACHE]


def set_principal(principal: Principal | None) -> None:
    """Make ``principal`` the actor of this request (used by API key authentication)."""
    request.environ[_CACHE] = principal


def login_required(*roles: str, enrolling: bool = False) -> Callable[[F], F]:
    """Dashboard view decorator: a logged-in user, with one of ``roles`` if any are given.

    ``enrolling`` marks the views a user who must enrol a second factor may still see.
    """
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            principal = current_principal()
            if principal is None or principal.kind != "user":
                target = request.full_path if request.query_string else request.path
                return redirect(url_for("dashboard.login", next=target))
            if request.environ.get(_ENROL) and not enrolling:
                return redirect(url_for("dashboard.account"))
            if roles and principal.role not in roles:
                raise Forbidden("your role does not allow this page")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def safe_next(target: str | None) -> str | None:
    """A local path to go to after login; never another host (open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target


def owned(model: type, object_id: Any) -> Any:
    """This request's principal's object of ``model`` with this id; NotFound (audited as
    "denied") if it is missing or another tenant's."""
    return get_or_404(model, object_id, current_principal())
