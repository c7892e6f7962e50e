"""Dashboard logins: Argon2 hashes, secure cookies, CSRF, roles, and the settings forms."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ringtrail.accounts import access
from ringtrail.accounts.auth import cli_principal
from ringtrail.storage.models import AuditEntry, Pool, TrackingNumber, User
from tests.helpers import make_site

PASSWORD = "correct horse battery"


def make_user(app, agency_id, role="agency_admin", client_id=None, email="admin@agency.example"):
    with app.test_request_context():
        from ringtrail.storage.sql import get_db

        user = access.create_user(
            get_db(),
            cli_principal(),
            {"email": email, "role": role, "client_id": client_id, "password": PASSWORD},
            agency_id,
        )
        return user.id


def csrf_token(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def log_in(client, email="admin@agency.example", password=PASSWORD, next_url=None):
    token = csrf_token(client)
    path = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(path, data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def db(app):
    """Run ``fn(session)`` in an app context of its own, closed before the next request.

    (The shared ``db`` fixture keeps one app context open for the whole test, and the
    test client's requests would then share its ``g``, which real requests never do.)
    """
    from ringtrail.storage.sql import get_db

    def run(fn):
        with app.app_context():
            return fn(get_db())

    return run


@pytest.fixture
def setup(app):
    from ringtrail.storage.sql import get_db

    with app.app_context():
        setup = make_site(get_db(), numbers=2)
    setup.extra["user_id"] = make_user(app, setup.agency.id)
    return setup


def test_passwords_are_argon2_hashes(setup, db):
    user_hash = db(lambda s: s.get(User, setup.extra["user_id"]).password_hash)
    assert user_hash.startswith("$argon2id$") and PASSWORD not in user_hash


def test_login_sets_a_secure_httponly_lax_cookie_and_logout_ends_it(client, setup):
    assert client.get("/dashboard/settings").location.startswith("/login?next=")
    res = log_in(client, next_url="/dashboard/settings")
    assert res.status_code == 302 and res.location == "/dashboard/settings"
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # PUBLIC_URL is https in the tests
    assert client.get("/dashboard/settings").status_code == 200
    token = csrf_token(client, "/dashboard/settings")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard/settings").status_code == 302


def test_cookies_are_not_secure_on_plain_http(app_config, redis_client):
    from ringtrail import create_app

    app = create_app({**app_config, "PUBLIC_URL": "http://127.0.0.1:5000"})
    assert app.config["SESSION_COOKIE_SECURE"] is False
    app.extensions["ringtrail"]["engine"].dispose()


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("admin@agency.example", "wrong password!"),
        ("nobody@agency.example", PASSWORD),
        ("", ""),
        ("admin@agency.example", "x" * 5000),
    ],
)
def test_wrong_credentials_are_refused_and_audited(client, setup, db, email, password):
    res = log_in(client, email, password)
    assert res.status_code == 401
    assert "Wrong email or password." in res.get_data(as_text=True)
    assert client.get("/dashboard/settings").status_code == 302
    assert db(lambda s: s.scalar(select(AuditEntry).where(AuditEntry.action == "login_failed")))


def test_forms_without_a_csrf_token_are_refused(client, setup, db):
    log_in(client)
    res = client.post(f"/dashboard/settings/pools/{setup.pool.id}", data={"lease_seconds": "900"})
    assert res.status_code == 400
    assert db(lambda s: s.get(Pool, setup.pool.id).lease_seconds) == 60


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil"])
def test_login_never_redirects_off_site(client, setup, target):
    res = log_in(client, next_url=target)
    assert res.status_code == 302 and res.location == "/dashboard"


def test_changing_a_pool_setting_through_the_form(client, setup, db):
    log_in(client)
    path = f"/dashboard/settings/pools/{setup.pool.id}"
    token = csrf_token(client, path)
    form = {
        "csrf_token": token,
        "name": "Main <script>alert(1)</script>",
        "business_number": "(415) 555-0100",
        "lease_seconds": "900",
        "match_window_seconds": "1800",
        "exhaustion_policy": "overflow",
    }
    res = client.post(path, data=form)
    assert res.status_code == 302
    pool = db(lambda s: s.get(Pool, setup.pool.id))
    assert (pool.lease_seconds, pool.match_window_seconds) == (900, 1800)
    page = client.get(path).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    for bad in ("0", "-5", "abc"):
        res = client.post(path, data={**form, "lease_seconds": bad}, follow_redirects=True)
        assert "lease seconds:" in res.get_data(as_text=True)
    assert db(lambda s: s.get(Pool, setup.pool.id).lease_seconds) == 900
    entry = db(lambda s: s.scalar(select(AuditEntry).where(AuditEntry.action == "update")))
    assert entry.actor == "admin@agency.example" and entry.object_type == "pool"


def test_numbers_are_added_and_imported_through_the_forms(client, setup, db):
    log_in(client)
    path = f"/dashboard/settings/pools/{setup.pool.id}"
    token = csrf_token(client, path)
    res = client.post(
        f"{path}/numbers",
        data={"csrf_token": token, "number": "(628) 555-0150", "role": "pool", "source": ""},
    )
    assert res.status_code == 302
    res = client.post(
        f"{path}/import", data={"csrf_token": token, "csv": "+16285550151\nnot a number"}
    )
    assert res.status_code == 422 and "not a phone number" in res.get_data(as_text=True)
    numbers = db(lambda s: set(s.scalars(select(TrackingNumber.number))))
    assert "+16285550150" in numbers and "+16285550151" not in numbers


def test_roles_limit_what_users_can_do(app, client, setup, db):
    make_user(app, setup.agency.id, "report_only", setup.client.id, "viewer@client.example")
    log_in(client, "viewer@client.example")
    assert client.get("/dashboard/settings").status_code == 403
    assert client.get("/dashboard/access").status_code == 403


def test_a_deactivated_users_session_ends_at_once(app, client, setup, db):
    log_in(client)
    assert client.get("/dashboard/settings").status_code == 200
    user_id = setup.extra["user_id"]
    with app.test_request_context():
        from ringtrail.storage.sql import get_db

        access.update_user(
            get_db(), cli_principal(), get_db().get(User, user_id), {"active": False}
        )
    assert client.get("/dashboard/settings").status_code == 302


def test_api_keys_are_created_once_and_revoked_from_the_dashboard(client, setup, db):
    log_in(client)
    token = csrf_token(client, "/dashboard/access")
    res = client.post(
        "/dashboard/access/keys", data={"csrf_token": token, "name": "script", "client_id": ""}
    )
    page = res.get_data(as_text=True)
    raw = re.search(r'id="new-key">(rt_[^<]+)<', page).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert raw not in client.get("/dashboard/access").get_data(as_text=True)
    from ringtrail.storage.models import ApiKey

    key_id = db(lambda s: s.scalar(select(ApiKey.id)))
    client.post(f"/dashboard/access/keys/{key_id}/revoke", data={"csrf_token": token})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
