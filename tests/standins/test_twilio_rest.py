"""The Twilio stand-in speaks the protocol the ``twilio`` library expects: these tests
drive it with the library itself, so what Ringtrail's carrier code relies on is real."""

from __future__ import annotations

import pytest
from requests.exceptions import ReadTimeout
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from tests.twilio_standin import Failure


def _client(stand_in, user, password, account, timeout=5.0):
    client = Client(
        user, password, account_sid=account, http_client=TwilioHttpClient(timeout=timeout)
    )
    client.api.base_url = stand_in.url
    return client


def test_account_fetch_by_token_and_by_api_key(stand_in):
    account, token = stand_in.add_account()
    key, secret = stand_in.add_api_key(account)
    assert (
        _client(stand_in, account, token, account).api.v2010.accounts(account).fetch().status
        == "active"
    )
    assert (
        _client(stand_in, key, secret, account).api.v2010.accounts(account).fetch().sid == account
    )
    with pytest.raises(TwilioRestException) as refused:
        _client(stand_in, account, "wrong", account).api.v2010.accounts(account).fetch()
    assert refused.value.status == 401 and refused.value.code == 20003
    other, _ = stand_in.add_account()
    with pytest.raises(TwilioRestException) as foreign:
        _client(stand_in, key, secret, other).api.v2010.accounts(other).fetch()
    assert foreign.value.status == 404  # not its account: Twilio does not say more


def test_search_buy_update_release(stand_in):
    account, token = stand_in.add_account()
    stand_in.offer("+14155550001", "+14155550002", "+16505550003", region="CA")
    stand_in.offer("+18005550004")
    stand_in.offer("+12125550005", region="NY", locality="New York")
    api = _client(stand_in, account, token, account).api.v2010.accounts(account)
    local = api.available_phone_numbers("US").local
    assert [n.phone_number for n in local.list(area_code=415)] == ["+14155550001", "+14155550002"]
    assert [n.phone_number for n in local.list(in_region="NY")] == ["+12125550005"]
    assert [n.phone_number for n in local.list(in_locality="New York")] == ["+12125550005"]
    assert [n.phone_number for n in local.list(contains="5550003")] == ["+16505550003"]
    assert len(local.list(page_size=1, limit=1)) == 1
    toll_free = api.available_phone_numbers("US").toll_free.list()
    assert [n.phone_number for n in toll_free] == ["+18005550004"]

    bought = api.incoming_phone_numbers.create(
        phone_number="+14155550001",
        voice_url="https://rt.test/voice",
        status_callback="https://rt.test/status",
    )
    assert bought.sid.startswith("PN") and bought.voice_url == "https://rt.test/voice"
    assert "+14155550001" not in [n.phone_number for n in local.list()]
    with pytest.raises(TwilioRestException) as gone:
        api.incoming_phone_numbers.create(phone_number="+14155550001")
    assert gone.value.status == 400
    found = api.incoming_phone_numbers.list(phone_number="+14155550001")
    assert [n.sid for n in found] == [bought.sid]
    updated = api.incoming_phone_numbers(bought.sid).update(
        voice_fallback_url="https://rt.test/fallback"
    )
    assert updated.voice_fallback_url == "https://rt.test/fallback"
    assert (
        api.incoming_phone_numbers(bought.sid).fetch().status_callback == "https://rt.test/status"
    )
    assert api.incoming_phone_numbers(bought.sid).delete() is True
    with pytest.raises(TwilioRestException) as missing:
        api.incoming_phone_numbers(bought.sid).fetch()
    assert missing.value.status == 404
    assert stand_in.log == [
        ("buy", "+14155550001"),
        ("update", "+14155550001"),
        ("release", "+14155550001"),
    ]


def test_injected_errors(stand_in):
    account, token = stand_in.add_account()
    api = _client(stand_in, account, token, account, timeout=0.5).api.v2010.accounts(account)
    stand_in.failures.append(Failure(429, retry_after=7, after=1))
    assert api.fetch().sid == account  # the first one goes through
    with pytest.raises(TwilioRestException) as limited:
        api.fetch()
    assert limited.value.status == 429
    stand_in.failures[:] = [Failure(500, contains="IncomingPhoneNumbers", method="POST")]
    assert api.fetch().sid == account
    with pytest.raises(TwilioRestException) as broken:
        api.incoming_phone_numbers.create(phone_number="+14155550001")
    assert broken.value.status == 500
    stand_in.hang_seconds = 1.5
    stand_in.failures[:] = [Failure(0)]
    with pytest.raises(ReadTimeout):
        api.fetch()
