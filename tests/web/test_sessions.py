"""Logins live on the server: logout, a password change and deactivation kill a copied
cookie at once, even against a form that changes something (creating an API key)."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select

from ringtrail.accounts import access
from ringtrail.accounts.auth import cli_principal
from ringtrail.storage.models import ApiKey, LoginSession, User
from tests.helpers import make_site

EMAIL = "owner@agency.example"
PASSWORD = "correct horse battery"
COOKIE = "ringtrail_session"


def csrf_token(client, path) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def form_login(client, email=EMAIL, password=PASSWORD):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def in_db(app, fn):
    from ringtrail.storage.sql import get_db

    with app.app_context():
        return fn(get_db())


@pytest.fixture
def owner(app):
    def build(db):
        setup = make_site(db, numbers=1)
        user = access.create_user(
            db,
            cli_principal(),
            {"email": EMAIL, "role": "agency_admin", "password": PASSWORD},
            setup.agency.id,
        )
        return user.id

    return in_db(app, build)


@pytest.fixture
def stolen(app, client, owner):
    """The owner logs in; a thief copies the cookie and a CSRF token from the page."""
    assert form_login(client).status_code == 302
    token = csrf_token(client, "/dashboard/access")
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    assert thief.get("/dashboard/access").status_code == 200  # the copy works, for now
    return thief, token


def keys(app) -> int:
    return in_db(app, lambda db: db.scalar(select(func.count()).select_from(ApiKey)))


def assert_dead(app, thief, token):
    """The copied cookie opens nothing and changes nothing."""
    res = thief.get("/dashboard/access")
    assert res.status_code == 302 and res.location.startswith("/login")
    before = keys(app)
    res = thief.post("/dashboard/access/keys", data={"csrf_token": token, "name": "x"})
    assert res.status_code in (302, 400) and keys(app) == before


def test_the_cookie_names_a_server_row_by_a_hash_only(app, client, owner):
    assert form_login(client).status_code == 302
    with client.session_transaction() as session:
        token = session["sid"]
        assert set(session) <= {"sid", "csrf_token", "_permanent"}  # no user id, no version
    rows = in_db(app, lambda db: db.scalars(select(LoginSession.token_hash)).all())
    assert rows == [hashlib.sha256(token.encode()).hexdigest()]


def test_a_copied_cookie_can_create_a_key_until_the_owner_logs_out(app, client, stolen):
    thief, token = stolen
    res = thief.post("/dashboard/access/keys", data={"csrf_token": token, "name": "thief's"})
    assert res.status_code == 200 and keys(app) == 1  # the attack the fix must stop
    client.post("/logout", data={"csrf_token": token})
    assert_dead(app, thief, token)
    assert in_db(app, lambda db: db.scalar(select(func.count()).select_from(LoginSession))) == 0


def test_a_password_change_ends_every_login_but_gives_this_browser_a_new_one(app, client, stolen):
    thief, token = stolen
    res = client.post(
        "/dashboard/account/password",
        data={"csrf_token": token, "current": PASSWORD, "new": "a brand new passphrase"},
    )
    assert res.status_code == 302
    assert_dead(app, thief, token)
    assert client.get("/dashboard/access").status_code == 200  # the owner stays in
    assert form_login(app.test_client()).status_code == 401  # the old password is gone
    assert form_login(app.test_client(), password="a brand new passphrase").status_code == 302


def test_a_password_reset_by_an_admin_ends_every_login(app, stolen, owner):
    thief, token = stolen
    in_db(
        app,
        lambda db: access.update_user(
            db, cli_principal(), db.get(User, owner), {"password": "another long passphrase"}
        ),
    )
    assert_dead(app, thief, token)


def test_deactivation_ends_every_login_and_reactivation_revives_none(app, client, stolen, owner):
    thief, token = stolen

    def active(value):
        return lambda db: access.update_user(
            db, cli_principal(), db.get(User, owner), {"active": value}
        )

    in_db(app, active(False))
    assert_dead(app, thief, token)
    in_db(app, active(True))
    assert_dead(app, thief, token)
    assert client.get("/dashboard/access").status_code == 302  # the owner logs in again


def test_a_login_lasts_login_hours_then_ends_on_the_server(app, client, owner):
    from datetime import timedelta

    from sqlalchemy import update

    assert form_login(client).status_code == 302
    assert client.get("/dashboard/settings").status_code == 200
    row = in_db(app, lambda db: db.scalar(select(LoginSession)))
    assert row.expires_at - row.created_at == timedelta(hours=app.config["LOGIN_HOURS"])

    def age(db):
        db.execute(update(LoginSession).values(expires_at=LoginSession.created_at))
        db.commit()

    in_db(app, age)
    assert client.get("/dashboard/settings").status_code == 302
