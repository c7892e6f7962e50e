"""Who is acting: dashboard logins (session cookie) and API keys (Bearer header).

The public interface other modules use:

- :func:`current_principal` returns the :class:`Principal` acting in this request (a
  logged-in user or an API key), or ``None``.
- :func:`login_required` guards dashboard views: ``@login_required()`` for any role,
  ``@login_required("agency_admin")`` for some roles only. Anonymous visitors are sent
  to ``/login``; a logged-in user whose role is not allowed gets 403.
- Tenant scoping lives in :mod:`server.tenancy` (``scoped`` and ``get_or_404``).

Passwords are hashed with Argon2id (``argon2-cffi``). Every form POST carries a CSRF
token (Flask-WTF's ``CSRFProtect``; templates call ``{{ csrf_token() }}``); the public,
telephony and API blueprints are exempt because they authenticate otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, abort, has_request_context, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from ringtrail.storage.models import ROLES, User, utcnow

F = TypeVar("F", bound=Callable[..., Any])

csrf = CSRFProtect()
_hasher = PasswordHasher()
# Verifying against this keeps an unknown email as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password")

MIN_PASSWORD = 10


@dataclass(frozen=True)
class Principal:
    """Who is acting, and over which tenant.

    ``kind`` is "user", "key" or "cli". ``agency_id`` is None only for the command line
    (which acts for the operator of the install). ``client_id`` is None when the
    principal sees every client of its agency. ``role`` is one of ``models.ROLES``
    (API keys act as "agency_admin" when agency-scoped, "client_manager" otherwise).
    """

    kind: str
    id: int | None
    agency_id: int | None
    client_id: int | None
    role: str
    label: str

    @property
    def can_edit(self) -> bool:
        """May change configuration (sites, pools, numbers)."""
        return self.role in ("agency_admin", "client_manager")

    @property
    def is_agency_admin(self) -> bool:
        """Sees and manages the whole agency: clients, users and keys."""
        return self.role == "agency_admin" and self.client_id is None


def cli_principal() -> Principal:
    """The operator at the command line: every tenant."""
    return Principal("cli", None, None, None, "agency_admin", "cli")


def user_principal(user: User) -> Principal:
    """The principal of a logged-in user."""
    return Principal("user", user.id, user.agency_id, user.client_id, user.role, user.email)


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
    app.config["PERMANENT_SESSION_LIFETIME"] = app.config.get("LOGIN_HOURS", 12) * 3600
    app.config.setdefault("WTF_CSRF_SSL_STRICT", bool(secure))
    csrf.init_app(app)
    app.jinja_env.globals["current_principal"] = current_principal


def exempt_from_csrf(*blueprints) -> None:
    """Blueprints that authenticate otherwise (signatures, Bearer keys, public)."""
    for bp in blueprints:
        csrf.exempt(bp)


# -- passwords ---------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An Argon2id hash of the password."""
    return _hasher.hash(password)


def check_password_strength(password: str) -> str | None:
    """A reason the password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD:
        return f"password must be at least {MIN_PASSWORD} characters"
    if len(password) > 1000:
        return "password is too long"
    return None


def verify_password(user: User | None, password: str) -> bool:
    """True if ``password`` is the user's; spends the same time when there is no user."""
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    if user is None or not user.active:
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


# -- sessions ----------------------------------------------------------------------------


def login_user(user: User) -> None:
    """Start a fresh dashboard session for the user (the caller commits)."""
    session.clear()  # nothing from before the login survives it
    session.permanent = True
    session["uid"] = user.id
    session["ver"] = user.session_version
    user.last_login_at = utcnow()
    request.environ.pop(_CACHE, None)


def logout_user() -> None:
    """End the dashboard session."""
    session.clear()
    request.environ.pop(_CACHE, None)


def _session_principal() -> Principal | None:
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None
    from ringtrail.storage.sql import get_db

    user = get_db().get(User, uid)
    if user is None or not user.active or user.session_version != session.get("ver"):
        session.clear()
        return None
    return user_principal(user)


# Cached on the request, not on ``g``: an app context (and its ``g``) can outlive a
# request, and one request's principal must never act in the next.
_CACHE = "ringtrail.principal"


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


def login_required(*roles: str) -> Callable[[F], F]:
    """Dashboard view decorator: a logged-in user, with one of ``roles`` if any are given."""
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
            if roles and principal.role not in roles:
                abort(403)
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
