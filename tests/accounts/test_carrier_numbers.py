"""Numbers from the carrier through the admin API and the service the autosizer calls:
search, buy into a pool (webhooks set to Ringtrail's), release, import what the account
owns (dry run first), audited; half-way failures leave nothing half-configured."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from ringtrail.accounts import carrier_numbers
from ringtrail.crypto import seal
from ringtrail.errors import Unavailable
from ringtrail.storage.models import AuditEntry, Pool, TrackingNumber
from ringtrail.storage.sql import new_session
from ringtrail.telephony.carrier import CarrierError
from tests.helpers import PUBLIC_URL, bearer, make_site, new_key
from tests.twilio_standin import Failure

HOOKS = {
    "voice_url": PUBLIC_URL + "/telephony/twilio/voice",
    "status_callback": PUBLIC_URL + "/telephony/twilio/status",
    "voice_fallback_url": PUBLIC_URL + "/telephony/twilio/fallback",
}
FOR_SALE = ("+14155550101", "+14155550102", "+14155550103", "+16505550104")


@pytest.fixture
def app_config(app_config, stand_in):
    return {**app_config, "TWILIO_TIMEOUT": 0.5}


@pytest.fixture
def tenant(app, db, stand_in):
    setup = make_site(db, numbers=1)
    stand_in.accounts[setup.account_sid] = setup.token
    stand_in.offer(*FOR_SALE)
    stand_in.offer("+18885550105")
    stand_in.hang_seconds = 1.5
    setup.extra["key"] = new_key(app, setup.agency.id)
    return setup


@pytest.fixture
def api(client, tenant):
    def call(method: str, path: str, body=None, key=None):
        headers = bearer(key or tenant.extra["key"])
        return client.open("/api/v1" + path, method=method, headers=headers, json=body)

    return call


def numbers_of(db, pool_id: int) -> list[str]:
    db.expire_all()
    stmt = select(TrackingNumber.number).where(TrackingNumber.pool_id == pool_id)
    return sorted(db.scalars(stmt))


def audit_actions(db) -> list[tuple[str, str]]:
    db.expire_all()
    stmt = select(AuditEntry).where(AuditEntry.object_type == "number").order_by(AuditEntry.id)
    return [(e.action, e.details.get("number")) for e in db.scalars(stmt)]


@pytest.mark.postgres
def test_search_buy_release(api, db, tenant, stand_in, caplog):
    caplog.set_level(logging.DEBUG)
    found = api("GET", "/carrier/available?area_code=415&limit=2")
    assert found.status_code == 200
    assert [n["phone_number"] for n in found.json] == ["+14155550101", "+14155550102"]
    assert [n["phone_number"] for n in api("GET", "/carrier/available?contains=0104").json] == [
        "+16505550104"
    ]
    toll_free = api("GET", "/carrier/available?toll_free=true").json
    assert [n["phone_number"] for n in toll_free] == ["+18885550105"]
    assert api("GET", "/carrier/available?area_code=4x5").status_code == 422

    pool = tenant.pool.id
    bought = api(
        "POST", f"/pools/{pool}/numbers/buy", {"numbers": ["(415) 555-0101", "+14155550102"]}
    )
    assert bought.status_code == 201, bought.json
    assert [n["number"] for n in bought.json] == ["+14155550101", "+14155550102"]
    owned = stand_in.owned(tenant.account_sid)
    for number in ("+14155550101", "+14155550102"):
        assert {k: owned[number][k] for k in HOOKS} == HOOKS
    assert numbers_of(db, pool) == sorted([*tenant.numbers, "+14155550101", "+14155550102"])
    again = api("POST", f"/pools/{pool}/numbers/buy", {"numbers": ["+14155550101"]})
    assert again.status_code == 409 and f"already in pool {pool}" in again.json["error"]

    number_id = bought.json[0]["id"]
    assert api("POST", f"/numbers/{number_id}/release").status_code == 204
    assert "+14155550101" not in stand_in.owned(tenant.account_sid)
    assert "+14155550101" not in numbers_of(db, pool)
    assert audit_actions(db) == [
        ("buy", "+14155550101"),
        ("buy", "+14155550102"),
        ("release", "+14155550101"),
    ]
    assert tenant.token not in caplog.text


def test_buy_for_pool_and_release_number_for_jobs(app, db, tenant, stand_in):
    pool = db.get(Pool, tenant.pool.id)
    bought = carrier_numbers.buy_for_pool(db, pool, 2, actor="autosizer")
    assert [n.number for n in bought] == ["+14155550101", "+14155550102"]  # the pool's area
    assert all(n.carrier_sid.startswith("PN") for n in bought)
    more = carrier_numbers.buy_for_pool(db, pool, 5, actor="autosizer", search={"area_code": "650"})
    assert [n.number for n in more] == ["+16505550104"]  # only what is for sale
    carrier_numbers.release_number(db, bought[0], actor="autosizer")
    assert stand_in.log[-1] == ("release", "+14155550101")
    db.expire_all()
    entries = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "number")).all()
    assert {e.actor for e in entries} == {"autosizer"}
    assert [e.action for e in entries] == ["buy", "buy", "buy", "release"]


def test_carrier_fails_after_buying_some(api, db, tenant, stand_in):
    stand_in.failures.append(Failure(500, contains="IncomingPhoneNumbers", method="POST", after=1))
    pool = tenant.pool.id
    answer = api("POST", f"/pools/{pool}/numbers/buy", {"numbers": list(FOR_SALE[:3])})
    assert answer.status_code == 502
    assert answer.json["error"] == (
        f"bought 1 of 3 number(s) into pool {pool} (+14155550101); +14155550102 failed: "
        "Twilio failed to buy +14155550102 (500); try again later"
    )
    # What was bought is kept, configured and in the pool; nothing else exists anywhere.
    assert "+14155550101" in numbers_of(db, pool)
    assert set(stand_in.owned(tenant.account_sid)) == {"+14155550101"}
    assert audit_actions(db) == [("buy", "+14155550101")]


def test_sql_fails_after_buying_releases_again(app, api, db, tenant, stand_in):
    other = make_site(db, numbers=1, number_start=70)

    def racing_writer(number: str) -> None:  # another process takes the number in SQL
        with app.app_context(), new_session() as s:
            s.add(TrackingNumber(pool_id=other.pool.id, number=number, role="pool"))
            s.commit()

    stand_in.on_buy = racing_writer
    answer = api("POST", f"/pools/{tenant.pool.id}/numbers/buy", {"numbers": ["+14155550103"]})
    assert answer.status_code == 503
    assert "released again" in answer.json["error"]
    assert stand_in.owned(tenant.account_sid) == {}
    assert stand_in.log == [("buy", "+14155550103"), ("release", "+14155550103")]
    assert "+14155550103" not in numbers_of(db, tenant.pool.id)
    assert audit_actions(db) == []


@pytest.mark.parametrize(
    ("failure", "status", "reason"),
    [
        (Failure(401), 502, "Twilio refused the credentials (401)"),
        (Failure(404), 502, "Twilio has no such number in this account (404)"),
        (Failure(429, retry_after=5), 502, "Twilio is rate limiting; retry after 5 s"),
        (Failure(500), 502, "Twilio failed to search numbers (500); try again later"),
        (Failure(0), 502, "Twilio did not answer within 0.5 s"),
    ],
)
def test_search_failures_are_readable(api, tenant, stand_in, failure, status, reason):
    stand_in.failures.append(failure)
    answer = api("GET", "/carrier/available")
    assert answer.status_code == status
    assert answer.json["error"].startswith(reason)


def test_a_number_no_longer_for_sale_is_the_requests_fault(api, db, tenant, stand_in):
    answer = api("POST", f"/pools/{tenant.pool.id}/numbers/buy", {"numbers": ["+14155550199"]})
    assert answer.status_code == 422
    assert answer.json["error"] == (
        f"bought 0 of 1 number(s) into pool {tenant.pool.id} (none); +14155550199 failed: "
        "Twilio refused to buy +14155550199 (400): PhoneNumber +14155550199 is not available"
    )


def test_release_refused_by_carrier_changes_nothing(api, db, tenant, stand_in):
    bought = api("POST", f"/pools/{tenant.pool.id}/numbers/buy", {"numbers": ["+14155550101"]})
    stand_in.failures.append(Failure(500, method="DELETE"))
    answer = api("POST", f"/numbers/{bought.json[0]['id']}/release")
    assert answer.status_code == 502 and "release the number (500)" in answer.json["error"]
    assert "+14155550101" in numbers_of(db, tenant.pool.id)
    assert "+14155550101" in stand_in.owned(tenant.account_sid)


@pytest.mark.postgres
def test_import_owned_dry_run_then_for_real(api, db, tenant, stand_in):
    account = tenant.account_sid
    stand_in.own(account, "+12125550111", voice_url="https://old.example/voice")
    stand_in.own(account, "+12125550112", **HOOKS)
    stand_in.own(account, tenant.numbers[0], voice_url="https://old.example/voice")
    other = make_site(db, numbers=0, agency=tenant.agency, number_start=80)
    db.add(TrackingNumber(pool_id=other.pool.id, number="+12125550113", role="pool"))
    db.commit()
    stand_in.own(account, "+12125550113")
    path = f"/pools/{tenant.pool.id}/numbers/import-owned"

    plan = {c["number"]: c for c in api("POST", path).json}
    assert plan["+12125550111"]["action"] == "add"
    assert plan["+12125550111"]["webhooks"]["voice_url"] == [
        "https://old.example/voice",
        HOOKS["voice_url"],
    ]
    assert plan["+12125550112"]["action"] == "add" and plan["+12125550112"]["webhooks"] == {}
    assert plan[tenant.numbers[0]]["action"] == "point"
    assert plan["+12125550113"] == {**plan["+12125550113"], "action": "skip"}
    assert plan["+12125550113"]["reason"] == f"in pool {other.pool.id}"
    assert stand_in.log == []  # a dry run changes nothing
    assert numbers_of(db, tenant.pool.id) == [tenant.numbers[0]]

    done = api("POST", path + "?dry_run=false")
    assert done.status_code == 200
    owned = stand_in.owned(account)
    for number in ("+12125550111", "+12125550112", tenant.numbers[0]):
        assert {k: owned[number][k] for k in HOOKS} == HOOKS
    assert owned["+12125550113"]["voice_url"] == ""  # in another pool: untouched
    assert numbers_of(db, tenant.pool.id) == sorted(
        [tenant.numbers[0], "+12125550111", "+12125550112"]
    )
    assert sorted(audit_actions(db)) == sorted(
        [
            ("import", "+12125550111"),
            ("webhooks", "+12125550111"),
            ("import", "+12125550112"),
            ("webhooks", tenant.numbers[0]),
        ]
    )
    assert all(c["action"] == "unchanged" or c["action"] == "skip" for c in api("POST", path).json)


def test_numbers_tenancy_and_roles(app, api, db, tenant, stand_in):
    other = make_site(db, numbers=1, number_start=90)
    other_key = new_key(app, other.agency.id)
    assert (
        api(
            "POST", f"/pools/{tenant.pool.id}/numbers/buy", {"numbers": ["+14155550101"]}, other_key
        ).status_code
        == 404
    )
    number = db.scalar(select(TrackingNumber).where(TrackingNumber.pool_id == tenant.pool.id))
    assert api("POST", f"/numbers/{number.id}/release", key=other_key).status_code == 404
    assert (
        api("POST", f"/pools/{tenant.pool.id}/numbers/import-owned", key=other_key).status_code
        == 404
    )
    client_key = new_key(app, tenant.agency.id, tenant.client.id)
    assert api("GET", "/carrier/available", key=client_key).status_code == 403
    assert (
        api(
            "POST",
            f"/pools/{tenant.pool.id}/numbers/buy",
            {"numbers": ["+14155550101"]},
            client_key,
        ).status_code
        == 403
    )
    assert stand_in.log == []


def test_not_connected_is_a_readable_refusal(api, db, tenant):
    tenant.agency.twilio_account_sid = None
    tenant.agency.twilio_auth_token = seal("x") and None
    db.commit()
    answer = api("GET", "/carrier/available")
    assert answer.status_code == 409
    assert "Twilio account is not connected" in answer.json["error"]
    with pytest.raises(CarrierError):
        carrier_numbers.buy_for_pool(db, db.get(Pool, tenant.pool.id), 1, actor="autosizer")
    assert issubclass(CarrierError, Unavailable)
