"""API keys: 256 random bits, shown once, stored only as a SHA-256 hash.

A key looks like ``rt_`` + 43 url-safe characters. Its first 12 characters (the
``prefix``) are kept so people can tell keys apart in lists; they do not help guess the
rest. Every request looks the hash up in SQL, so a revocation takes effect on the very
next request: there is no cache to outlive it. Keys travel only in the
``Authorization: Bearer`` header, never in a URL, so access logs never carry them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ringtrail.accounts.auth import Principal
from ringtrail.storage.models import ApiKey, utcnow

PREFIX = "rt_"
SHOWN = 12  # characters of the key kept in clear, prefix included
TOUCH_EVERY = timedelta(seconds=60)  # last_used_at is written at most this often


def new_key() -> tuple[str, str, str]:
    """A fresh key: (the key, its shown prefix, its hash)."""
    raw = PREFIX + secrets.token_urlsafe(32)
    return raw, raw[:SHOWN], hash_key(raw)


def hash_key(raw: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()


def authenticate(db: Session, raw: str) -> ApiKey | None:
    """The live key with this value, or None (unknown or revoked)."""
    digest = hash_key(raw)
    key = db.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.key_hash, digest):  # belt and braces
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
        db.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        db.commit()
    return key


def key_principal(key: ApiKey) -> Principal:
    """The principal a key acts as: an agency admin, or the manager of one client."""
    role = "agency_admin" if key.client_id is None else "client_manager"
    return Principal("key", key.id, key.agency_id, key.client_id, role, key.prefix)
