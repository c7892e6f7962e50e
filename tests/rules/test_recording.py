"""Recording and its notice: every TwiML route, in every situation, says the notice first.

The sweep below walks ``app.url_map`` for the telephony blueprint, so a route added later
is driven too. Each route gets the union of every parameter any Twilio webhook sends, for
every ``DialCallStatus``, on many clients at once (normal, overflow, source, unknown,
suspended, after hours, voicemail, whisper, one-party, HIPAA...), with the stores up,
with Redis down and with a routing table that cannot be confirmed current.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from sqlalchemy import select

from ringtrail.calls.events import event_id
from ringtrail.calls.intake import get_stash
from ringtrail.storage.channel import ConfigChannel
from ringtrail.storage.clients import get_queue_redis
from ringtrail.storage.models import Call, Client, Pool, TrackingNumber
from ringtrail.storage.sql import get_db
from ringtrail.telephony.plan import open_now
from ringtrail.terms import DEFAULT_NOTICE
from ringtrail.tracking.directory import get_directory
from tests.helpers import (
    BUSINESS,
    DEFAULT_FORWARD,
    PUBLIC_URL,
    call_params,
    database_down,
    free_port,
    make_site,
    run_jobs,
    twilio_post,
)

VOICE = "/telephony/twilio/voice"
DIAL = "/telephony/twilio/dial"
NOTICE = "This call is recorded & kept <90 days>. Press nothing."
CA_CALLER = "+14155550143"  # San Francisco, CA: all-party
NY_CALLER = "+12125550143"  # New York, NY: one-party
TOLL_FREE = "+18005550143"
AFTER_HOURS = "+14155550177"
CLOSED = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
DIAL_STATUSES = ("completed", "no-answer", "busy", "failed")


@pytest.fixture
def app_config(app_config):
    # A routing table that stays fresh for the test, as in production.
    return app_config | {"CACHE_SECONDS": 30}


@pytest.fixture
def new_site(app):
    counter = iter(range(0, 10_000, 20))

    def make(client_fields: dict | None = None, pool_record=None, **kwargs):
        kwargs.setdefault("record", True)
        kwargs.setdefault("notice", NOTICE)
        with app.app_context():
            db = get_db()
            setup = make_site(db, number_start=next(counter), **kwargs)
            client = db.get(Client, setup.client.id)
            for name, value in (client_fields or {}).items():
                setattr(client, name, value)
            if pool_record is not None:
                db.get(Pool, setup.pool.id).record_calls = pool_record
            db.commit()
            get_directory().invalidate()
        return setup

    return make


def telephony_paths(app) -> list[str]:
    """Every URL of the telephony blueprint: new routes are swept without editing this test."""
    paths = sorted(r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("telephony."))
    assert len(paths) >= 8, paths
    return paths


def every_param(setup, to: str, sid: str, caller: str, dial_status: str) -> dict[str, str]:
    """The union of what Twilio's voice, status, dial, recording and transcription send."""
    return call_params(
        setup,
        to,
        sid=sid,
        caller=caller,
        CallDuration="30",
        DialCallStatus=dial_status,
        DialCallDuration="0",
        RecordingSid="RE" + secrets.token_hex(16),
        RecordingUrl="https://api.twilio.com/rec/1",
        RecordingDuration="9",
        RecordingStatus="completed",
        TranscriptionSid="TR" + secrets.token_hex(16),
        TranscriptionText="hello",
        TranscriptionStatus="completed",
    )


def recording_markers(element: ET.Element) -> list[str]:
    """What in this element records (or transcribes) audio."""
    found = []
    if element.tag in ("Record", "Recording"):
        found.append(f"<{element.tag}>")
    if element.get("record", "do-not-record") not in ("do-not-record", "false"):
        found.append(f"record={element.get('record')}")
    if element.get("transcribe", "false") != "false":
        found.append("transcribe")
    for attr in ("recordingStatusCallback", "transcribeCallback"):
        if attr in element.attrib:
            found.append(attr)
    return found


def check_notice_first(body: bytes, notice: str) -> bool:
    """Assert no recording starts before a <Say> of the notice; return whether it records."""
    root = ET.fromstring(body)  # noqa: S314 - our own answer
    assert root.tag == "Response"
    heard = False
    records = False
    for element in root.iter():  # document order
        for value in element.attrib.values():
            assert "record-from-ringing" not in value, body
        if element.tag == "Say" and (element.text or "") == notice:
            heard = True
        markers = recording_markers(element)
        if markers:
            assert notice.strip(), f"recording with an empty notice: {body!r}"
            assert heard, f"{markers} before the notice: {body!r}"
            records = True
    if heard:  # the notice is said as itself, never with verbs smuggled in
        assert all(len(say) == 0 for say in root.iter("Say"))
    return records


@dataclass
class Situation:
    name: str
    setup: object
    to: str
    caller: str = CA_CALLER
    notice: str = NOTICE
    records: bool | None = None  # expected when the stores are up: True, False, or either


def situations(new_site) -> list[Situation]:
    """Clients in every situation, all in one database."""
    out = []

    def add(name, caller=CA_CALLER, to_role="pool", records=None, **kwargs):
        overflow = "+1628" + f"{7000000 + len(out):07d}"
        source = "+1628" + f"{8000000 + len(out):07d}"
        setup = new_site(overflow=overflow, source_numbers={"google/organic": source}, **kwargs)
        to = {"pool": setup.numbers[0], "overflow": overflow, "source": source}[to_role]
        notice = kwargs.get("notice", NOTICE)
        out.append(Situation(name, setup, to, caller, notice, records))

    add("normal", records=True)
    add("overflow", to_role="overflow", records=True)
    add("source", to_role="source", records=True)
    add("unknown", records=False)
    out[-1].to = "+16285559999"  # no client at all
    add("suspended", client_fields={"suspended": True}, records=False)
    add("after-hours", client_fields={"business_hours": CLOSED, "after_hours_number": AFTER_HOURS})
    add("after-hours-voicemail", client_fields={"business_hours": CLOSED, "voicemail": True})
    add("voicemail-unrecorded-client", record=False, client_fields={"voicemail": True})
    add("voicemail", client_fields={"voicemail": True, "transcribe": True}, records=True)
    add("transcribe", client_fields={"transcribe": True}, records=True)
    add("whisper", client_fields={"whisper": True}, records=True)
    add("whisper-unrecorded", record=False, client_fields={"whisper": True}, records=False)
    one_party = {"consent_mode": "one_party", "us_state": "NY"}
    add("one-party-ca-caller", client_fields=one_party, records=True)
    add("one-party-toll-free", caller=TOLL_FREE, client_fields=one_party, records=True)
    add("one-party-anonymous", caller="+266696687", client_fields=one_party, records=True)
    add("one-party-in-ca", caller=NY_CALLER, client_fields={"consent_mode": "one_party"})
    add("hipaa", client_fields={"hipaa": True, "voicemail": True, "transcribe": True})
    out[-1].records = False
    add("blank-notice", notice="   ", client_fields={"voicemail": True}, records=False)
    add("pool-override-on", record=False, pool_record=True, records=True)
    add("pool-override-off", pool_record=False, records=False)
    return out


def sweep(app, situations_: list[Situation]) -> dict[str, set[str]]:
    """Drive every telephony route for every situation; returns what recorded, by situation."""
    client = app.test_client()
    recorded: dict[str, set[str]] = {s.name: set() for s in situations_}
    for situation in situations_:
        for path in telephony_paths(app):
            for status in DIAL_STATUSES:
                sid = "CA" + secrets.token_hex(16)
                params = every_param(situation.setup, situation.to, sid, situation.caller, status)
                response = twilio_post(
                    client, f"{path}?n={quote(situation.to)}", params, situation.setup.token
                )
                assert response.status_code in (200, 204), (situation.name, path, response)
                if response.status_code == 204:
                    continue
                assert response.mimetype == "text/xml", (situation.name, path)
                if check_notice_first(response.get_data(), situation.notice):
                    recorded[situation.name].add(path)
    return recorded


def test_every_route_says_the_notice_before_recording(app, new_site):
    all_situations = situations(new_site)
    recorded = sweep(app, all_situations)
    for situation in all_situations:
        if situation.records is True:
            assert recorded[situation.name], f"{situation.name} should record somewhere"
        elif situation.records is False:
            assert not recorded[situation.name], (situation.name, recorded[situation.name])
    # The recordings happen where they should, so the sweep is not vacuous.
    assert recorded["normal"] == {VOICE}
    assert recorded["voicemail"] == {VOICE, DIAL}  # voicemail after no-answer, busy, failed
    assert VOICE in recorded["after-hours-voicemail"]
    assert recorded["voicemail-unrecorded-client"] == {DIAL}  # a voicemail is opt-in itself
    assert recorded["whisper"] == {VOICE}


def test_with_redis_down_no_route_records(app, app_config, new_site):
    from ringtrail import create_app

    all_situations = situations(new_site)
    dead = f"redis://127.0.0.1:{free_port()}/0"
    down = create_app(app_config | {"REDIS_URL": dead, "QUEUE_REDIS_URL": dead})
    try:
        recorded = sweep(down, all_situations)
    finally:
        down.extensions["ringtrail"]["engine"].dispose()
    assert recorded == {s.name: set() for s in all_situations}
    assert len(os.listdir(app_config["SPOOL_DIR"])) > 0  # the calls were noted


def test_with_a_routing_table_that_cannot_be_confirmed_no_route_records(app, new_site):
    """A change was announced, then the database went away before this process could read
    it: the table held is not known current, so nothing records."""
    all_situations = situations(new_site)
    with app.app_context():
        directory = get_directory()
        directory.current_for = 1.0  # instead of 5 s, to keep the test short
        snapshot = directory.get()
        assert directory.current(snapshot)
    with database_down(app):
        with app.app_context():
            assert ConfigChannel(get_queue_redis()).announce()
        deadline = time.monotonic() + 10
        while directory.current(snapshot):
            assert time.monotonic() < deadline, "the table stayed confirmed"
            time.sleep(0.05)
        recorded = sweep(app, all_situations)
    assert recorded == {s.name: set() for s in all_situations}


# What each path answers, exactly --------------------------------------------------------


def verbs(response) -> list[tuple[str, dict, str]]:
    root = ET.fromstring(response.get_data())  # noqa: S314
    return [(el.tag, dict(el.attrib), (el.text or "")) for el in root.iter() if el is not root]


def ring(client, setup, to=None, caller=CA_CALLER, sid=None):
    params = call_params(setup, to or setup.numbers[0], sid=sid, caller=caller)
    response = twilio_post(client, VOICE, params, setup.token)
    assert response.status_code == 200
    return response, params["CallSid"]


def calls(app) -> list[Call]:
    with app.app_context():
        return list(get_db().scalars(select(Call).order_by(Call.id)))


def test_proof_of_disclosure_travels_with_the_event_to_the_call(app, client, new_site):
    setup = new_site()
    before = time.time()
    response, sid = ring(client, setup)
    after = time.time()
    assert [v[0] for v in verbs(response)] == ["Say", "Dial", "Number"]
    with app.app_context():
        stashed = json.loads(
            get_queue_redis().get(
                get_stash().key(event_id("twilio", sid, "voice", "", setup.agency.id))
            )
        )
    version = hashlib.sha256(NOTICE.encode()).hexdigest()[:16]
    assert stashed["notice_played"] is True and stashed["notice_version"] == version
    assert before <= stashed["notice_at"] <= after
    assert run_jobs(app) == 1
    [call] = calls(app)
    assert (call.notice_played, call.notice_version) == (True, version)
    assert before - 1 <= call.notice_at.timestamp() <= after + 1
    assert (call.route_kind, call.caller_state) == ("normal", "CA")


def test_unrecorded_calls_prove_no_notice(app, client, new_site):
    setup = new_site(record=False)
    response, _ = ring(client, setup)
    assert [v[0] for v in verbs(response)] == ["Dial", "Number"]
    run_jobs(app)
    [call] = calls(app)
    assert (call.notice_played, call.notice_version, call.notice_at) == (False, None, None)


@pytest.mark.parametrize(
    ("client_on", "pool", "number", "records"),
    [
        (False, None, None, False),  # off by default
        (True, None, None, True),
        (False, True, None, True),
        (True, False, None, False),
        (True, False, True, True),
        (False, True, False, False),
        (True, None, False, False),
    ],
)
def test_recording_is_set_per_client_and_overridden_per_pool_and_number(
    app, client, new_site, client_on, pool, number, records
):
    setup = new_site(record=client_on, pool_record=pool)
    with app.app_context():
        db = get_db()
        row = db.scalar(select(TrackingNumber).where(TrackingNumber.number == setup.numbers[0]))
        row.record_calls = number
        db.commit()
    response, _ = ring(client, setup)
    assert check_notice_first(response.get_data(), NOTICE) is records


def test_a_new_client_does_not_record_and_needs_all_party_consent(app, client):
    with app.app_context():
        db = get_db()
        setup = make_site(db)  # record_calls left to the model's default
        fresh = Client(agency=setup.agency, name="New", business_number=BUSINESS)
        db.add(fresh)
        db.commit()
        assert (fresh.record_calls, fresh.transcribe, fresh.hipaa) == (False, False, False)
        assert fresh.consent_mode == "all_party"
        assert fresh.recording_notice == DEFAULT_NOTICE
    response, _ = ring(client, setup)
    assert check_notice_first(response.get_data(), NOTICE) is False


def test_one_party_skips_the_notice_only_for_known_one_party_callers(app, client, new_site):
    setup = new_site(client_fields={"consent_mode": "one_party", "us_state": "NY"})
    ny, _ = ring(client, setup, caller=NY_CALLER)
    assert [v[0] for v in verbs(ny)] == ["Dial", "Number"]
    assert verbs(ny)[0][1]["record"] == "record-from-answer-dual"
    for caller in (CA_CALLER, TOLL_FREE, "+447911123456", "anonymous"):
        response, _ = ring(client, setup, caller=caller)
        assert check_notice_first(response.get_data(), NOTICE), caller
        assert verbs(response)[0][:3:2] == ("Say", NOTICE)
    run_jobs(app)
    by_state = {c.caller_state: c.notice_played for c in calls(app)}
    assert by_state["NY"] is False and by_state["CA"] is True


def test_one_party_stored_for_an_all_party_client_is_not_applied(client, new_site):
    setup = new_site(client_fields={"consent_mode": "one_party", "us_state": "CA"})
    response, _ = ring(client, setup, caller=NY_CALLER)
    assert verbs(response)[0][:3:2] == ("Say", NOTICE)


def test_after_hours_forward_to_the_after_hours_number(app, client, new_site):
    setup = new_site(
        client_fields={"business_hours": CLOSED, "after_hours_number": AFTER_HOURS}, record=False
    )
    response, _ = ring(client, setup)
    assert [v[2] for v in verbs(response) if v[0] == "Number"] == [AFTER_HOURS]
    run_jobs(app)
    [call] = calls(app)
    assert (call.route_kind, call.forwarded_to) == ("after_hours", AFTER_HOURS)


def test_after_hours_without_a_number_takes_voicemail_with_the_notice_first(app, client, new_site):
    setup = new_site(
        client_fields={"business_hours": CLOSED, "voicemail": True, "voicemail_prompt": "Hi <b>"}
    )
    response, _ = ring(client, setup)
    steps = verbs(response)
    assert [(v[0], v[2]) for v in steps] == [("Say", NOTICE), ("Say", "Hi <b>"), ("Record", "")]
    record = steps[2][1]
    assert record["action"] == PUBLIC_URL + "/telephony/twilio/voicemail"
    assert record["recordingStatusCallback"] == PUBLIC_URL + "/telephony/twilio/recording"
    assert "transcribe" not in record
    run_jobs(app)
    [call] = calls(app)
    assert (call.route_kind, call.notice_played) == ("voicemail", True)


def test_after_hours_with_neither_rings_the_business(app, client, new_site):
    setup = new_site(record=False, client_fields={"business_hours": CLOSED})
    response, _ = ring(client, setup)
    assert [v[2] for v in verbs(response) if v[0] == "Number"] == [BUSINESS]


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
def test_an_unanswered_call_goes_to_voicemail_with_transcription(app, client, new_site, status):
    setup = new_site(record=False, client_fields={"voicemail": True, "transcribe": True})
    response, sid = ring(client, setup)
    assert "record" not in verbs(response)[0][1]  # the call itself is not recorded
    form = {
        "AccountSid": setup.account_sid,
        "CallSid": sid,
        "To": setup.numbers[0],
        "DialCallStatus": status,
    }
    answer = twilio_post(client, DIAL, form, setup.token)
    steps = verbs(answer)
    assert [v[0] for v in steps] == ["Say", "Say", "Record"]
    assert steps[0][2] == NOTICE
    assert steps[2][1]["transcribe"] == "true"
    assert steps[2][1]["transcribeCallback"] == PUBLIC_URL + "/telephony/twilio/transcription"
    transcript = {
        "AccountSid": setup.account_sid,
        "CallSid": sid,
        "TranscriptionSid": "TR1",
        "TranscriptionStatus": "completed",
        "TranscriptionText": "Please call me back about the quote.",
    }
    assert twilio_post(client, "/telephony/twilio/transcription", transcript, setup.token)
    assert run_jobs(app) == 3
    [call] = calls(app)
    assert (call.route_kind, call.notice_played, call.dial_status) == ("voicemail", True, status)
    assert call.transcription == "Please call me back about the quote."
    done = twilio_post(client, "/telephony/twilio/voicemail", form, setup.token)
    assert [v[0] for v in verbs(done)] == ["Say", "Hangup"]


def test_an_answered_call_does_not_go_to_voicemail(client, new_site):
    setup = new_site(client_fields={"voicemail": True})
    _, sid = ring(client, setup)
    form = {"AccountSid": setup.account_sid, "CallSid": sid, "To": setup.numbers[0]}
    answer = twilio_post(client, DIAL, form | {"DialCallStatus": "completed"}, setup.token)
    assert verbs(answer) == []


def test_transcripts_are_kept_only_for_clients_that_transcribe(app, client, new_site):
    setup = new_site()
    _, sid = ring(client, setup)
    transcript = {
        "AccountSid": setup.account_sid,
        "CallSid": sid,
        "TranscriptionSid": "TR2",
        "TranscriptionText": "secret",
    }
    twilio_post(client, "/telephony/twilio/transcription", transcript, setup.token)
    assert run_jobs(app) == 2
    [call] = calls(app)
    assert call.transcription is None and call.notice_played is True


def test_whisper_names_the_source_and_is_never_on_a_recorded_call(app, client, new_site):
    quiet = new_site(record=False, client_fields={"whisper": True})
    with app.app_context():
        get_db().get(Pool, quiet.pool.id).name = "Spring ads"
        get_db().commit()
        get_directory().invalidate()
    response, _ = ring(client, quiet)
    dial, number = verbs(response)[0], verbs(response)[1]
    assert dial[1]["answerOnBridge"] == "true" and "record" not in dial[1]
    url = number[1]["url"]
    assert url == f"{PUBLIC_URL}/telephony/twilio/whisper?n={quote(quiet.numbers[0])}"
    form = {"AccountSid": quiet.account_sid, "CallSid": "CA" + "1" * 32, "To": BUSINESS}
    said = twilio_post(client, url.removeprefix(PUBLIC_URL), form, quiet.token)
    assert verbs(said) == [("Say", {}, "Call from Spring ads.")]
    assert twilio_post(client, url.removeprefix(PUBLIC_URL), form, "forged").status_code == 403

    recorded = new_site(client_fields={"whisper": True})
    response, _ = ring(client, recorded)
    assert all("url" not in v[1] for v in verbs(response) if v[0] == "Number")
    assert check_notice_first(response.get_data(), NOTICE)


def test_whisper_of_a_source_number(client, new_site):
    setup = new_site(
        record=False,
        client_fields={"whisper": True},
        source_numbers={"google/organic": "+16289990001"},
    )
    response, _ = ring(client, setup, to="+16289990001")
    url = [v[1]["url"] for v in verbs(response) if v[0] == "Number"][0]
    form = {"AccountSid": setup.account_sid, "CallSid": "CA" + "2" * 32, "To": BUSINESS}
    said = twilio_post(client, url.removeprefix(PUBLIC_URL), form, setup.token)
    assert verbs(said) == [("Say", {}, "Call from google organic.")]


@pytest.mark.parametrize(
    ("hours", "tz", "when", "expected"),
    [
        (None, "America/New_York", "2026-03-02T03:00:00+00:00", True),
        ({"mon": [["09:00", "17:00"]]}, "America/New_York", "2026-03-02T14:00:00+00:00", True),
        ({"mon": [["09:00", "17:00"]]}, "America/New_York", "2026-03-02T22:30:00+00:00", False),
        ({"mon": [["09:00", "17:00"]]}, "America/Los_Angeles", "2026-03-02T16:59:00+00:00", False),
        ({"mon": [["09:00", "17:00"]]}, "America/Los_Angeles", "2026-03-02T17:00:00+00:00", True),
        ({"mon": [["22:00", "02:00"]]}, "UTC", "2026-03-02T23:00:00+00:00", True),
        ({"mon": [["22:00", "02:00"]]}, "UTC", "2026-03-03T01:00:00+00:00", True),
        ({"mon": [["22:00", "02:00"]]}, "UTC", "2026-03-03T02:00:00+00:00", False),
        ({"mon": [["9", "x"]]}, "UTC", "2026-03-02T12:00:00+00:00", True),  # unreadable: open
        ({"mon": [["09:00", "17:00"]]}, "Not/AZone", "2026-03-02T12:00:00+00:00", True),
    ],
)
def test_business_hours_in_the_clients_time_zone(hours, tz, when, expected):
    from datetime import datetime

    assert open_now(hours, tz, datetime.fromisoformat(when).timestamp()) is expected


def test_an_unknown_number_is_never_recorded_and_says_nothing(client, new_site):
    setup = new_site()
    response, _ = ring(client, setup, to="+16285559999")
    assert [(v[0], v[2]) for v in verbs(response)] == [("Dial", ""), ("Number", DEFAULT_FORWARD)]
