"""Secrets at rest: what Ringtrail must be able to read back (a carrier's auth token, a
TOTP seed) is stored sealed with Fernet (AES-128-CBC with an HMAC-SHA256, from the
well-kept ``cryptography`` library), never in clear.

Keys come from ``RINGTRAIL_ENCRYPTION_KEYS``: Fernet keys, newest first, separated by
commas. The newest seals; every key opens, so a key can be rotated without downtime:
put the new key first, run ``ringtrail secrets rotate`` (everything is sealed again with
it), then drop the old one. Without the setting, one key is derived from the app's
``SECRET_KEY`` for this purpose only: a copy of the database alone then reveals nothing.

Sealed values start with ``fernet:`` so that a value stored before sealing existed is
recognised and sealed on its next rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ringtrail.context import setting

PREFIX = "fernet:"
DERIVED = b"ringtrail encryption key v1"


class SecretUnreadable(Exception):
    """A sealed value that none of the configured keys opens."""


def _keys() -> list[bytes]:
    configured = setting("ENCRYPTION_KEYS")
    if isinstance(configured, str):
        configured = [k for k in (part.strip() for part in configured.split(",")) if k]
    if configured:
        return [k.encode() if isinstance(k, str) else k for k in configured]
    secret = str(setting("SECRET_KEY")).encode()
    return [base64.urlsafe_b64encode(hmac.new(secret, DERIVED, hashlib.sha256).digest())]


def _box() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys()])


def is_sealed(value: str | None) -> bool:
    """Whether a stored value is sealed (rather than clear, from before sealing)."""
    return bool(value) and value.startswith(PREFIX)


def seal(value: str | None) -> str | None:
    """The value sealed with the newest key; None stays None."""
    if value is None:
        return None
    return PREFIX + _box().encrypt(value.encode()).decode()


def unseal(stored: str | None) -> str | None:
    """A stored value opened (a clear one from before sealing is returned as it is)."""
    if stored is None or not is_sealed(stored):
        return stored
    try:
        return _box().decrypt(stored.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("no configured encryption key opens this secret") from None


def reseal(stored: str | None) -> str | None:
    """A stored value sealed again with the newest key (rotation); clear ones get sealed."""
    if stored is None:
        return None
    if not is_sealed(stored):
        return seal(stored)
    try:
        token = _box().rotate(stored.removeprefix(PREFIX).encode())
    except InvalidToken:
        raise SecretUnreadable("no configured encryption key opens this secret") from None
    return PREFIX + token.decode()


def new_key() -> str:
    """A fresh Fernet key, for ``RINGTRAIL_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode()
