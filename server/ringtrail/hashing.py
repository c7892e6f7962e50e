"""Keyed hashes: telling callers (and login e-mails and clients, erasure subjects, recovery
codes) apart without keeping what they are.

A plain SHA-256 of a phone number is no protection: there are only about 10^10 North
American numbers, and hashing them all takes minutes. Every hash here is an HMAC keyed
with a key derived from the app's ``SECRET_KEY`` for one purpose, so it cannot be
reversed by trying values without the key, and hashes made for one purpose say nothing
about another. Changing ``SECRET_KEY`` changes every hash: earlier callers then count as
new, and erasure by number finds only calls hashed under the current key.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from ringtrail import phones
from ringtrail.context import setting

CALLER = b"ringtrail caller hash v1"
LOGIN = b"ringtrail login limiter v1"
LOGIN_CLIENT = b"ringtrail login client fingerprint v1"
RECOVERY_CODE = b"ringtrail two-factor recovery code v1"


def _key(purpose: bytes, secret: str | bytes | None) -> bytes:
    secret = setting("SECRET_KEY") if secret is None else secret
    return _derived(purpose, secret.encode() if isinstance(secret, str) else secret)


@lru_cache(maxsize=64)
def _derived(purpose: bytes, secret: bytes) -> bytes:
    # Derived once per (purpose, key), not once per hash: a caller hash is on every call.
    return hmac.new(secret, purpose, hashlib.sha256).digest()


def keyed_hash(purpose: bytes, value: str, secret: str | bytes | None = None) -> str:
    """The keyed hash (64 hex) of ``value`` for one purpose."""
    return hmac.new(_key(purpose, secret), value.encode(), hashlib.sha256).hexdigest()


def caller_hash(number: str | None, secret: str | bytes | None = None) -> str | None:
    """The keyed hash of a caller's number, the same for every way it is written.

    None when the caller id is not a real number: withheld callers are not one caller.
    """
    return caller_hash_of_e164(phones.normalise(number), secret)


def caller_hash_of_e164(e164: str | None, secret: str | bytes | None = None) -> str | None:
    """:func:`caller_hash` of a number already read by :func:`phones.normalise`."""
    return None if e164 is None else keyed_hash(CALLER, e164, secret)
