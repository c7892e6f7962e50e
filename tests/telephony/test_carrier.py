"""The carrier adapter against a local stand-in that speaks Twilio's REST protocol."""

from __future__ import annotations

import secrets

import pytest

from ringtrail.crypto import seal, unseal
from ringtrail.storage.models import Agency
from ringtrail.telephony import carrier
from tests.twilio_standin import AUDIO, call_sid, recording_sid


@pytest.fixture
def agency(db, stand_in):
    a = Agency(name="A", twilio_account_sid="AC" + secrets.token_hex(16))
    token = secrets.token_hex(16)
    a.twilio_auth_token = seal(token)  # stored sealed; the carrier gets it in clear
    db.add(a)
    db.commit()
    stand_in.accounts[a.twilio_account_sid] = token
    return a


def test_delete_recording_sends_basic_auth_and_treats_gone_as_done(db, stand_in, agency):
    sid = stand_in.add_recording(agency.twilio_account_sid)
    assert carrier.delete_recording(agency, sid) is True
    assert sid not in stand_in.recordings
    method, path, authed = stand_in.requests[-1]
    assert (method, authed) == ("DELETE", True)
    assert path == f"/2010-04-01/Accounts/{agency.twilio_account_sid}/Recordings/{sid}.json"
    assert carrier.delete_recording(agency, sid) is False  # 404: already gone


def test_a_recording_url_is_reduced_to_its_sid_under_the_configured_base(db, stand_in, agency):
    sid = stand_in.add_recording(agency.twilio_account_sid)
    # A URL from a webhook names some other host: only its sid is used.
    url = f"https://evil.example/2010-04-01/Accounts/{agency.twilio_account_sid}/Recordings/{sid}"
    assert carrier.delete_recording(agency, url) is True
    assert stand_in.requests[-1][1].endswith(f"/Recordings/{sid}.json")
    with pytest.raises(carrier.CarrierError):
        carrier.delete_recording(agency, "https://evil.example/file.mp3")


def test_wrong_credentials_and_outages_raise_carrier_error(db, stand_in, agency):
    sid = stand_in.add_recording(agency.twilio_account_sid)
    stand_in.accounts[agency.twilio_account_sid] = "another token"
    with pytest.raises(carrier.CarrierError) as refused:
        carrier.delete_recording(agency, sid)
    assert refused.value.status == 401
    stand_in.accounts[agency.twilio_account_sid] = unseal(agency.twilio_auth_token)
    stand_in.fail_with = 503
    with pytest.raises(carrier.CarrierError) as down:
        carrier.fetch_recording(agency, sid)
    assert down.value.status == 503
    assert sid in stand_in.recordings


def test_an_agency_without_twilio_credentials_cannot_ask(db, stand_in):
    bare = Agency(name="no twilio")
    db.add(bare)
    db.commit()
    with pytest.raises(carrier.NoCredentials):
        carrier.delete_recording(bare, recording_sid())
    assert stand_in.requests == []


def test_an_unreachable_carrier_is_a_carrier_error(app, db, agency):
    app.config["TWILIO_API_URL"] = "http://127.0.0.1:9"  # discard: nothing listens
    with pytest.raises(carrier.CarrierError) as exc:
        carrier.delete_recording(agency, recording_sid())
    assert exc.value.status == 0


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_fetch_streams_the_audio_in_chunks(db, stand_in, agency, fmt):
    sid = stand_in.add_recording(agency.twilio_account_sid)
    media = carrier.fetch_recording(agency, sid, fmt)
    assert media.content_type == ("audio/mpeg" if fmt == "mp3" else "audio/wav")
    assert media.length == len(AUDIO)
    chunks = list(media.chunks())
    assert len(chunks) >= 2 and b"".join(chunks) == AUDIO
    assert stand_in.requests[-1] == (
        "GET",
        f"/2010-04-01/Accounts/{agency.twilio_account_sid}/Recordings/{sid}.{fmt}",
        True,
    )


def test_a_redirect_to_the_media_store_does_not_carry_the_credentials(db, stand_in, agency):
    sid = stand_in.add_recording(agency.twilio_account_sid)
    # "localhost" is another host than "127.0.0.1" to the client, though the same server.
    stand_in.media_host = stand_in.url.replace("127.0.0.1", "localhost")
    assert b"".join(carrier.fetch_recording(agency, sid).chunks()) == AUDIO
    assert stand_in.media_auth_seen == [None]


def test_delete_call_removes_the_carriers_call_log(db, stand_in, agency):
    sid = call_sid()
    stand_in.calls[sid] = agency.twilio_account_sid
    assert carrier.delete_call(agency, sid) is True
    assert sid not in stand_in.calls
    assert carrier.delete_call(agency, sid) is False
    with pytest.raises(carrier.CarrierError):
        carrier.delete_call(agency, "../Recordings/x")
