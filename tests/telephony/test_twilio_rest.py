"""The carrier's REST client for accounts and numbers, against the local stand-in: what
it returns, and a readable CarrierError for every way the carrier can fail."""

from __future__ import annotations

import logging
import time

import pytest

from ringtrail.telephony import twilio_rest as rest
from ringtrail.telephony.carrier import CarrierError
from tests.helpers import free_port
from tests.twilio_standin import Failure

HOOKS = rest.Webhooks(
    "https://rt.test/telephony/twilio/voice",
    "https://rt.test/telephony/twilio/status",
    "https://rt.test/telephony/twilio/fallback",
)


@pytest.fixture
def creds(stand_in, app_config):
    app_config["TWILIO_TIMEOUT"] = 0.5
    stand_in.hang_seconds = 2.0
    account, token = stand_in.add_account()
    return rest.Credentials(account, token)


@pytest.fixture
def ctx(creds, app):  # after creds, which sets the timeout the app is made with
    with app.app_context():
        yield


def test_account_numbers_and_webhooks(ctx, stand_in, creds):
    assert rest.fetch_account(creds).status == "active"
    key, secret = stand_in.add_api_key(creds.account_sid)
    with_key = rest.Credentials(creds.account_sid, "", key, secret)
    assert rest.fetch_account(with_key).sid == creds.account_sid
    stand_in.offer("+14155550001", "+16505550002")
    stand_in.offer("+18885550003")
    assert [n.phone_number for n in rest.search(creds, area_code="650")] == ["+16505550002"]
    assert [n.phone_number for n in rest.search(creds, toll_free=True)] == ["+18885550003"]
    bought = rest.buy(with_key, "+16505550002", HOOKS)
    assert HOOKS.differences(bought) == {}
    assert stand_in.owned(creds.account_sid)["+16505550002"]["voice_fallback_url"].endswith(
        "/fallback"
    )
    other = stand_in.own(creds.account_sid, "+14155559999", voice_url="https://elsewhere/v")
    owned = {n.phone_number: n for n in rest.owned_numbers(creds)}
    assert set(owned) == {"+16505550002", "+14155559999"}
    assert HOOKS.differences(owned["+14155559999"])["voice_url"] == [
        "https://elsewhere/v",
        HOOKS.voice_url,
    ]
    assert HOOKS.differences(rest.point(creds, other, HOOKS)) == {}
    assert rest.release(creds, bought.sid) is True
    assert rest.release(creds, bought.sid) is False  # already gone: what we wanted


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (Failure(401), "Twilio refused the credentials (401)"),
        (Failure(404), "Twilio has no such account: check the Account SID (404)"),
        (Failure(429, retry_after=17), "Twilio is rate limiting; retry after 17 s"),
        (Failure(500), "Twilio failed to check the account (500); try again later"),
        (Failure(0), "Twilio did not answer within 0.5 s"),
    ],
)
def test_every_failure_is_a_readable_carrier_error(ctx, stand_in, creds, failure, reason, caplog):
    stand_in.failures.append(failure)
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG), pytest.raises(CarrierError) as refused:
        rest.fetch_account(creds)
    assert refused.value.reason.startswith(reason)
    assert time.monotonic() - started < 1.5  # the timeout holds, however long Twilio waits
    assert creds.auth_token not in caplog.text and creds.auth_token not in repr(creds)
    if failure.status == 429:
        assert refused.value.retry_after == 17


def test_unreachable_carrier(ctx, app, creds):
    app.config["TWILIO_API_URL"] = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CarrierError) as refused:
        rest.fetch_account(creds)
    assert refused.value.reason == "Twilio could not be reached to check the account"
