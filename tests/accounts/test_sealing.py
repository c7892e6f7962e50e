"""Carrier tokens and TOTP seeds are sealed at rest: never in clear in SQL or in the
routing snapshot on disk; calls still validate; ``ringtrail migrate`` seals what an older
release left in clear; ``ringtrail secrets rotate`` moves every secret to the newest key."""

from __future__ import annotations

import json
import os
import time

import pyotp
import pytest
from sqlalchemy import text

from ringtrail.accounts import twofactor
from ringtrail.accounts.auth import cli_principal
from ringtrail.cli import main
from ringtrail.crypto import SecretUnreadable, new_key, seal, unseal
from ringtrail.storage.models import Agency, User
from tests.helpers import call_params, make_site, make_user, twilio_post

VOICE = "/telephony/twilio/voice"


def stored_tokens(db) -> list[str]:
    """The tokens as SQL holds them, read past the ORM."""
    rows = db.execute(
        text("SELECT twilio_auth_token, twilio_previous_auth_token FROM agencies")
    ).all()
    return [value for row in rows for value in row if value is not None]


def snapshot_on_disk(app) -> str:
    from ringtrail.tracking.directory import get_directory

    get_directory().get()  # a load writes the copy on disk
    with open(os.path.join(app.instance_path, "directory.json")) as fh:
        return fh.read()


def rings(client, setup, token) -> int:
    """Status of a voice webhook for the setup's first number, signed with ``token``."""
    return twilio_post(client, VOICE, call_params(setup, setup.numbers[0]), token).status_code


def test_tokens_are_sealed_in_sql_and_in_the_snapshot_on_disk(app, client, db):
    setup = make_site(db, numbers=2)
    previous = "f" * 32
    setup.agency.twilio_previous_auth_token = seal(previous)
    db.commit()
    stored = stored_tokens(db)
    assert len(stored) == 2 and all(value.startswith("fernet:") for value in stored)
    assert setup.token not in " ".join(stored) and previous not in " ".join(stored)
    on_disk = snapshot_on_disk(app)
    assert setup.token not in on_disk and previous not in on_disk
    assert json.loads(on_disk)["tokens"][str(setup.agency.id)][1] == stored
    # Calls signed with either token still validate; anything else is refused.
    assert rings(client, setup, setup.token) == 200
    assert rings(client, setup, previous) == 200
    assert rings(client, setup, "0" * 32) == 403
    assert rings(client, setup, stored[0]) == 403  # the sealed form is no token


def test_the_demo_seeds_a_sealed_token_and_hands_out_the_clear_one(app, db):
    from ringtrail.demo.seed import seed_demo

    info = seed_demo(db, app.config["PUBLIC_URL"])
    stored = stored_tokens(db)
    assert stored[0].startswith("fernet:") and info["auth_token"] not in stored[0]
    assert unseal(stored[0]) == info["auth_token"]


def test_migrate_seals_tokens_an_older_release_left_in_clear(app, client, db):
    setup = make_site(db, numbers=1)
    db.execute(
        text("UPDATE agencies SET twilio_auth_token = :t, twilio_previous_auth_token = :p"),
        {"t": setup.token, "p": "e" * 32},
    )
    db.commit()
    assert rings(client, setup, setup.token) == 200  # clear values still work meanwhile
    result = app.test_cli_runner().invoke(main, ["migrate"])
    assert result.exit_code == 0 and "2 secret(s) sealed" in result.output, result.output
    stored = stored_tokens(db)
    assert all(v.startswith("fernet:") for v in stored) and setup.token not in " ".join(stored)
    assert [unseal(v) for v in stored] == [setup.token, "e" * 32]
    assert rings(client, setup, setup.token) == 200
    result = app.test_cli_runner().invoke(main, ["migrate"])
    assert "sealed" not in result.output  # nothing left in clear the second time


@pytest.fixture
def keys(app_config):
    """Two keys; the app starts with the first only."""
    old, new = new_key(), new_key()
    app_config["ENCRYPTION_KEYS"] = old
    return old, new


def test_rotation_reseals_every_secret_with_the_newest_key(keys, app, client, db):
    old, new = keys
    setup = make_site(db, numbers=1)
    setup.agency.twilio_previous_auth_token = seal("d" * 32)
    user = make_user(db, setup)
    twofactor.begin(db, user)
    seed = unseal(user.two_factor_secret)
    twofactor.confirm(db, cli_principal(), user, pyotp.TOTP(seed).now())
    before = stored_tokens(db) + [user.two_factor_secret]

    app.config["ENCRYPTION_KEYS"] = f"{new},{old}"  # step 1: the new key first
    result = app.test_cli_runner().invoke(main, ["secrets", "rotate"])
    assert result.exit_code == 0 and "3 secret(s) sealed" in result.output, result.output
    db.expire_all()
    seed_after = db.get(User, user.id).two_factor_secret
    after = stored_tokens(db) + [seed_after]
    assert all(a != b for a, b in zip(before, after, strict=True))

    app.config["ENCRYPTION_KEYS"] = new  # step 2: the old key dropped
    assert [unseal(v) for v in after] == [setup.token, "d" * 32, seed]
    assert rings(client, setup, setup.token) == 200
    assert rings(client, setup, "d" * 32) == 200
    later = pyotp.TOTP(seed).at(time.time() + 30)  # the step after the one confirmed
    assert twofactor.verify(db, db.get(User, user.id), later)
    app.config["ENCRYPTION_KEYS"] = old  # the old key alone opens nothing any more
    with pytest.raises(SecretUnreadable):
        unseal(after[0])


def test_rotation_without_the_old_key_refuses_and_changes_nothing(keys, app, db):
    _, new = keys
    make_site(db, numbers=1)
    before = stored_tokens(db)
    app.config["ENCRYPTION_KEYS"] = new  # the old key dropped too early
    result = app.test_cli_runner().invoke(main, ["secrets", "rotate"])
    assert result.exit_code == 1 and "keep the old key" in result.output
    db.rollback()
    assert stored_tokens(db) == before


def test_rotation_reseals_the_carrier_api_key_secret(keys, app, db):
    old, new = keys
    setup = make_site(db, numbers=1)
    setup.agency.twilio_api_key_sid = "SK" + "0" * 32
    setup.agency.twilio_api_key_secret = seal("api-key-secret-0123456789")
    db.commit()
    before = setup.agency.twilio_api_key_secret
    app.config["ENCRYPTION_KEYS"] = f"{new},{old}"
    result = app.test_cli_runner().invoke(main, ["secrets", "rotate"])
    assert result.exit_code == 0 and "2 secret(s) sealed" in result.output, result.output
    db.expire_all()
    after = db.get(Agency, setup.agency.id).twilio_api_key_secret
    assert after != before
    app.config["ENCRYPTION_KEYS"] = new
    assert unseal(after) == "api-key-secret-0123456789"
