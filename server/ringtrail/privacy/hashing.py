"""Caller numbers as keyed hashes: repeat callers can be told apart without the number.

A plain SHA-256 of a phone number is no protection: there are only about 10^10 North
American numbers, and hashing them all takes minutes. The hash is therefore an HMAC keyed
with a key derived from the app's ``SECRET_KEY``; without the key it cannot be reversed
by trying numbers. Changing ``SECRET_KEY`` changes every hash, so earlier callers then
count as new (and erasure by number finds only calls hashed under the current key).
"""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers
from flask import current_app

# Caller ids Twilio uses for withheld numbers; every such call would look like one caller.
ANONYMOUS = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"})


def normalise(raw: str | None) -> str | None:
    """The number in E.164 if it is a real one; None for anonymous, sip:, client: and junk."""
    if not raw or raw.strip() in ANONYMOUS:
        return None
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None if e164 in ANONYMOUS else e164


def _key(secret: str | bytes) -> bytes:
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, b"ringtrail caller hash v1", hashlib.sha256).digest()


def caller_hash(number: str | None, secret: str | bytes | None = None) -> str | None:
    """The keyed hash (64 hex) of a caller's number, the same for every way it is written.

    None when the caller id is not a real number: anonymous callers are not one caller.
    """
    e164 = normalise(number)
    if e164 is None:
        return None
    key = _key(secret if secret is not None else current_app.config["SECRET_KEY"])
    return hmac.new(key, e164.encode(), hashlib.sha256).hexdigest()
