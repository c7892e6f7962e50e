"""Passwords after NIST SP 800-63B rev 4: length, a shipped breached list, no composition
rules, NFKC; the same rule at every door (dashboard, admin API, command line)."""

from __future__ import annotations

import gzip
import re
import unicodedata
from importlib import resources

import pytest
from sqlalchemy import func, select

from ringtrail.accounts import passwords
from ringtrail.storage.models import User
from tests.helpers import make_site, make_user


@pytest.mark.parametrize(
    ("password", "second_factor", "reason"),
    [
        (" " * 10, False, "at least 15"),
        (" " * 15, False, "only spaces"),
        ("1234567890", False, "at least 15"),
        ("1234567890", True, "too common"),
        ("password12", True, "too common"),
        ("passwordpassword", False, "too easy"),  # a word repeated
        ("password123456789", False, "too common"),  # a listed password, padded
        ("!!iloveyou2024!!", False, "too common"),
        ("123456789012345", False, "too easy"),
        ("987654321098765", False, "too easy"),
        ("abcdefghijklmnop", False, "too easy"),
        ("aaaaaaaaaaaaaaaa", False, "too easy"),
        ("my ringtrail login", False, "service's name"),
        ("jane.doe is me, honestly", False, "your e-mail"),
        ("fourteen chars", False, "at least 15"),
        ("seven c", True, "at least 8"),
        ("x" * 1001, False, "at most 1000"),
    ],
)
def test_refused_passwords_say_why(password, second_factor, reason):
    why = passwords.problem(password, second_factor=second_factor, email="jane.doe@x.example")
    assert why is not None and reason in why


@pytest.mark.parametrize(
    ("password", "second_factor"),
    [
        ("correct horse battery", False),  # no digit, no capital, no symbol: fine
        ("fifteen chars!!", False),
        ("lamp meadow", True),  # 11 characters is enough with a second factor
        ("ünïcödé pässwörd", False),
        ("☎ calls ring true ☎", False),
        ("Tr0ub4dor&3 is old", False),
    ],
)
def test_long_enough_uncommon_passwords_pass_without_composition_rules(password, second_factor):
    assert passwords.problem(password, second_factor=second_factor) is None


def test_the_list_ships_inside_the_package_and_is_read_offline():
    data = resources.files("ringtrail.accounts").joinpath("common-passwords.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt") as fh:
        lines = [line.strip() for line in fh if line.strip()]
    assert len(lines) == len(passwords.common_passwords()) > 19_000
    assert {"password", "123456", "iloveyou", "password12"} <= passwords.common_passwords()
    # every listed password of 15 characters or more is refused, not just the short ones
    long_ones = [p for p in lines if len(p) >= 15]
    assert long_ones and all(passwords.problem(p) for p in long_ones)


def test_unicode_is_normalised_before_checking_and_hashing(app, db):
    from ringtrail.accounts.auth import hash_password, verify_password

    composed = "caf\u00e9 au lait, s'il vous pla\u00eet"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    user = User(email="u@x", password_hash=hash_password(decomposed), active=True)
    assert verify_password(user, composed)  # typed on another keyboard: the same password
    # Full-width digits are the digits they look like: "１２３４５６７８９０" is listed.
    assert "too common" in passwords.problem(
        "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10", second_factor=True
    )


def test_a_password_hashed_before_normalisation_still_works_and_is_rehashed(app, db):
    from argon2 import PasswordHasher

    from ringtrail.accounts.auth import verify_password

    typed = unicodedata.normalize("NFD", "d\u00e9j\u00e0 vu all over again")
    user = User(agency_id=1, email="u@x", password_hash=PasswordHasher().hash(typed), role="x")
    user.active = True
    old = user.password_hash
    assert verify_password(user, typed)
    assert user.password_hash != old and verify_password(user, unicodedata.normalize("NFC", typed))


# -- every door -------------------------------------------------------------------------


def _users(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(User))


def test_the_admin_api_refuses_weak_passwords_with_a_422(app, client, db):
    from ringtrail.accounts import access
    from ringtrail.accounts.auth import cli_principal

    setup = make_site(db, numbers=1)
    _, raw = access.create_key(db, cli_principal(), {"name": "k"}, setup.agency.id)
    auth = {"Authorization": f"Bearer {raw}"}
    body = {"email": "a@b.example", "role": "agency_admin", "password": "password12"}
    res = client.post("/api/v1/users", json=body, headers=auth)
    assert res.status_code == 422 and "at least 15" in res.get_json()["error"]
    body["password"] = "password123456789"
    res = client.post("/api/v1/users", json=body, headers=auth)
    assert res.status_code == 422 and "too common" in res.get_json()["error"]
    assert _users(db) == 0
    body["password"] = "correct horse battery"
    res = client.post("/api/v1/users", json=body, headers=auth)
    assert res.status_code == 201
    user_id = res.get_json()["id"]
    res = client.patch(f"/api/v1/users/{user_id}", json={"password": " " * 20}, headers=auth)
    assert res.status_code == 422 and "only spaces" in res.get_json()["error"]
    res = client.patch(f"/api/v1/users/{user_id}", json={"password": "1234567890"}, headers=auth)
    assert res.status_code == 422
    db.expire_all()
    from ringtrail.accounts.auth import verify_password

    assert verify_password(db.get(User, user_id), "correct horse battery")  # unchanged


def test_the_dashboard_refuses_weak_passwords_with_the_reason(app, client, db):
    from tests.helpers import log_in

    setup = make_site(db, numbers=1)
    admin = make_user(db, setup)
    log_in(client, admin)
    page = client.get("/dashboard/access").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "email": "n@x.example", "role": "agency_admin",
            "client_id": "", "password": "1234567890"}  # fmt: skip
    res = client.post("/dashboard/access/users", data=form, follow_redirects=True)
    assert "at least 15 characters" in res.get_data(as_text=True)
    form["password"] = "qwertyuiop123456"
    res = client.post("/dashboard/access/users", data=form, follow_redirects=True)
    assert "too common" in res.get_data(as_text=True)
    assert _users(db) == 1  # only the admin
    res = client.post(
        "/dashboard/account/password",
        data={"csrf_token": token, "current": "correct horse battery", "new": "password12"},
        follow_redirects=True,
    )
    assert "at least 15 characters" in res.get_data(as_text=True)


def test_the_command_line_refuses_weak_passwords(app, db):
    from ringtrail.cli import main

    setup = make_site(db, numbers=1)
    args = ["user", "create", "--agency", str(setup.agency.id), "--email", "c@x.example",
            "--role", "agency_admin", "--password-stdin"]  # fmt: skip
    result = app.test_cli_runner().invoke(main, args, input="1234567890\n")
    assert result.exit_code == 1 and "at least 15 characters" in result.output
    result = app.test_cli_runner().invoke(main, args, input="password1234567\n")
    assert result.exit_code == 1 and "too common" in result.output
    assert _users(db) == 0
    result = app.test_cli_runner().invoke(main, args, input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    assert _users(db) == 1
