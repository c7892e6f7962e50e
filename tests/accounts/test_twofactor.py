"""Two-factor authentication: enrolment shown once, a sealed seed, codes at login, no
replay, one-time recovery codes, and an agency that requires it of everyone."""

from __future__ import annotations

import html
import re
import time

import pyotp
import pytest
from sqlalchemy import func, select

from ringtrail.accounts import access, twofactor
from ringtrail.accounts.auth import cli_principal
from ringtrail.storage.models import Agency, RecoveryCode, User
from tests.helpers import make_site

EMAIL = "owner@agency.example"
PASSWORD = "correct horse battery"


def in_db(app, fn):
    from ringtrail.storage.sql import get_db

    with app.app_context():
        return fn(get_db())


def csrf(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def password_step(client, email=EMAIL, password=PASSWORD):
    data = {"email": email, "password": password, "csrf_token": csrf(client)}
    return client.post("/login", data=data)


def code_step(client, code):
    data = {"code": code, "csrf_token": csrf(client, "/login/code")}
    return client.post("/login/code", data=data)


@pytest.fixture
def owner(app):
    def build(db):
        setup = make_site(db, numbers=1)
        payload = {"email": EMAIL, "role": "agency_admin", "password": PASSWORD}
        return access.create_user(db, cli_principal(), payload, setup.agency.id).id

    return in_db(app, build)


def enrol(client) -> tuple[str, list[str]]:
    """Enrol through the account page; returns the seed and the recovery codes."""
    token = csrf(client, "/dashboard/account")
    page = client.post("/dashboard/account/two-factor", data={"csrf_token": token})
    text = page.get_data(as_text=True)
    key = re.search(r'id="totp-key">([^<]+)<', text).group(1).replace(" ", "")
    uri = html.unescape(re.search(r'id="totp-uri"><a href="([^"]+)"', text).group(1))
    assert uri.startswith("otpauth://totp/Ringtrail:") and f"secret={key}" in uri
    # The code of the step before: the current one stays free for the login that follows.
    code = pyotp.TOTP(key).at(time.time() - 30)
    res = client.post(
        "/dashboard/account/two-factor/confirm", data={"csrf_token": token, "code": code}
    )
    codes = re.findall(r"<li>([a-z0-9]{5}-[a-z0-9]{5})</li>", res.get_data(as_text=True))
    return key, codes


def test_enrolment_shows_the_key_once_and_stores_it_sealed(app, client, owner):
    assert password_step(client).status_code == 302
    key, codes = enrol(client)
    assert len(codes) == 10 == len(set(codes))
    user = in_db(app, lambda db: db.get(User, owner))
    assert user.two_factor_enabled_at is not None
    assert user.two_factor_secret.startswith("fernet:") and key not in user.two_factor_secret
    with app.app_context():
        from ringtrail.crypto import unseal

        assert unseal(user.two_factor_secret) == key
    stored = in_db(app, lambda db: db.scalars(select(RecoveryCode.code_hash)).all())
    assert len(stored) == 10 and not any(c.replace("-", "") in h for c in codes for h in stored)
    page = client.get("/dashboard/account").get_data(as_text=True)
    assert key not in page and codes[0] not in page  # never shown again
    assert "Two-factor authentication" in page and "On since" in page


def test_a_login_asks_for_the_code_and_refuses_it_a_second_time(app, client, owner):
    password_step(client)
    key, _ = enrol(client)
    client.post("/logout", data={"csrf_token": csrf(client, "/dashboard")})
    res = password_step(client)
    assert res.status_code == 302 and res.location.startswith("/login/code")
    # The password alone opens nothing.
    assert client.get("/dashboard").location.startswith("/login")
    code = pyotp.TOTP(key).now()
    res = code_step(client, code)
    assert res.status_code == 302 and res.location == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    # The same code, seen over a shoulder, a moment later from another browser: refused.
    thief = app.test_client()
    assert password_step(thief).status_code == 302
    res = code_step(thief, code)
    assert res.status_code == 401 and "used already" in res.get_data(as_text=True)
    assert thief.get("/dashboard").location.startswith("/login")


def test_replayed_codes_are_refused_within_the_same_step(app, owner):
    """The service itself, with injected time: a code works once per 30-second step, and a
    code from an earlier step never works after a later one."""
    now = 1_800_000_015.0

    def run(db):
        user = db.get(User, owner)
        twofactor.begin(db, user)
        from ringtrail.crypto import unseal

        totp = pyotp.TOTP(unseal(user.two_factor_secret))
        twofactor.confirm(db, cli_principal(), user, totp.at(now - 30), now=now)
        assert twofactor.verify(db, user, totp.at(now), now=now)
        assert not twofactor.verify(db, user, totp.at(now), now=now + 5)  # same step
        assert not twofactor.verify(db, user, totp.at(now - 30), now=now + 5)  # older step
        assert twofactor.verify(db, user, totp.at(now + 30), now=now + 30)  # the next one
        assert not twofactor.verify(db, user, "000000" if totp.at(now + 60) != "000000"
                                    else "111111", now=now + 60)  # fmt: skip
        assert not twofactor.verify(db, user, "12345", now=now + 60)
        db.commit()

    in_db(app, run)


def test_a_recovery_code_works_once(app, client, owner):
    password_step(client)
    _, codes = enrol(client)
    client.post("/logout", data={"csrf_token": csrf(client, "/dashboard")})
    password_step(client)
    assert code_step(client, codes[3].upper()).status_code == 302  # case and dash forgiven
    client.post("/logout", data={"csrf_token": csrf(client, "/dashboard")})
    password_step(client)
    assert code_step(client, codes[3]).status_code == 401
    used = in_db(
        app,
        lambda db: db.scalar(
            select(func.count()).select_from(RecoveryCode).where(RecoveryCode.used_at.is_not(None))
        ),
    )
    assert used == 1


def test_wrong_codes_are_throttled_and_five_end_the_pending_login(app, client, owner):
    password_step(client)
    enrol(client)
    client.post("/logout", data={"csrf_token": csrf(client, "/dashboard")})
    password_step(client)
    # From one client the throttle steps in after three wrong codes (the 4th is not tried).
    assert [code_step(client, f"00000{i}").status_code for i in range(4)] == [401, 401, 401, 429]
    # From ever new addresses, the pending login itself allows five wrong codes in all.
    client.environ_base["REMOTE_ADDR"] = "192.0.2.50"
    res = code_step(client, "000008")
    assert res.status_code == 401 and "not right" in res.get_data(as_text=True)
    client.environ_base["REMOTE_ADDR"] = "192.0.2.51"
    res = code_step(client, "000009")
    assert res.status_code == 401 and "Log in again" in res.get_data(as_text=True)
    assert client.get("/login/code").location.startswith("/login")
    assert client.get("/dashboard").location.startswith("/login")


def test_with_two_factor_a_password_of_eight_is_enough_but_not_to_turn_it_off(app, client, owner):
    password_step(client)
    enrol(client)
    token = csrf(client, "/dashboard/account")
    res = client.post(
        "/dashboard/account/password",
        data={"csrf_token": token, "current": PASSWORD, "new": "lamp meadow"},
        follow_redirects=True,
    )
    assert "Password changed" in res.get_data(as_text=True)
    token = csrf(client, "/dashboard/account")
    res = client.post(
        "/dashboard/account/two-factor/off",
        data={"csrf_token": token, "password": "lamp meadow"},
        follow_redirects=True,
    )
    assert "at least 15 characters first" in res.get_data(as_text=True)
    assert in_db(app, lambda db: twofactor.enabled(db.get(User, owner)))


def test_an_agency_that_requires_it_sends_users_to_enrol_before_anything_else(app, client, owner):
    token = None
    password_step(client)
    token = csrf(client, "/dashboard/access")
    client.post("/dashboard/access/two-factor", data={"csrf_token": token, "required": "on"})
    assert in_db(app, lambda db: db.scalar(select(Agency.require_two_factor)))
    for path in ("/dashboard", "/dashboard/access", "/dashboard/settings", "/dashboard/calls"):
        res = client.get(path)
        assert res.status_code == 302 and res.location == "/dashboard/account", path
    res = client.post("/dashboard/access/keys", data={"csrf_token": token, "name": "sneaky"})
    assert res.location == "/dashboard/account"
    page = client.get("/dashboard/account").get_data(as_text=True)
    assert "requires two-factor" in page
    enrol(client)
    assert client.get("/dashboard/access").status_code == 200
    # Now required: turning it off is refused.
    token = csrf(client, "/dashboard/account")
    res = client.post(
        "/dashboard/account/two-factor/off",
        data={"csrf_token": token, "password": PASSWORD},
        follow_redirects=True,
    )
    assert "requires two-factor" in res.get_data(as_text=True)
    assert in_db(app, lambda db: twofactor.enabled(db.get(User, owner)))
