"""HIPAA mode: nothing recorded or transcribed, and the caller's number kept only as a keyed hash.

The number is looked for everywhere it could land: every text of every SQL table, every
key and value of the lease Redis and of the queue Redis (RQ's compressed job data
included), and the spool folder. The same search finds it for a client outside HIPAA
mode, which shows the search works.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import xml.etree.ElementTree as ET
import zlib

import pytest
import redis as redis_lib
from sqlalchemy import select

from ringtrail import create_app
from ringtrail import hashing as privacy
from ringtrail.calls.intake import move
from ringtrail.storage.clients import get_queue
from ringtrail.storage.models import Base, Call, Client
from ringtrail.storage.sql import get_db
from ringtrail.tracking.directory import get_directory
from tests.helpers import (
    BUSINESS,
    HUMAN_UA,
    ORIGIN,
    bearer,
    call_params,
    free_port,
    make_site,
    new_key,
    run_jobs,
    twilio_post,
)

VOICE = "/telephony/twilio/voice"
CALLER = "+13125550187"  # Chicago, IL
WRITTEN_AS = ["+13125550187", "+1 (312) 555-0187", "(312) 555-0187", "+1-312-555-0187"]
# The digits with up to three separators between them: (312) 555-0187, %2B1312..., etc.
FOUND = re.compile(r"[^0-9]{0,3}".join("3125550187").encode())


@pytest.fixture
def queue_db_url(redis_url):
    """The queue on its own Redis database, so the lease and queue Redis are both searched."""
    url = f"{redis_url}{'&' if '?' in redis_url else '?'}db=1"
    yield url
    client = redis_lib.Redis.from_url(url)
    client.flushdb()
    client.close()


STARTS = itertools.count(0, 10)  # numbers of each new_site, +1 628 200 xxxx


@pytest.fixture
def app_config(app_config, queue_db_url):
    return app_config | {"QUEUE_REDIS_URL": queue_db_url}


def new_site(app, *, hipaa: bool, **client_fields):
    with app.app_context():
        db = get_db()
        # Each site its own numbers (two random starts met 1 time in 900).
        setup = make_site(db, record=True, number_start=next(STARTS) % 9_000)
        client = db.get(Client, setup.client.id)
        client.hipaa = hipaa
        for name, value in client_fields.items():
            setattr(client, name, value)
        db.commit()
        get_directory().invalidate()
    return setup


def redis_hits(url: str) -> list[str]:
    """Keys of this Redis whose name or value holds the caller's number."""
    client = redis_lib.Redis.from_url(url)
    hits = []
    try:
        for key in client.scan_iter():
            kind = client.type(key)
            if kind == b"string":
                values = [client.get(key)]
            elif kind == b"hash":
                values = [v for pair in client.hgetall(key).items() for v in pair]
            elif kind == b"list":
                values = client.lrange(key, 0, -1)
            elif kind == b"set":
                values = list(client.smembers(key))
            elif kind == b"zset":
                values = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
            else:
                values = [repr(client.xrange(key)).encode()]
            for value in [key, *values]:
                texts = [value]
                with contextlib.suppress(zlib.error, TypeError):
                    texts.append(zlib.decompress(value))  # RQ compresses job data
                if any(FOUND.search(text) for text in texts if text):
                    hits.append(key.decode(errors="replace"))
    finally:
        client.close()
    return hits


def sql_hits(app) -> list[str]:
    """Table.column of every SQL value that holds the caller's number."""
    hits = []
    with app.app_context():
        db = get_db()
        for table in Base.metadata.sorted_tables:
            for row in db.execute(select(table)).mappings():
                for column, value in row.items():
                    text = json.dumps(value, default=str).encode()
                    if value is not None and FOUND.search(text):
                        hits.append(f"{table.name}.{column}")
    return hits


def spool_hits(app) -> list[str]:
    folder = app.config["SPOOL_DIR"]
    hits = []
    for root, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(root, name), "rb") as fh:
                if FOUND.search(fh.read()):
                    hits.append(name)
    return hits


def everywhere(app, redis_url, queue_db_url) -> dict[str, list[str]]:
    return {
        "sql": sql_hits(app),
        "lease redis": redis_hits(redis_url),
        "queue redis": redis_hits(queue_db_url),
        "spool": spool_hits(app),
    }


def a_call_with_everything(app, client, setup, caller: str) -> str:
    """A visit, a call from ``caller``, and every callback a call can bring."""
    visit = client.post(
        "/v1/sessions",
        data=json.dumps({"site": setup.site_key, "url": "https://shop.example/clinic?p=1"}),
        content_type="text/plain",
        headers={"User-Agent": HUMAN_UA, "Origin": ORIGIN},
    )
    assert visit.status_code == 200
    number = visit.get_json()["numbers"][BUSINESS]["e164"]
    params = call_params(setup, number, caller=caller, Caller=caller, FromCity="CHICAGO")
    answer = twilio_post(client, VOICE, params, setup.token)
    assert answer.status_code == 200
    sid = params["CallSid"]
    base = {"AccountSid": setup.account_sid, "CallSid": sid, "To": number, "From": caller}
    callbacks = {
        "status": {"CallStatus": "completed", "CallDuration": "42"},
        "dial": {"DialCallStatus": "no-answer"},
        "recording": {"RecordingSid": "RE1" + sid[3:], "RecordingUrl": "https://x/r"},
        "transcription": {"TranscriptionSid": "TR1", "TranscriptionText": "about my test"},
    }
    for path, extra in callbacks.items():
        response = twilio_post(client, f"/telephony/twilio/{path}", base | extra, setup.token)
        assert response.status_code in (200, 204), path
        if path == "dial":  # HIPAA: no voicemail either
            assert b"<Record" not in response.get_data()
    return answer.get_data(as_text=True)


@pytest.mark.postgres
def test_hipaa_no_raw_caller_number_reaches_sql_redis_the_queue_or_the_spool(
    app, client, redis_url, queue_db_url
):
    setup = new_site(app, hipaa=True, transcribe=True, voicemail=True, whisper=True)
    twiml = a_call_with_everything(app, client, setup, CALLER)
    assert "<Say>" not in twiml and "record" not in twiml  # recording asked for, refused
    with app.app_context():
        assert move() == 5 and get_queue().count == 5  # the jobs hold the events' ids only
    assert everywhere(app, redis_url, queue_db_url) == {
        "sql": [],
        "lease redis": [],
        "queue redis": [],
        "spool": [],
    }
    assert run_jobs(app) == 5
    assert everywhere(app, redis_url, queue_db_url) == {
        "sql": [],
        "lease redis": [],
        "queue redis": [],
        "spool": [],
    }
    with app.app_context():
        [call] = get_db().scalars(select(Call)).all()
        assert call.caller_number is None
        assert call.caller_hash == privacy.caller_hash(CALLER)
        assert (call.recording_sid, call.recording_url, call.transcription) == (None, None, None)
        assert call.notice_played is False and call.confidence == "exact"
        assert call.caller_state == "IL"
        # Page URLs are kept without their query string.
        assert "?" not in call.visit.landing_url and call.visit.landing_url.endswith("/clinic")


def test_hipaa_with_redis_down_the_spool_holds_no_raw_number(app, app_config, redis_url):
    setup = new_site(app, hipaa=True)
    dead = f"redis://127.0.0.1:{free_port()}/0"
    down = create_app(app_config | {"REDIS_URL": dead, "QUEUE_REDIS_URL": dead})
    try:
        params = call_params(setup, setup.numbers[0], caller=CALLER)
        response = twilio_post(down.test_client(), VOICE, params, setup.token)
        assert response.status_code == 200 and b"<Dial" in response.get_data()
    finally:
        down.extensions["ringtrail"]["engine"].dispose()
    spooled = os.listdir(app.config["SPOOL_DIR"])
    assert len(spooled) == 1
    with open(os.path.join(app.config["SPOOL_DIR"], spooled[0])) as fh:
        event = json.load(fh)
    assert (
        event["caller"] is None
        and CALLER.lstrip("+") not in json.dumps(event)
        and event["caller_hash"] == privacy.caller_hash(CALLER, "test")
    )
    assert spool_hits(app) == []


def test_outside_hipaa_the_same_search_finds_the_number(app, client, redis_url, queue_db_url):
    setup = new_site(app, hipaa=False)
    a_call_with_everything(app, client, setup, CALLER)
    before = everywhere(app, redis_url, queue_db_url)
    assert before["queue redis"] and not before["sql"]  # the stashed voice event
    run_jobs(app)
    assert "calls.caller_number" in sql_hits(app)
    with app.app_context():
        [call] = get_db().scalars(select(Call)).all()
        assert call.caller_hash == privacy.caller_hash(CALLER)


def test_repeat_callers_are_told_apart_by_hash_in_and_out_of_hipaa_mode(app, client):
    hipaa = new_site(app, hipaa=True)
    plain = new_site(app, hipaa=False)
    for setup in (hipaa, plain):
        for caller in [*WRITTEN_AS, "+14155550143", "anonymous"]:
            params = call_params(setup, setup.numbers[0], caller=caller)
            assert twilio_post(client, VOICE, params, setup.token).status_code == 200
    run_jobs(app)
    with app.app_context():
        rows = get_db().execute(select(Call.client_id, Call.caller_hash)).all()
    for setup in (hipaa, plain):
        hashes = [h for client_id, h in rows if client_id == setup.client.id]
        assert len(hashes) == 6
        assert len(set(hashes[:4])) == 1 and hashes[0] is not None  # one caller, 4 spellings
        assert hashes[4] not in (None, hashes[0])  # another caller
        assert hashes[5] is None  # anonymous callers are not one repeat caller


def test_caller_hash_is_keyed_and_normalised(app):
    with app.app_context():
        ours = privacy.caller_hash(CALLER)
    assert ours == privacy.caller_hash(" +1 312-555-0187 ", "test")
    assert ours == privacy.caller_hash("3125550187", "test")  # national, read as US
    assert ours != privacy.caller_hash(CALLER, "another secret")
    assert ours != hashlib.sha256(CALLER.encode()).hexdigest()  # not an unkeyed hash
    assert len(ours) == 64 and CALLER[2:] not in ours
    for not_a_number in ("", None, "anonymous", "+266696687", "sip:a@b", "client:bob", "+1555"):
        assert privacy.caller_hash(not_a_number, "test") is None


def test_hipaa_never_records_or_transcribes_whatever_the_settings(app, client):
    setup = new_site(app, hipaa=True, transcribe=True, voicemail=True, whisper=True)
    answer = twilio_post(client, VOICE, call_params(setup, setup.numbers[0]), setup.token)
    root = ET.fromstring(answer.get_data())  # noqa: S314 - our own answer
    assert [el.tag for el in root.iter()] == ["Response", "Dial", "Number"]
    assert root[0].get("record") is None and root[0][0].text == BUSINESS
    run_jobs(app)
    with app.app_context():
        [call] = get_db().scalars(select(Call)).all()
    assert (call.notice_played, call.caller_number) == (False, None)


@pytest.mark.postgres
def test_hipaa_the_ingest_api_keeps_no_raw_number_either(app, client, redis_url, queue_db_url):
    setup = new_site(app, hipaa=True)
    key = new_key(app, setup.agency.id)
    body = {"provider": "pbx", "call_id": "pbx-1", "to": setup.numbers[0], "from": WRITTEN_AS[1]}
    res = client.post("/api/v1/calls", json=body, headers=bearer(key))
    assert res.status_code == 201 and res.get_json()["caller_number"] is None
    again = client.post("/api/v1/calls", json=body, headers=bearer(key))
    assert again.status_code == 200 and again.get_json()["caller_number"] is None
    assert everywhere(app, redis_url, queue_db_url) == {
        "sql": [],
        "lease redis": [],
        "queue redis": [],
        "spool": [],
    }
    with app.app_context():
        [call] = get_db().scalars(select(Call)).all()
        assert call.caller_number is None and call.caller_state == "IL"
        assert call.caller_hash == privacy.caller_hash(CALLER)
    # The same call into a client outside HIPAA mode keeps the number: the search works.
    plain = new_site(app, hipaa=False)
    other = body | {"to": plain.numbers[0]}
    key = new_key(app, plain.agency.id)
    assert client.post("/api/v1/calls", json=other, headers=bearer(key)).status_code == 201
    assert sql_hits(app) == ["calls.caller_number"]


@pytest.mark.postgres
def test_hipaa_another_agency_cannot_plant_a_recording_on_the_call(
    app, client, redis_url, queue_db_url
):
    setup = new_site(app, hipaa=True, transcribe=True)
    a_call_with_everything(app, client, setup, CALLER)
    run_jobs(app)
    with app.app_context():
        [sid] = get_db().scalars(select(Call.call_sid)).all()
    # Agency A, signing as itself, sends a recording, a transcript, a status and a voice
    # webhook (from another caller, to its own number) that reuse the HIPAA call's id.
    other = new_site(app, hipaa=False)
    base = {"AccountSid": other.account_sid, "CallSid": sid}
    for path, extra in {
        "recording": {"RecordingSid": "RE" + "7" * 32, "RecordingUrl": "https://evil.example/r"},
        "transcription": {"TranscriptionSid": "TR9", "TranscriptionText": "planted"},
        "status": {"CallStatus": "canceled"},
    }.items():
        res = twilio_post(client, f"/telephony/twilio/{path}", base | extra, other.token)
        assert res.status_code == 204, path
    params = call_params(other, other.numbers[0], sid=sid, caller="+14155550143")
    assert twilio_post(client, VOICE, params, other.token).status_code == 200
    assert run_jobs(app) == 4
    with app.app_context():
        rows = {c.agency_id: c for c in get_db().scalars(select(Call)).all()}
        assert set(rows) == {setup.agency.id, other.agency.id}
        hipaa = rows[setup.agency.id]
        assert (hipaa.recording_sid, hipaa.recording_url, hipaa.transcription) == (None,) * 3
        assert (hipaa.status, hipaa.client_id) == ("completed", setup.client.id)
        assert rows[other.agency.id].recording_url == "https://evil.example/r"  # A's own
    assert everywhere(app, redis_url, queue_db_url) == {
        "sql": [],
        "lease redis": [],
        "queue redis": [],
        "spool": [],
    }
