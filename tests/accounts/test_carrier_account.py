"""Connecting an agency's Twilio account through the admin API: checked against the
carrier, secrets sealed and only ever shown masked, rotation, tenancy, and a readable
answer (never a 500) for every way the carrier fails."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from ringtrail.crypto import is_sealed, unseal
from ringtrail.storage.models import Agency, AuditEntry
from tests.helpers import bearer, call_params, make_site, make_user, new_key, twilio_post
from tests.twilio_standin import Failure

VOICE = "/telephony/twilio/voice"


@pytest.fixture
def app_config(app_config, stand_in):
    return {**app_config, "TWILIO_TIMEOUT": 0.5, "WTF_CSRF_ENABLED": False}


@pytest.fixture
def tenant(app, db, stand_in):
    setup = make_site(db, numbers=2)
    setup.agency.twilio_account_sid = None
    setup.agency.twilio_auth_token = None
    db.commit()
    setup.extra["key"] = new_key(app, setup.agency.id)
    stand_in.hang_seconds = 1.5
    return setup


@pytest.fixture
def api(client, tenant):
    def call(method: str, path: str, body=None, key=None):
        headers = bearer(key or tenant.extra["key"])
        return client.open("/api/v1" + path, method=method, headers=headers, json=body)

    return call


def _secrets_absent(db, caplog, *secrets: str, texts=()) -> None:
    entries = db.scalars(select(AuditEntry)).all()
    dumped = " ".join(repr(e.details) + e.actor for e in entries)
    for secret in secrets:
        assert secret not in dumped
        assert secret not in caplog.text
        for text in texts:
            assert secret not in text


@pytest.mark.postgres
def test_connect_show_rotate_finish_disconnect(api, client, db, tenant, stand_in, caplog):
    caplog.set_level(logging.DEBUG)
    account, token = stand_in.add_account()
    key, secret = stand_in.add_api_key(account)
    assert api("GET", "/carrier").json["connected"] is False

    saved = api(
        "PUT",
        "/carrier",
        {"account_sid": account, "auth_token": token, "api_key_sid": key, "api_key_secret": secret},
    )
    assert saved.status_code == 200, saved.json
    assert saved.json["auth_token"] == "••••" + token[-4:]
    assert saved.json["api_key_secret"] == "••••" + secret[-4:]
    assert saved.json["account_sid"] == account and saved.json["api_key_sid"] == key
    db.expire_all()
    agency = db.get(Agency, tenant.agency.id)
    assert is_sealed(agency.twilio_auth_token) and unseal(agency.twilio_auth_token) == token
    assert (
        is_sealed(agency.twilio_api_key_secret) and unseal(agency.twilio_api_key_secret) == secret
    )
    shown = api("GET", "/carrier")
    assert token not in shown.get_data(as_text=True) and secret not in shown.get_data(as_text=True)

    # A signed call now lands: the token checks signatures.
    params = call_params(tenant, tenant.numbers[0], AccountSid=account)
    assert twilio_post(client, VOICE, params, token).status_code == 200

    new_token = "f" * 28 + token[-4:][::-1]
    stand_in.accounts[account] = new_token
    rotated = api("POST", "/carrier/rotation", {"auth_token": new_token})
    assert rotated.status_code == 200, rotated.json
    assert rotated.json["rotating"] is True
    assert rotated.json["previous_auth_token"] == "••••" + token[-4:]
    # Both tokens sign calls while the rotation is under way...
    for signing in (token, new_token):
        assert twilio_post(client, VOICE, params, signing).status_code == 200
    finished = api("DELETE", "/carrier/rotation")
    assert finished.json["rotating"] is False and finished.json["previous_auth_token"] is None
    # ...and only the new one after it.
    assert twilio_post(client, VOICE, params, token).status_code == 403
    assert twilio_post(client, VOICE, params, new_token).status_code == 200
    assert api("DELETE", "/carrier/rotation").status_code == 409

    gone = api("DELETE", "/carrier")
    assert gone.json["connected"] is False
    assert twilio_post(client, VOICE, params, new_token).status_code == 403

    actions = [
        e.action for e in db.scalars(select(AuditEntry).where(AuditEntry.object_type == "carrier"))
    ]
    assert actions == ["connect", "rotate", "finish_rotation", "disconnect"]
    _secrets_absent(db, caplog, token, new_token, secret)


@pytest.mark.parametrize(
    ("failure", "status", "reason"),
    [
        (Failure(401), 422, "Twilio refused the credentials (401)"),
        (Failure(404), 422, "Twilio has no such account: check the Account SID (404)"),
        (Failure(429, retry_after=9), 502, "Twilio is rate limiting; retry after 9 s"),
        (Failure(500), 502, "Twilio failed to check the account (500); try again later"),
        (Failure(0), 502, "Twilio did not answer within 0.5 s"),
    ],
)
def test_carrier_failures_are_readable(api, db, tenant, stand_in, failure, status, reason):
    account, token = stand_in.add_account()
    stand_in.failures.append(failure)
    answer = api("PUT", "/carrier", {"account_sid": account, "auth_token": token})
    assert answer.status_code == status
    assert answer.json["error"].startswith(reason)
    if failure.status == 429:
        assert answer.headers["Retry-After"] == "9"
    db.expire_all()
    assert db.get(Agency, tenant.agency.id).twilio_account_sid is None  # nothing saved


def test_wrong_credentials_and_bad_input(api, db, tenant, stand_in):
    account, token = stand_in.add_account()
    wrong = api("PUT", "/carrier", {"account_sid": account, "auth_token": "0" * 32})
    assert wrong.status_code == 422 and "refused the credentials" in wrong.json["error"]
    key, _ = stand_in.add_api_key(account)
    bad_key = api(
        "PUT",
        "/carrier",
        {
            "account_sid": account,
            "auth_token": token,
            "api_key_sid": key,
            "api_key_secret": "x" * 20,
        },
    )
    assert bad_key.status_code == 422 and "refused the API key" in bad_key.json["error"]
    for body, why in (
        ({"account_sid": "nope", "auth_token": token}, "account_sid"),
        ({"account_sid": account, "auth_token": "short"}, "auth_token"),
        ({"account_sid": account, "auth_token": token, "api_key_sid": key}, "go together"),
        ({"account_sid": account}, "auth_token"),
    ):
        answer = api("PUT", "/carrier", body)
        assert answer.status_code in (400, 422) and why in answer.json["error"]
    stand_in.statuses[account] = "suspended"
    suspended = api("PUT", "/carrier", {"account_sid": account, "auth_token": token})
    assert suspended.status_code == 422 and "suspended" in suspended.json["error"]
    db.expire_all()
    assert db.get(Agency, tenant.agency.id).twilio_account_sid is None


def test_tenancy_and_roles(app, api, client, db, tenant, stand_in):
    account, token = stand_in.add_account()
    assert api("PUT", "/carrier", {"account_sid": account, "auth_token": token}).status_code == 200
    other = make_site(db, numbers=1, number_start=50)
    other_key = new_key(app, other.agency.id)
    seen = api("GET", "/carrier", key=other_key)
    assert seen.status_code == 200 and seen.json["account_sid"] == other.account_sid
    assert account not in seen.get_data(as_text=True)
    # Knowing the SID is not enough to take the account; the carrier must accept the token.
    taken = api("PUT", "/carrier", {"account_sid": account, "auth_token": "1" * 32}, other_key)
    assert taken.status_code == 422 and "another agency" not in taken.json["error"]
    claimed = api("PUT", "/carrier", {"account_sid": account, "auth_token": token}, other_key)
    assert claimed.status_code == 409
    client_key = new_key(app, tenant.agency.id, tenant.client.id)
    for method, path in (("GET", "/carrier"), ("DELETE", "/carrier")):
        assert api(method, path, key=client_key).status_code == 403
    db.expire_all()
    assert db.get(Agency, tenant.agency.id).twilio_account_sid == account
    assert make_user(db, tenant, role="client_manager", client=tenant.client).role
