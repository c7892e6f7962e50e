"""The Twilio account page: connect, rotate, disconnect, search, buy into a pool, import,
release; every carrier failure shown as its reason, never a 500; secrets never shown;
the banner while the account is not connected."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ringtrail.storage.models import Agency, TrackingNumber
from tests.helpers import PUBLIC_URL, log_in, make_site, make_user
from tests.twilio_standin import Failure

PAGE = "/dashboard/settings/carrier"


@pytest.fixture
def app_config(app_config, stand_in):
    return {**app_config, "WTF_CSRF_ENABLED": False, "TWILIO_TIMEOUT": 0.5}


@pytest.fixture
def tenant(db, stand_in):
    setup = make_site(db, numbers=1)
    setup.agency.twilio_account_sid = None
    setup.agency.twilio_auth_token = None
    db.commit()
    stand_in.hang_seconds = 1.5
    return setup


@pytest.fixture
def admin(client, db, tenant):
    log_in(client, make_user(db, tenant))
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def test_banner_until_connected_then_connect_rotate_disconnect(admin, db, tenant, stand_in):
    overview = text(admin.get("/dashboard"))
    assert 'id="carrier-banner"' in overview and "refused as unsigned" in overview
    account, token = stand_in.add_account()
    saved = admin.post(PAGE, data={"account_sid": account, "auth_token": token})
    assert saved.status_code == 302
    page = text(admin.get(PAGE))
    assert account in page and "••••" + token[-4:] in page and token not in page
    assert 'id="carrier-banner"' not in text(admin.get("/dashboard"))

    new_token = "d" * 32
    stand_in.accounts[account] = new_token
    admin.post(PAGE + "/rotation", data={"auth_token": new_token})
    page = text(admin.get(PAGE))
    assert 'id="carrier-rotating"' in page and new_token not in page and token not in page
    admin.post(PAGE + "/rotation/finish")
    assert 'id="carrier-rotating"' not in text(admin.get(PAGE))
    admin.post(PAGE + "/disconnect")
    db.expire_all()
    assert db.get(Agency, tenant.agency.id).twilio_auth_token is None
    assert 'id="carrier-banner"' in text(admin.get(PAGE))


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (Failure(401), "Twilio refused the credentials (401)"),
        (Failure(404), "Twilio has no such account: check the Account SID (404)"),
        (Failure(429, retry_after=4), "Twilio is rate limiting; retry after 4 s"),
        (Failure(500), "Twilio failed to check the account (500); try again later"),
        (Failure(0), "Twilio did not answer within 0.5 s"),
    ],
)
def test_connect_failures_are_shown(admin, db, tenant, stand_in, failure, reason):
    account, token = stand_in.add_account()
    stand_in.failures.append(failure)
    answer = admin.post(PAGE, data={"account_sid": account, "auth_token": token})
    assert answer.status_code == 422
    assert reason in text(answer) and token not in text(answer)
    db.expire_all()
    assert db.get(Agency, tenant.agency.id).twilio_account_sid is None


def test_search_buy_import_release(admin, db, tenant, stand_in):
    account, token = stand_in.add_account()
    admin.post(PAGE, data={"account_sid": account, "auth_token": token})
    stand_in.offer("+14155550101", "+14155550102")
    found = text(admin.get(PAGE + "?search=1&area_code=415"))
    assert "+14155550101" in found and "+14155550102" in found
    bought = admin.post(
        PAGE + "/buy",
        data={"pool_id": str(tenant.pool.id), "number": ["+14155550102"]},
        follow_redirects=True,
    )
    assert bought.status_code == 200 and "+14155550102" in text(bought)
    assert stand_in.owned(account)["+14155550102"]["status_callback"] == (
        PUBLIC_URL + "/telephony/twilio/status"
    )

    stand_in.failures.append(Failure(500, contains="AvailablePhoneNumbers"))
    broken = admin.get(PAGE + "?search=1")
    assert broken.status_code == 422
    assert "Twilio failed to search numbers (500); try again later" in text(broken)
    stand_in.failures.clear()

    stand_in.own(account, "+12125550111", voice_url="https://old.example/voice")
    plan = admin.post(PAGE + "/import", data={"pool_id": str(tenant.pool.id), "apply": "0"})
    assert "+12125550111" in text(plan) and "https://old.example/voice" in text(plan)
    assert stand_in.owned(account)["+12125550111"]["voice_url"] == "https://old.example/voice"
    admin.post(PAGE + "/import", data={"pool_id": str(tenant.pool.id), "apply": "1"})
    assert stand_in.owned(account)["+12125550111"]["voice_url"] == (
        PUBLIC_URL + "/telephony/twilio/voice"
    )

    number = db.scalar(select(TrackingNumber).where(TrackingNumber.number == "+14155550102"))
    pool_page = text(admin.get(f"/dashboard/settings/pools/{tenant.pool.id}"))
    assert "Release to Twilio" in pool_page
    admin.post(f"/dashboard/settings/numbers/{number.id}/release")
    assert "+14155550102" not in stand_in.owned(account)


def test_only_the_agencys_admins(client, db, tenant, stand_in):
    other = make_site(db, numbers=1, number_start=40)
    log_in(client, make_user(db, other))
    page = text(client.get(PAGE))
    assert other.account_sid in page and 'id="carrier-banner"' not in page
    foreign = db.scalar(select(TrackingNumber).where(TrackingNumber.pool_id == tenant.pool.id))
    assert client.post(f"/dashboard/settings/numbers/{foreign.id}/release").status_code == 404
    bought = client.post(
        PAGE + "/buy", data={"pool_id": str(tenant.pool.id), "number": "+14155550101"}
    )
    assert bought.status_code == 404
    manager = make_user(db, tenant, role="client_manager", client=tenant.client)
    log_in(client, manager)
    assert client.get(PAGE).status_code == 403
    banner = text(client.get("/dashboard"))
    assert 'id="carrier-banner"' in banner and "Connect the Twilio account" not in banner
