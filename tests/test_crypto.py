"""Secrets at rest are sealed, open with any configured key, and rotate."""

from __future__ import annotations

import pytest

from ringtrail import crypto


def test_a_sealed_secret_is_not_the_secret_and_opens_again(app):
    with app.app_context():
        sealed = crypto.seal("auth-token-123")
        assert sealed.startswith("fernet:") and "auth-token-123" not in sealed
        assert crypto.seal("auth-token-123") != sealed  # a fresh IV every time
        assert crypto.unseal(sealed) == "auth-token-123"
        assert crypto.unseal(None) is None and crypto.seal(None) is None
        assert crypto.unseal("stored in clear long ago") == "stored in clear long ago"


def test_keys_rotate_without_losing_a_secret(app):
    old, new = crypto.new_key(), crypto.new_key()
    with app.app_context():
        app.config["ENCRYPTION_KEYS"] = old
        sealed = crypto.seal("token")
        app.config["ENCRYPTION_KEYS"] = f"{new},{old}"
        assert crypto.unseal(sealed) == "token"
        rotated = crypto.reseal(sealed)
        assert crypto.reseal("clear") != "clear"
        app.config["ENCRYPTION_KEYS"] = new
        assert crypto.unseal(rotated) == "token"
        with pytest.raises(crypto.SecretUnreadable):
            crypto.unseal(sealed)


def test_without_keys_the_key_is_derived_from_the_secret_key(app):
    with app.app_context():
        app.config["ENCRYPTION_KEYS"] = None
        sealed = crypto.seal("token")
        app.config["SECRET_KEY"] = "another secret"
        with pytest.raises(crypto.SecretUnreadable):
            crypto.unseal(sealed)
