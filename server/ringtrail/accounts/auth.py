"""Who is acting, and their passwords.

A :class:`Principal` is whoever acts: a logged-in user, an API key, or the operator at
the command line. Services take it as an argument; the web layer finds it for each
request (``ringtrail.web.login``). Tenant scoping lives in
:mod:`ringtrail.accounts.tenancy`.

Passwords are normalised (NFKC) and hashed with Argon2id (``argon2-cffi``); what makes
one acceptable is in :mod:`ringtrail.accounts.passwords`.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ringtrail.accounts.passwords import normalise
from ringtrail.storage.models import User
from ringtrail.terms import EDITORS

_hasher = PasswordHasher()
# Verifying against this keeps an unknown email as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password")


@dataclass(frozen=True)
class Principal:
    """Who is acting, and over which tenant.

    ``kind`` is "user", "key" or "cli". ``agency_id`` is None only for the command line
    (which acts for the operator of the install). ``client_id`` is None when the
    principal sees every client of its agency. ``role`` is one of ``terms.ROLES``
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
        return self.role in EDITORS

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


# -- passwords ---------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An Argon2id hash of the (NFKC-normalised) password."""
    return _hasher.hash(normalise(password))


def _matches(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_password(user: User | None, password: str) -> bool:
    """True if ``password`` is the user's; spends the same time when there is no user."""
    normalised = normalise(password)
    stored = user.password_hash if user else _DUMMY_HASH
    matched = _matches(stored, normalised)
    legacy = False
    if not matched and normalised != password:
        # A password set before normalisation was hashed as typed: accept it, rehash it.
        matched = legacy = _matches(stored, password)
    if not matched or user is None or not user.active:
        return False
    if legacy or _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(normalised)
    return True
