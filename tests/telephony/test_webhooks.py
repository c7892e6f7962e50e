"""The Twilio webhooks: signatures, the TwiML we answer, routing defaults and bad input."""

from __future__ import annotations

import os
import re
import secrets
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from werkzeug.test import EnvironBuilder

from ringtrail.calls.intake import move
from ringtrail.storage.clients import get_queue
from ringtrail.storage.models import Agency, Call, Client, TrackingNumber
from ringtrail.storage.sql import get_db
from ringtrail.telephony.webhooks import Validator, signature_valid
from ringtrail.tracking.directory import Snapshot
from ringtrail.web.telephony import public_url, read
from tests.helpers import (
    BUSINESS,
    DEFAULT_FORWARD,
    PUBLIC_URL,
    call_params,
    make_site,
    run_jobs,
    sign,
    twilio_post,
)

VOICE = "/telephony/twilio/voice"
FALLBACK = "/telephony/twilio/fallback"
CALLBACKS = ("/telephony/twilio/status", "/telephony/twilio/dial", "/telephony/twilio/recording")
CALLER = "+12125550143"

# Twilio's published example (https://www.twilio.com/docs/usage/security).
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_TOKEN = "12345"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
VECTOR_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.fixture
def new_site(app):
    """make_site in an app context of its own, so requests get theirs as in production."""

    def make(**kwargs):
        with app.app_context():
            return make_site(get_db(), **kwargs)

    return make


@pytest.fixture
def setup(new_site):
    return new_site(numbers=2)


POOL_SYNC = re.compile(r"ringtrail:\{pool:\d+\}:(free|numbers|stats)")


@pytest.fixture
def written(app, redis_client):
    """What the call side has written anywhere: Redis keys, spool files, call rows."""

    def snapshot() -> dict:
        spool = app.config["SPOOL_DIR"]
        with app.app_context():
            rows = get_db().scalars(select(Call.call_sid)).all()
        return {
            # (not the pools' numbers: loading the routing table syncs them to Redis)
            "redis": sorted(k for k in redis_client.keys("*") if not POOL_SYNC.fullmatch(k)),
            "spool": sorted(os.listdir(spool)) if os.path.isdir(spool) else [],
            "calls": rows,
        }

    return snapshot


def nothing_written(state: dict) -> bool:
    return state == {"redis": [], "spool": [], "calls": []}


def twiml(response) -> ET.Element:
    """The TwiML document of a webhook answer, parsed (which fails on invalid XML)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data())  # noqa: S314 - our own answer, not input
    assert root.tag == "Response"
    return root


def dialled(root: ET.Element) -> tuple[str, dict[str, str]]:
    """The one number the TwiML dials, and the <Dial> attributes; fails on anything else."""
    verbs = [child.tag for child in root]
    assert verbs[-1] == "Dial" and verbs.count("Dial") == 1, verbs
    dial = root[-1]
    assert [n.tag for n in dial] == ["Number"]
    return dial[0].text, dict(dial.attrib)


def forwarded_plainly(response, to: str) -> dict[str, str]:
    """Assert the answer forwards to ``to``, with no notice and no recording."""
    root = twiml(response)
    assert [child.tag for child in root] == ["Dial"]
    number, attrs = dialled(root)
    assert number == to
    assert "record" not in attrs and "recordingStatusCallback" not in attrs
    return attrs


# Signatures ----------------------------------------------------------------------------


def test_twilio_published_test_vector():
    validator = RequestValidator(VECTOR_TOKEN)
    assert validator.compute_signature(VECTOR_URL, VECTOR_PARAMS) == VECTOR_SIGNATURE
    assert validator.validate(VECTOR_URL, VECTOR_PARAMS, VECTOR_SIGNATURE)
    assert not validator.validate(VECTOR_URL, VECTOR_PARAMS | {"Digits": "1235"}, VECTOR_SIGNATURE)


@pytest.mark.parametrize("server", ["gunicorn-or-werkzeug", "plain-wsgi"])
def test_url_rebuild_validates_the_published_vector(app, server):
    """Behind a TLS proxy the app sees http://10.0.0.5:8000; the signed URL is public."""
    app.config["PUBLIC_URL"] = "https://mycompany.com"
    environ = EnvironBuilder(
        path="/myapp.php?foo=1&bar=2",
        base_url="http://10.0.0.5:8000",
        method="POST",
        data=urlencode(VECTOR_PARAMS),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": VECTOR_SIGNATURE, "X-Forwarded-Host": "evil.example"},
    ).get_environ()
    if server == "plain-wsgi":  # no RAW_URI / REQUEST_URI: rebuilt from PATH_INFO + QUERY_STRING
        del environ["RAW_URI"], environ["REQUEST_URI"]
    tokens = Snapshot(sites={}, routes={}, tokens={7: (None, [VECTOR_TOKEN])}, loaded_at=1.0)
    with app.request_context(environ):
        assert public_url() == VECTOR_URL
        hook = read()
        assert RequestValidator(VECTOR_TOKEN).validate(hook.url, hook.form, hook.signature)
        assert not RequestValidator("54321").validate(hook.url, hook.form, hook.signature)
        # The vector names no AccountSid: no agency's token is tried for it.
        assert not signature_valid(tokens, None, hook)


def test_a_valid_signature_is_accepted_and_queued(app, client, setup, written):
    response = twilio_post(client, VOICE, call_params(setup, setup.numbers[0]), setup.token)
    assert forwarded_plainly(response, BUSINESS)["callerId"] == CALLER
    with app.app_context():
        assert move() == 1 and get_queue().count == 1  # the event's id, made a job


def _tamper(setup, other):
    """Ways to break a signed request: (signing token, signed params, posted params)."""
    params = call_params(setup, setup.numbers[0])
    return {
        "missing": (None, params, params),
        "forged": (secrets.token_hex(16), params, params),
        "empty": ("", params, params),
        "from": (setup.token, params, params | {"From": "+13105550199"}),
        "to": (setup.token, params, params | {"To": setup.numbers[1]}),
        "account": (setup.token, params, params | {"AccountSid": other.account_sid}),
        "extra-param": (setup.token, params, params | {"Digits": "1"}),
        "other-agency": (
            other.token,
            params | {"AccountSid": other.account_sid},
            params | {"AccountSid": other.account_sid},
        ),
    }


@pytest.mark.parametrize(
    "how", ["missing", "forged", "empty", "from", "to", "account", "extra-param", "other-agency"]
)
def test_a_bad_signature_is_refused_and_writes_nothing(client, setup, new_site, written, how):
    other = new_site(numbers=1, number_start=50)
    token, signed, posted = _tamper(setup, other)[how]
    for path in (VOICE, *CALLBACKS):
        headers = {}
        if token is not None:
            headers["X-Twilio-Signature"] = sign(PUBLIC_URL + path, signed, token)
        response = client.post(
            path,
            data=urlencode(posted),
            headers=headers,
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 403, path
        assert "invalid signature" in response.get_data(as_text=True)
    assert nothing_written(written())


@pytest.mark.parametrize(
    "signed_as",
    [
        pytest.param("http://localhost" + VOICE, id="request.url"),
        pytest.param("https://evil.example" + VOICE, id="x-forwarded-host"),
        pytest.param("http://ringtrail.test" + VOICE, id="http-not-https"),
    ],
)
def test_only_the_configured_public_url_is_trusted(client, setup, written, signed_as):
    params = call_params(setup, setup.numbers[0])
    response = twilio_post(
        client,
        VOICE,
        params,
        setup.token,
        signed_url=signed_as,
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
    )
    assert response.status_code == 403
    assert nothing_written(written())


@pytest.mark.parametrize(
    ("path", "signed_url"),
    [
        pytest.param(VOICE, PUBLIC_URL + ":443" + VOICE, id="port-443"),
        pytest.param(VOICE + "?x=%7E&y=a%20b", PUBLIC_URL + VOICE + "?x=%7E&y=a%20b", id="%7E"),
        pytest.param(
            VOICE + "?x=%7E", PUBLIC_URL + ":443" + VOICE + "?x=%7E", id="port-and-escapes"
        ),
    ],
)
def test_signed_urls_as_twilio_writes_them_are_accepted(app, client, setup, path, signed_url):
    params = call_params(setup, setup.numbers[0])
    response = twilio_post(client, path, params, setup.token, signed_url=signed_url)
    forwarded_plainly(response, BUSINESS)
    assert run_jobs(app) == 1


def test_the_previous_token_is_accepted_during_rotation(app, client, setup, written):
    old, new = setup.token, secrets.token_hex(16)
    with app.app_context():
        agency = get_db().get(Agency, setup.agency.id)
        agency.twilio_previous_auth_token, agency.twilio_auth_token = old, new
        get_db().commit()
    for token in (old, new):
        response = twilio_post(client, VOICE, call_params(setup, setup.numbers[0]), token)
        forwarded_plainly(response, BUSINESS)
    assert run_jobs(app) == 2
    with app.app_context():  # rotation done: the old token is dropped
        get_db().get(Agency, setup.agency.id).twilio_previous_auth_token = None
        get_db().commit()
    before = written()
    response = twilio_post(client, VOICE, call_params(setup, setup.numbers[0]), old)
    assert response.status_code == 403
    assert written() == before


# TwiML ---------------------------------------------------------------------------------


def test_the_answer_dials_the_business_with_the_callers_id(client, setup):
    response = twilio_post(client, VOICE, call_params(setup, setup.numbers[1]), setup.token)
    attrs = forwarded_plainly(response, BUSINESS)
    assert attrs == {
        "action": PUBLIC_URL + "/telephony/twilio/dial",
        "method": "POST",
        "callerId": CALLER,
    }


def test_a_recording_client_plays_the_notice_before_a_recorded_dial(app, client, new_site):
    setup = new_site(numbers=1, record=True, notice="This call is recorded.")
    response = twilio_post(client, VOICE, call_params(setup, setup.numbers[0]), setup.token)
    root = twiml(response)
    assert [child.tag for child in root] == ["Say", "Dial"]
    assert root[0].text == "This call is recorded."
    number, attrs = dialled(root)
    assert number == BUSINESS
    assert attrs["record"] == "record-from-answer-dual"
    assert attrs["recordingStatusCallback"] == PUBLIC_URL + "/telephony/twilio/recording"
    run_jobs(app)
    with app.app_context():
        [call] = get_db().scalars(select(Call)).all()
    assert (call.notice_played, call.degraded) == (True, False)


@pytest.mark.parametrize("notice", ["", "   "])
def test_no_notice_means_no_recording(client, new_site, notice):
    setup = new_site(numbers=1, record=True, notice=notice)
    response = twilio_post(client, VOICE, call_params(setup, setup.numbers[0]), setup.token)
    forwarded_plainly(response, BUSINESS)


def test_notice_text_cannot_inject_twiml(client, new_site):
    notice = 'Calls are recorded & reviewed. 1 < 2 </Say><Dial>+19005550000</Dial><Say a="'
    setup = new_site(numbers=1, record=True, notice=notice)
    response = twilio_post(client, VOICE, call_params(setup, setup.numbers[0]), setup.token)
    root = twiml(response)
    assert [child.tag for child in root] == ["Say", "Dial"]
    assert root[0].text == notice and len(root[0]) == 0
    assert [n.text for n in root.iter("Number")] == [BUSINESS]
    assert dialled(root)[1]["record"] == "record-from-answer-dual"


@pytest.mark.parametrize(
    ("caller", "caller_id"),
    [
        pytest.param("+266696687", None, id="anonymous"),
        pytest.param("anonymous", None, id="word-anonymous"),
        pytest.param("client:alice", None, id="client"),
        pytest.param("sip:x@y", None, id="sip"),
        pytest.param("", None, id="empty"),
        pytest.param("+447700900123", None, id="foreign-unallocated"),
        pytest.param("+447911123456", "+447911123456", id="foreign"),
        pytest.param("+1 (212) 555-0143", "+12125550143", id="formatted"),
    ],
)
def test_every_caller_id_connects(app, client, setup, caller, caller_id):
    params = call_params(setup, setup.numbers[0], caller=caller)
    attrs = forwarded_plainly(twilio_post(client, VOICE, params, setup.token), BUSINESS)
    assert attrs.get("callerId") == caller_id
    assert run_jobs(app) == 1
    with app.app_context():
        [call] = get_db().scalars(select(Call)).all()
    assert call.caller_number == (caller or None)


# Where calls go when the number is not ours to route -----------------------------------
# (their records: tests/telephony/test_unrouted.py)


def recorded_once(state: dict) -> bool:
    """One voice event spooled and queued, as for any call."""
    return len(state["spool"]) == 1 and state["spool"][0].startswith("voice-")


def test_an_unknown_number_forwards_to_the_default(client, setup, written):
    params = call_params(setup, "+16285559999")
    forwarded_plainly(twilio_post(client, VOICE, params, setup.token), DEFAULT_FORWARD)
    assert recorded_once(written())


def test_a_released_number_forwards_to_the_default(app, client, setup, written):
    with app.app_context():
        db = get_db()
        number = db.scalar(select(TrackingNumber).where(TrackingNumber.number == setup.numbers[0]))
        number.active = False
        db.commit()
    params = call_params(setup, setup.numbers[0])
    forwarded_plainly(twilio_post(client, VOICE, params, setup.token), DEFAULT_FORWARD)
    assert recorded_once(written())


def test_a_suspended_client_forwards_to_the_default_unrecorded(app, client, new_site, written):
    setup = new_site(numbers=1, record=True)
    with app.app_context():
        get_db().get(Client, setup.client.id).suspended = True
        get_db().commit()
    params = call_params(setup, setup.numbers[0])
    forwarded_plainly(twilio_post(client, VOICE, params, setup.token), DEFAULT_FORWARD)
    assert recorded_once(written())


def test_with_no_default_an_unknown_number_gets_a_busy_tone(app, client, setup):
    app.config["DEFAULT_FORWARD_NUMBER"] = None
    root = twiml(twilio_post(client, VOICE, call_params(setup, "+16285559999"), setup.token))
    assert [(c.tag, c.attrib) for c in root] == [("Reject", {"reason": "busy"})]


def test_a_voice_webhook_without_callsid_still_connects(client, setup, written):
    params = call_params(setup, setup.numbers[0])
    del params["CallSid"]
    forwarded_plainly(twilio_post(client, VOICE, params, setup.token), BUSINESS)
    assert nothing_written(written())


def test_the_fallback_forwards_and_notes_a_degraded_call(app, client, new_site):
    setup = new_site(numbers=1, record=True)
    params = call_params(setup, setup.numbers[0], ErrorCode="11200")
    forwarded_plainly(twilio_post(client, FALLBACK, params, setup.token), BUSINESS)
    assert run_jobs(app) == 1
    with app.app_context():
        [call] = get_db().scalars(select(Call)).all()
    assert (call.call_sid, call.degraded, call.notice_played) == (params["CallSid"], True, False)


@pytest.mark.parametrize(
    ("to", "token", "expected"),
    [
        pytest.param("known", "forged", BUSINESS, id="forged"),
        pytest.param("known", None, BUSINESS, id="unsigned"),
        pytest.param("+16285559999", "forged", DEFAULT_FORWARD, id="unknown-number"),
    ],
)
def test_the_fallback_always_forwards_and_writes_only_when_signed(
    client, setup, written, to, token, expected
):
    params = call_params(setup, setup.numbers[0] if to == "known" else to)
    key = {"forged": secrets.token_hex(16), None: None, "valid": setup.token}[token]
    forwarded_plainly(twilio_post(client, FALLBACK, params, key), expected)
    assert nothing_written(written())


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xfe\x00garbage", b'{"CallSid": "CA1"}', b"%%%&&==&To=%00", b"\x00" * 64],
)
def test_the_fallback_forwards_even_garbage(client, body):
    response = client.post(FALLBACK, data=body, content_type="application/x-www-form-urlencoded")
    forwarded_plainly(response, DEFAULT_FORWARD)


# Bad input: 4xx with a reason, never a 500 ---------------------------------------------


def test_a_callback_without_callsid_is_a_400(client, setup, written):
    params = {"AccountSid": setup.account_sid, "To": setup.numbers[0], "CallStatus": "completed"}
    for path in CALLBACKS:
        response = twilio_post(client, path, params, setup.token)
        assert response.status_code == 400, path
        assert "CallSid is required" in response.get_data(as_text=True)
    assert nothing_written(written())


@pytest.mark.parametrize(
    "sid",
    ["CA\x001", "CA 1", "CA1\n", "C" * 65, "CA\u00e91"],
    ids=["nul", "space", "newline", "long", "non-ascii"],
)
def test_a_malformed_callsid_is_a_400(client, setup, written, sid):
    params = {"AccountSid": setup.account_sid, "CallSid": sid, "To": setup.numbers[0]}
    for path in CALLBACKS:
        response = twilio_post(client, path, params, setup.token)
        assert response.status_code == 400, path
        assert "CallSid is malformed" in response.get_data(as_text=True)
    assert nothing_written(written())


def test_a_voice_call_with_a_malformed_callsid_connects_unrecorded(client, setup, written):
    params = call_params(setup, setup.numbers[0], sid="CA\x00" + "1" * 32)
    forwarded_plainly(twilio_post(client, VOICE, params, setup.token), BUSINESS)
    assert nothing_written(written())


@pytest.mark.postgres
def test_hostile_but_signed_values_are_stored_safely(app, client, setup):
    """NUL bytes and oversized fields would make PostgreSQL refuse the record forever."""
    params = call_params(setup, setup.numbers[0], caller="+1212555\x000143")
    forwarded_plainly(twilio_post(client, VOICE, params, setup.token), BUSINESS)
    sid = params["CallSid"]
    dial = {
        "AccountSid": setup.account_sid,
        "CallSid": sid,
        "To": setup.numbers[0],
        "DialCallStatus": "completed\x00" + "x" * 100,
        "DialCallDuration": "\x0012",
    }
    assert twilio_post(client, CALLBACKS[1], dial, setup.token).status_code == 200
    recording = {
        "AccountSid": setup.account_sid,
        "CallSid": sid,
        "RecordingSid": "RE" + "9" * 90,
        "RecordingUrl": "https://x/\x00",
        "RecordingDuration": "7",
    }
    assert twilio_post(client, CALLBACKS[2], recording, setup.token).status_code == 204
    assert run_jobs(app) == 3
    with app.app_context():
        [call] = get_db().scalars(select(Call)).all()
        failed = get_queue().failed_job_registry.count
    assert failed == 0
    assert call.caller_number == "+12125550143"
    assert call.dial_status == ("completed" + "x" * 100)[:20]
    assert call.recording_sid == ("RE" + "9" * 90)[:64] and call.recording_url == "https://x/"


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00garbage", b'{"CallSid": "CA1"}', b"%%%&&==", b"CallSid=%00&To=\x00", b""],
    ids=["binary", "json", "percent-soup", "nul", "empty"],
)
def test_garbage_bodies_are_refused_with_a_reason(client, setup, written, body):
    for path in (VOICE, *CALLBACKS):
        response = client.post(
            path,
            data=body,
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        )
        assert response.status_code == 403, path
        assert "invalid signature" in response.get_data(as_text=True)
    assert nothing_written(written())


def test_a_non_ascii_signature_header_is_a_403(client, setup):
    params = call_params(setup, setup.numbers[0])
    for path in (VOICE, *CALLBACKS):
        response = client.post(
            path,
            data=urlencode(params),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": "\u00e9" * 28},
        )
        assert response.status_code == 403, path


def test_a_huge_body_is_a_413(client, setup, written):
    params = call_params(setup, setup.numbers[0], Padding="x" * (2 * 1024 * 1024))
    for path in (VOICE, *CALLBACKS):
        response = twilio_post(client, path, params, setup.token)
        assert response.status_code == 413, path
        assert "Too Large" in response.get_data(as_text=True)
    # The Fallback URL is the last resort: it forwards whatever it is sent.
    forwarded_plainly(twilio_post(client, FALLBACK, params, setup.token), DEFAULT_FORWARD)
    assert nothing_written(written())


def test_other_methods_are_a_405(client):
    for path in (VOICE, FALLBACK, *CALLBACKS):
        assert client.get(path).status_code == 405, path


# The lean voice webhook ---------------------------------------------------------------


class CountingValidator(Validator):
    """The webhook's validator, counting the HMACs it computes."""

    hmacs = 0

    def compute_signature(self, uri, params, algorithm=None):
        CountingValidator.hmacs += 1
        return super().compute_signature(uri, params, algorithm)


@pytest.mark.parametrize("ported", [False, True], ids=["as-configured", "port-443"])
def test_a_genuine_signature_costs_one_hmac(ported):
    url = "https://calls.example/telephony/twilio/voice"
    signed = url.replace(".example/", ".example:443/") if ported else url
    params = dict(VECTOR_PARAMS)
    signature = sign(signed, params, VECTOR_TOKEN)
    Validator._with_port.clear()
    CountingValidator.hmacs = 0
    validator = CountingValidator(VECTOR_TOKEN)
    assert validator.validate(url, params, signature)
    # The first request signed with the port tries the plain form first; after that the
    # form that matched is tried first.
    assert CountingValidator.hmacs == (2 if ported else 1)
    for _ in range(3):
        assert validator.validate(url, params, signature)
    assert CountingValidator.hmacs == (2 if ported else 1) + 3
    # The library accepts the same requests, with two HMACs each.
    assert RequestValidator(VECTOR_TOKEN).validate(url, params, signature)
    assert not validator.validate(url, params | {"Digits": "9"}, signature)
    assert not CountingValidator("54321").validate(url, params, signature)


def test_a_token_is_opened_once_per_configuration_load(app, setup, monkeypatch):
    """The agency's sealed token is opened on the first call a snapshot answers, not on
    every call; a new load opens it again, and the copy on disk holds no clear token."""
    from ringtrail.telephony import webhooks
    from ringtrail.tracking.directory import load

    opened = []
    real = webhooks.unseal
    monkeypatch.setattr(webhooks, "unseal", lambda sealed: opened.append(sealed) or real(sealed))
    url = PUBLIC_URL + VOICE
    with app.app_context():
        snapshot = load(get_db())
        route = snapshot.routes[setup.numbers[0]]
        for _ in range(3):
            params = call_params(setup, setup.numbers[0])
            hook = webhooks.Webhook(url=url, form=params, signature=sign(url, params, setup.token))
            assert webhooks.verified_agency(snapshot, route, hook) == setup.agency.id
        forged = webhooks.Webhook(url=url, form=params, signature=sign(url, params, "x" * 32))
        assert webhooks.verified_agency(snapshot, route, forged) is None
        assert len(opened) == 1
        assert setup.token not in snapshot.to_json()
        again = load(get_db())
        assert webhooks.verified_agency(again, again.routes[setup.numbers[0]], hook)
    assert len(opened) == 2


def test_the_caller_is_read_once_and_located_by_the_job(app, client, setup, monkeypatch):
    from ringtrail import phones

    parses, locates = [], []
    real_parse, real_state = phones.parse, phones.state_of
    monkeypatch.setattr(phones, "parse", lambda *a: parses.append(a) or real_parse(*a))
    monkeypatch.setattr(phones, "state_of", lambda n: locates.append(n) or real_state(n))
    response = twilio_post(client, VOICE, call_params(setup, setup.numbers[0]), setup.token)
    assert forwarded_plainly(response, BUSINESS)["callerId"] == CALLER
    assert len(parses) == 1  # the caller id, hash and event alike
    assert locates == []  # the answer does not depend on the caller's state
    run_jobs(app)
    with app.app_context():
        [call] = get_db().scalars(select(Call)).all()
    assert call.caller_state == "NY" and locates == [CALLER]  # the job located it


def test_a_recorded_one_party_call_is_located_by_the_webhook(app, client, new_site, monkeypatch):
    from ringtrail import phones

    setup = new_site(numbers=1, record=True)
    with app.app_context():
        db = get_db()
        db.get(Client, setup.client.id).us_state = "NY"  # a one-party state
        db.get(Client, setup.client.id).consent_mode = "one_party"
        db.commit()
    locates = []
    real_state = phones.state_of
    monkeypatch.setattr(phones, "state_of", lambda n: locates.append(n) or real_state(n))
    params = call_params(setup, setup.numbers[0])
    body = twilio_post(client, VOICE, params, setup.token).get_data(as_text=True)
    assert locates == [CALLER]  # a NY caller of a NY business in one_party mode...
    assert "record-from-answer-dual" in body and "<Say>" not in body  # ...hears no notice


def test_cached_answers_are_what_the_library_builds(app, client, setup):
    from ringtrail.telephony import twiml as build

    bodies = {}
    for caller in ("+12125550143", "+13105550199", "anonymous"):
        params = call_params(setup, setup.numbers[0]) | {"From": caller}
        bodies[caller] = twilio_post(client, VOICE, params, setup.token).get_data(as_text=True)
    with app.app_context():
        for caller, body in bodies.items():
            wanted = None if caller == "anonymous" else caller
            assert body == str(build.forward(BUSINESS, wanted))
