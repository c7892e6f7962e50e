"""The login throttle slows attackers (exponentially, per e-mail and per client) and never
locks the owner out; Redis holds neither an IP address nor an e-mail."""

from __future__ import annotations

import re

import pytest

from ringtrail.accounts import access, throttle
from ringtrail.accounts.auth import cli_principal
from tests.helpers import make_site

EMAIL = "owner@agency.example"
PASSWORD = "correct horse battery"
ATTACKER = {"REMOTE_ADDR": "203.0.113.66", "HTTP_USER_AGENT": "curl/8.5.0"}
OWNER = {"REMOTE_ADDR": "198.51.100.23", "HTTP_USER_AGENT": "Mozilla/5.0 (Owner's laptop)"}
T0 = 1_800_000_000.0
WRONG = "wrong password!"


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def owner(app):
    """The owner's account, made in an app context of its own (requests must not share
    one with the test: Flask-WTF keeps the CSRF token on ``g``)."""
    from ringtrail.storage.sql import get_db

    with app.app_context():
        db = get_db()
        setup = make_site(db, numbers=1)
        payload = {"email": EMAIL, "role": "agency_admin", "password": PASSWORD}
        return access.create_user(db, cli_principal(), payload, setup.agency.id).id


def attempt(app, environ, email=EMAIL, password=WRONG, client=None):
    """One login through the form, from the client that ``environ`` describes."""
    client = client or app.test_client()
    client.environ_base.update(environ)
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_the_attackers_delay_doubles_with_each_failure(ctx):
    """One client guessing one e-mail: 3 free tries, then 1 s, 2 s, 4 s … capped at 15 min,
    each wait measured at the moment it is allowed to try again."""
    client = throttle.client_fingerprint(ATTACKER["REMOTE_ADDR"], ATTACKER["HTTP_USER_AGENT"])
    now, waits = T0, []
    for _ in range(14):
        assert throttle.check(EMAIL, client, now=now).allowed
        throttle.failed(EMAIL, client, now=now)
        verdict = throttle.check(EMAIL, client, now=now)
        waits.append(verdict.retry_after if not verdict.allowed else 0)
        if not verdict.allowed:
            # Still refused a moment before the wait ends; allowed when it does.
            assert not throttle.check(EMAIL, client, now=now + verdict.retry_after - 0.5).allowed
            now += verdict.retry_after
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]


def test_spraying_many_emails_from_one_client_is_slowed(ctx):
    """Ten failures across ten e-mails, then every e-mail waits, doubling."""
    client = throttle.client_fingerprint(ATTACKER["REMOTE_ADDR"], ATTACKER["HTTP_USER_AGENT"])
    now = T0
    for i in range(10):
        assert throttle.check(f"user{i}@victims.example", client, now=now).allowed
        throttle.failed(f"user{i}@victims.example", client, now=now)
    fresh = throttle.check("never-tried@victims.example", client, now=now)
    assert not fresh.allowed and fresh.retry_after == 1
    now += 1
    throttle.failed("never-tried@victims.example", client, now=now)
    assert throttle.check("another@victims.example", client, now=now).retry_after == 2
    # Someone else, from their own client, is not held up by that spraying.
    other = throttle.client_fingerprint("192.0.2.1", "Firefox")
    assert throttle.check("user0@victims.example", other, now=now).allowed


def test_one_busy_attacker_never_holds_up_the_owner_even_on_a_new_browser(ctx):
    attacker = throttle.client_fingerprint(ATTACKER["REMOTE_ADDR"], ATTACKER["HTTP_USER_AGENT"])
    owner = throttle.client_fingerprint(OWNER["REMOTE_ADDR"], OWNER["HTTP_USER_AGENT"])
    now = T0
    for _ in range(12):  # every failure the back-off lets through, for about an hour
        verdict = throttle.check(EMAIL, attacker, now=now)
        now += 0 if verdict.allowed else verdict.retry_after
        throttle.failed(EMAIL, attacker, now=now)
    assert not throttle.check(EMAIL, attacker, now=now).allowed
    assert throttle.check(EMAIL, owner, now=now).allowed  # no known-device cookie needed


def test_an_attack_from_many_clients_slows_new_clients_but_not_the_owners_browser(ctx):
    owner = throttle.client_fingerprint(OWNER["REMOTE_ADDR"], OWNER["HTTP_USER_AGENT"])
    for i in range(8):  # a botnet: eight addresses, one try each
        throttle.failed(EMAIL, throttle.client_fingerprint(f"203.0.113.{i}", "bot"), now=T0)
    stranger = throttle.client_fingerprint("192.0.2.77", "bot")
    verdict = throttle.check(EMAIL, stranger, now=T0)
    assert not verdict.allowed and verdict.retry_after == 8  # 2 ** (8 - 5)
    assert throttle.check(EMAIL, owner, known_device=True, now=T0).allowed
    # The owner on a new browser waits its turn, and is let in when it comes.
    assert throttle.check(EMAIL, owner, now=T0 + verdict.retry_after).allowed


def test_the_owner_logs_in_through_the_form_during_an_attack(app, owner):
    """The attacker's client is refused (429 with Retry-After) and the right password does
    not help it; the owner's own client gets in at once."""
    statuses = [attempt(app, ATTACKER).status_code for _ in range(6)]
    assert statuses == [401, 401, 401, 429, 429, 429]
    res = attempt(app, ATTACKER, password=PASSWORD)
    assert res.status_code == 429 and int(res.headers["Retry-After"]) >= 1
    assert "Too many attempts" in res.get_data(as_text=True)
    res = attempt(app, OWNER, password=PASSWORD)
    assert res.status_code == 302 and res.location == "/dashboard"


def test_a_browser_the_owner_used_before_is_let_through_a_distributed_attack(app, owner):
    browser = app.test_client()
    assert attempt(app, OWNER, password=PASSWORD, client=browser).status_code == 302
    browser.delete_cookie("ringtrail_session")  # logged out; the known-device cookie stays
    with app.app_context():
        for i in range(10):
            throttle.failed(EMAIL, throttle.client_fingerprint(f"203.0.113.{i}", "bot"))
    assert attempt(app, {"REMOTE_ADDR": "192.0.2.9", "HTTP_USER_AGENT": "new"}).status_code == 429
    res = attempt(app, OWNER, password=PASSWORD, client=browser)
    assert res.status_code == 302, res.get_data(as_text=True)[:300]


def test_behind_a_trusted_proxy_each_client_is_slowed_by_its_own_address(app, owner):
    """Behind a proxy every request comes from the proxy's address: the throttle reads the
    address the proxy saw (RINGTRAIL_TRUSTED_PROXIES), so an attacker does not slow a
    user of the same browser elsewhere."""
    app.config["TRUSTED_PROXIES"] = 1
    browser = {"REMOTE_ADDR": "10.0.0.2", "HTTP_USER_AGENT": "Mozilla/5.0 (the usual one)"}
    attacker = {**browser, "HTTP_X_FORWARDED_FOR": "203.0.113.66"}
    user = {**browser, "HTTP_X_FORWARDED_FOR": "198.51.100.23"}
    statuses = [attempt(app, attacker).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    assert attempt(app, user, password=PASSWORD).status_code == 302


def test_without_trusted_proxies_a_forged_forwarded_address_changes_nothing(app, owner):
    app.config["TRUSTED_PROXIES"] = 0
    forged = [
        attempt(app, {**ATTACKER, "HTTP_X_FORWARDED_FOR": f"192.0.2.{i}"}).status_code
        for i in range(5)
    ]
    assert forged == [401, 401, 401, 429, 429]


def test_redis_holds_no_ip_no_user_agent_and_no_email(app, owner, redis_client):
    """Search every key and every value (strings and hashes) after an attack and a login."""
    for _ in range(5):
        attempt(app, ATTACKER)
    for i in range(4):
        attempt(app, ATTACKER, email=f"sprayed{i}@victims.example")
    assert attempt(app, OWNER, password=PASSWORD).status_code == 302
    everything = []
    for key in redis_client.scan_iter("*"):
        everything.append(key)
        kind = redis_client.type(key)
        if kind == "string":
            everything.append(str(redis_client.get(key)))
        elif kind == "hash":
            everything += [f"{k}={v}" for k, v in redis_client.hgetall(key).items()]
        elif kind in ("set", "list", "zset"):
            everything.append(str(redis_client.dump(key)))
    assert any(k.startswith("ringtrail:login:") for k in everything)
    blob = "\n".join(everything).lower()
    for secret in ("203.0.113.66", "198.51.100.23", "curl/8.5.0", "owner's laptop", EMAIL,
                   "agency.example", "victims.example", "sprayed"):  # fmt: skip
        assert secret not in blob, secret
    # Every throttle key lives only for the window.
    for key in redis_client.scan_iter("ringtrail:login:*"):
        assert 0 < redis_client.ttl(key) <= throttle.WINDOW


def test_a_redis_that_is_down_lets_logins_through(app, owner):
    from ringtrail.storage.clients import make_redis

    # Nothing listens on port 1: every throttle call fails at once.
    app.extensions["ringtrail"]["ratelimit_redis"] = make_redis("redis://127.0.0.1:1/0", 0.25)
    assert attempt(app, ATTACKER).status_code == 401  # refused by the password, not a 500
    assert attempt(app, OWNER, password=PASSWORD).status_code == 302
