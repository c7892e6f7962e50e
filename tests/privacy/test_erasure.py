"""Erasure by caller number and by session id: afterwards nothing of the caller is left in
SQL, in either Redis, in the queue's jobs or on the spool; the receipt and the audit entry
say what went; the API, the dashboard and the command line all reach it."""

from __future__ import annotations

import json
import os
import re
import secrets
import zlib

import pytest
import redis as redis_lib
from click.testing import CliRunner
from sqlalchemy import JSON, String, Text, select, text

from ringtrail.calls.intake import move
from ringtrail.calls.spool import Spool
from ringtrail.cli import main
from ringtrail.errors import Invalid
from ringtrail.hashing import caller_hash
from ringtrail.privacy import erasure
from ringtrail.storage.models import (
    AuditEntry,
    Base,
    Call,
    Client,
    ErasureReceipt,
    VisitSnapshot,
)
from tests.helpers import (
    BUSINESS,
    HUMAN_UA,
    ORIGIN,
    bearer,
    call_params,
    log_in,
    make_site,
    make_user,
    new_key,
    run_jobs,
    twilio_post,
)

CALLER = "+12125550143"
OTHER = "+13105550199"
# Every way the caller's number might be written down.
FORMS = [
    "+12125550143",
    "12125550143",
    "2125550143",
    "(212) 555-0143",
    "212-555-0143",
    "212.555.0143",
    "+1 212-555-0143",
    "212 555 0143",
]


@pytest.fixture
def setup(db, stand_in):
    s = make_site(db, record=True)
    stand_in.accounts[s.account_sid] = s.token
    return s


def lease(client, site_key: str) -> tuple[str, str]:
    """A visitor session and the number it was leased."""
    body = {
        "site": site_key,
        "url": "https://shop.example/landing?utm_source=google&utm_medium=cpc&gclid=abc",
        "referrer": "https://www.google.com/",
        "title": "Landing",
    }
    res = client.post(
        "/v1/sessions",
        data=json.dumps(body),
        content_type="text/plain",
        headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA},
    )
    assert res.status_code == 200, res.get_data(as_text=True)
    data = res.get_json()
    return data["session"], data["numbers"][BUSINESS]["e164"]


def call(client, setup, to: str, caller: str, stand_in=None) -> str:
    """A voice webhook from ``caller``; the call is also in the carrier's log."""
    params = call_params(setup, to, caller=caller)
    res = twilio_post(client, "/telephony/twilio/voice", params, setup.token)
    assert res.status_code == 200
    if stand_in is not None:
        stand_in.calls[params["CallSid"]] = setup.account_sid
    return params["CallSid"]


def callback(client, setup, path: str, sid: str, **params: str) -> None:
    body = {"AccountSid": setup.account_sid, "CallSid": sid, "To": setup.numbers[0], **params}
    assert twilio_post(client, f"/telephony/twilio/{path}", body, setup.token).status_code == 204


def record(client, setup, stand_in, sid: str) -> str:
    """The recording callback of a call, for a recording the stand-in holds."""
    rsid = stand_in.add_recording(setup.account_sid)
    url = f"https://api.twilio.com/2010-04-01/Accounts/{setup.account_sid}/Recordings/{rsid}"
    callback(
        client,
        setup,
        "recording",
        sid,
        RecordingSid=rsid,
        RecordingUrl=url,
        RecordingDuration="31",
        RecordingStatus="completed",
    )
    return rsid


# -- searching every store ----------------------------------------------------------------


def sql_hits(db, needles: list[str]) -> list[str]:
    """Every text, string or JSON cell of every table that contains one of ``needles``."""
    hits = []
    conn = db.connection()
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
        if not columns:
            continue
        names = ", ".join(c.name for c in columns)
        for row in conn.execute(text(f"SELECT {names} FROM {table.name}")):  # noqa: S608
            for column, value in zip(columns, row, strict=True):
                blob = value if isinstance(value, str) else json.dumps(value)
                hits += [f"{table.name}.{column.name}: {n}" for n in needles if n in blob]
    return hits


def _readable(value) -> list[bytes]:
    if isinstance(value, bytes | bytearray):
        try:
            return [bytes(value), zlib.decompress(value)]
        except zlib.error:
            return [bytes(value)]
    return [str(value).encode()]


def redis_hits(url: str, needles: list[str]) -> list[str]:
    """Every key of a Redis whose name or value (decompressed too) holds one of ``needles``."""
    r = redis_lib.Redis.from_url(url)
    hits = []
    try:
        for key in r.scan_iter(count=1000):
            kind = r.type(key).decode()
            if kind == "string":
                values = [r.get(key)]
            elif kind == "hash":
                values = [v for pair in r.hgetall(key).items() for v in pair]
            elif kind == "list":
                values = r.lrange(key, 0, -1)
            elif kind == "set":
                values = list(r.smembers(key))
            elif kind == "zset":
                values = [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
            elif kind == "stream":
                values = [v for _, e in r.xrange(key) for pair in e.items() for v in pair]
            else:
                values = []
            blobs = [key] + [b for v in values for b in _readable(v)]
            hits += [f"{key!r}: {n}" for n in needles for blob in blobs if n.encode() in blob]
    finally:
        r.close()
    return hits


def spool_hits(directory: str, needles: list[str]) -> list[str]:
    hits = []
    for root, _dirs, files in os.walk(directory):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                blob = fh.read()
            hits += [f"{name}: {n}" for n in needles if n.encode() in blob + name.encode()]
    return hits


def everywhere(app, db, needles: list[str]) -> list[str]:
    db.expire_all()
    return (
        sql_hits(db, needles)
        + redis_hits(app.config["REDIS_URL"], needles)
        + redis_hits(app.config["QUEUE_REDIS_URL"], needles)
        + spool_hits(app.config["SPOOL_DIR"], needles)
    )


# -- the whole journey --------------------------------------------------------------------


@pytest.mark.postgres
def test_erasing_a_caller_leaves_nothing_of_the_number_anywhere(app, client, db, setup, stand_in):
    from ringtrail.storage.clients import get_queue

    # A visit, a recorded call from it, and another caller who must be left alone.
    session, number = lease(client, setup.site_key)
    first = call(client, setup, number, CALLER, stand_in)
    run_jobs(app)
    rsid = record(client, setup, stand_in, first)
    callback(client, setup, "status", first, CallStatus="completed", CallDuration="40")
    other_session, other_number = lease(client, setup.site_key)
    other = call(client, setup, other_number, OTHER, stand_in)
    other_rsid = record(client, setup, stand_in, other)
    run_jobs(app)
    # A failed job whose arguments and traceback quote the number.
    with app.app_context():
        get_queue().enqueue("json.loads", "{" + CALLER, job_id="bad-" + secrets.token_hex(4))
    run_jobs(app)
    # A second call, still queued with its status event; events spooled during an outage;
    # a spooled file set aside as unreadable.
    second = call(client, setup, setup.numbers[-1], CALLER)
    callback(client, setup, "status", second, CallStatus="completed")
    with app.app_context():  # the worker makes jobs of their ids (not run yet)
        while move(get_queue()):
            pass
    spool = Spool(app.config["SPOOL_DIR"])
    route = {"role": "pool", "client_id": setup.client.id, "site_id": setup.site.id}
    spooled = {
        "provider": "twilio",
        "kind": "voice",
        "call_sid": "CA" + secrets.token_hex(16),
        "received_at": 1.0,
        "params": {"From": "2125550143", "To": setup.numbers[1]},
        "route": route,
    }
    spool.put("voice-spooled", spooled)
    spool.put("status-spooled", {**spooled, "kind": "status", "params": {"CallStatus": "busy"}})
    spool.put("voice-other", {**spooled, "call_sid": "CAother", "params": {"From": OTHER}})
    with open(os.path.join(app.config["SPOOL_DIR"], "voice-x.json.bad"), "w") as fh:
        fh.write('{"params": {"From": "+12125550143"')

    needles = [*FORMS, session, caller_hash(CALLER)]
    assert len(everywhere(app, db, needles)) > 8  # the search finds what is there

    key = new_key(app, setup.agency.id)
    res = client.post("/api/v1/erasures", json={"caller": "(212) 555-0143"}, headers=bearer(key))
    assert res.status_code == 201, res.get_json()
    receipt = res.get_json()

    assert everywhere(app, db, needles) == []
    counts = receipt["counts"]
    assert receipt["complete"] is True and receipt["kind"] == "caller"
    assert counts["calls"] == 1 and counts["recordings"] == 1 and counts["carrier_calls"] == 1
    assert counts["snapshots"] == 1 and counts["live_visits"] == 1
    assert counts["lease_history"] >= 1
    assert counts["queued_events"] == 2  # the second call's voice and status events
    assert counts["jobs"] == 3  # their two jobs and the failed one
    # Two spooled events, the file set aside, and the write-ahead copies of the second
    # call's two queued events.
    assert counts["spool"] == 5
    # The carrier deleted the caller's recording and call log, and nothing else.
    assert rsid not in stand_in.recordings and first not in stand_in.calls
    assert other_rsid in stand_in.recordings and other in stand_in.calls
    # The other caller is untouched, everywhere.
    db.expire_all()
    [kept] = db.scalars(select(Call)).all()
    assert kept.caller_number == OTHER and kept.recording_sid == other_rsid
    assert kept.visit is not None and kept.visit.session_id == other_session
    assert spool.pending() == ["voice-other"]
    # The receipt and the audit entry prove it, without the number.
    stored = db.get(ErasureReceipt, receipt["id"])
    assert stored.subject_hash == receipt["subject_hash"] and len(stored.subject_hash) == 64
    assert stored.agency_id == setup.agency.id
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "erase"))
    assert entry.object_type == "erasure" and entry.object_id == stored.id
    assert entry.details["counts"] == counts
    # Nothing comes back: the queue holds no job that could write the call again.
    run_jobs(app)
    assert everywhere(app, db, needles) == []
    # Erasing again finds nothing, and says so.
    again = client.post("/api/v1/erasures", json={"caller": CALLER}, headers=bearer(key))
    assert again.status_code == 201
    assert set(again.get_json()["counts"].values()) == {0}
    assert again.get_json()["subject_hash"] == receipt["subject_hash"]


def test_the_lease_history_keeps_its_timeline_without_the_session(app, client, db, setup):
    from ringtrail.tracking.pool import get_pools

    session, number = lease(client, setup.site_key)
    res = client.post(
        "/api/v1/erasures", json={"session": session}, headers=bearer(new_key(app, setup.agency.id))
    )
    assert res.status_code == 201
    assert res.get_json()["counts"]["lease_history"] >= 1
    with app.app_context():
        records = get_pools().records(setup.pool.id, number)
    assert records and all(r.session != session for r in records)
    assert all(r.session.startswith("erased-") for r in records)
    # The number stays leased to nobody until the lease ends: a new visitor gets another.
    _, next_number = lease(client, setup.site_key)
    assert next_number != number
    # A call on it now is attributed to the stand-in, which has no visit.
    call(client, setup, number, CALLER)
    run_jobs(app)
    db.expire_all()
    [found] = db.scalars(select(Call)).all()
    assert found.session_id.startswith("erased-") and found.visit_id is None


def test_erasing_a_session_detaches_its_calls_but_keeps_them(app, client, db, setup):
    session, number = lease(client, setup.site_key)
    sid = call(client, setup, number, CALLER)
    run_jobs(app)
    db.expire_all()
    assert db.scalar(select(Call.session_id).where(Call.call_sid == sid)) == session
    key = new_key(app, setup.agency.id)
    res = client.post("/api/v1/erasures", json={"session": session}, headers=bearer(key))
    counts = res.get_json()["counts"]
    assert (counts["calls_detached"], counts["snapshots"], counts["live_visits"]) == (1, 1, 1)
    assert counts["calls"] == 0
    assert everywhere(app, db, [session]) == []
    db.expire_all()
    kept = db.scalar(select(Call).where(Call.call_sid == sid))
    assert kept.caller_number == CALLER and kept.visit_id is None and kept.source == "google"
    assert db.scalars(select(VisitSnapshot)).all() == []


def test_an_agency_erases_only_in_its_own_tenant(app, client, db, setup, stand_in):
    other = make_site(db, number_start=40)
    theirs = call(client, other, other.numbers[0], CALLER)
    ours = call(client, setup, setup.numbers[0], CALLER)
    run_jobs(app)
    other_key = new_key(app, other.agency.id)
    # A client key reaches only its client.
    client_key = new_key(app, setup.agency.id, setup.client.id)
    res = client.post("/api/v1/erasures", json={"caller": CALLER}, headers=bearer(client_key))
    assert res.status_code == 201 and res.get_json()["counts"]["calls"] == 1
    db.expire_all()
    assert set(db.scalars(select(Call.call_sid))) == {theirs}
    assert ours not in {c for c in db.scalars(select(Call.call_sid))}
    listing = client.get("/api/v1/erasures", headers=bearer(other_key)).get_json()
    assert listing["items"] == [] and listing["total"] == 0


def test_erasure_leaves_another_agencys_events_with_the_same_call_id(
    app, client, db, setup, stand_in
):
    """Call ids are unique per agency only: erasing our caller's call must not take the
    queued events of another agency's call that bears the same id."""
    other = make_site(db, number_start=40)
    sid = call(client, setup, setup.numbers[0], CALLER)
    run_jobs(app)
    params = call_params(other, other.numbers[0], sid=sid, caller=OTHER)
    assert twilio_post(client, "/telephony/twilio/voice", params, other.token).status_code == 200
    body = {"AccountSid": other.account_sid, "CallSid": sid, "CallStatus": "completed"}
    assert twilio_post(client, "/telephony/twilio/status", body, other.token).status_code == 204
    key = new_key(app, setup.agency.id)
    res = client.post("/api/v1/erasures", json={"caller": CALLER}, headers=bearer(key))
    assert res.status_code == 201
    counts = res.get_json()["counts"]
    assert (counts["calls"], counts["queued_events"], counts["jobs"]) == (1, 0, 0)
    assert run_jobs(app) == 2  # the other agency's two events were left to run
    db.expire_all()
    [theirs] = db.scalars(select(Call)).all()
    assert (theirs.agency_id, theirs.call_sid, theirs.status) == (other.agency.id, sid, "completed")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "exactly one of caller or session"),
        ({"caller": CALLER, "session": "abcdefgh12345678"}, "exactly one"),
        ({"caller": "call me maybe"}, "phone number"),
        ({"caller": "+1 2"}, "phone number"),
        ({"session": "../../etc"}, "session"),
        ({"caller": 12125550143}, "string"),
        ({"number": CALLER}, "Unknown field"),
    ],
)
def test_bad_erasure_requests_are_422_with_a_reason(app, client, setup, body, reason):
    res = client.post("/api/v1/erasures", json=body, headers=bearer(new_key(app, setup.agency.id)))
    assert res.status_code == 422, res.get_json()
    assert reason.lower() in res.get_json()["error"].lower()


def test_a_carrier_that_cannot_delete_leaves_the_call_for_a_second_run(
    app, client, db, setup, stand_in
):
    sid = call(client, setup, setup.numbers[0], CALLER, stand_in)
    run_jobs(app)
    rsid = record(client, setup, stand_in, sid)
    run_jobs(app)
    stand_in.fail_with = 503
    key = new_key(app, setup.agency.id)
    res = client.post("/api/v1/erasures", json={"caller": CALLER}, headers=bearer(key))
    body = res.get_json()
    assert body["complete"] is False and body["counts"]["recordings_failed"] == 1
    db.expire_all()
    assert db.scalar(select(Call.recording_sid).where(Call.call_sid == sid)) == rsid
    stand_in.fail_with = None
    res = client.post("/api/v1/erasures", json={"caller": CALLER}, headers=bearer(key))
    assert res.get_json()["complete"] is True
    assert rsid not in stand_in.recordings
    assert everywhere(app, db, FORMS) == []


def test_a_hipaa_client_is_erased_by_the_hash_of_the_number(app, client, db, setup):
    db.get(Client, setup.client.id).hipaa = True
    db.commit()
    sid = call(client, setup, setup.numbers[0], CALLER)
    run_jobs(app)
    db.expire_all()
    stored = db.scalar(select(Call).where(Call.call_sid == sid))
    assert stored.caller_number is None and stored.caller_hash == caller_hash(CALLER)
    queued = call(client, setup, setup.numbers[1], CALLER)  # still in the queue, hash only
    key = new_key(app, setup.agency.id)
    res = client.post("/api/v1/erasures", json={"caller": "212 555 0143"}, headers=bearer(key))
    counts = res.get_json()["counts"]
    assert counts["calls"] == 1 and counts["queued_events"] == 1
    assert everywhere(app, db, [caller_hash(CALLER), sid, queued]) == []


def test_calls_to_numbers_of_no_client_are_erased_by_the_agency_only(app, client, db, setup):
    stored = call(client, setup, "+16285559999", CALLER)  # a number Ringtrail does not route
    run_jobs(app)
    queued = call(client, setup, "+16285559998", CALLER)  # still in the queue, hash only
    client_key = new_key(app, setup.agency.id, setup.client.id)
    res = client.post("/api/v1/erasures", json={"caller": CALLER}, headers=bearer(client_key))
    assert res.get_json()["counts"]["calls"] == 0  # a client's people never reach them
    db.expire_all()
    assert db.scalar(select(Call).where(Call.call_sid == stored)) is not None
    key = new_key(app, setup.agency.id)
    res = client.post("/api/v1/erasures", json={"caller": CALLER}, headers=bearer(key))
    counts = res.get_json()["counts"]
    assert counts["calls"] == 1 and counts["queued_events"] == 1
    assert everywhere(app, db, [caller_hash(CALLER), stored, queued]) == []


def test_the_command_line_erases_in_every_agency_with_a_receipt_each(
    app, app_config, client, db, setup, stand_in
):
    from tests.helpers import cli_env

    other = make_site(db, number_start=40)
    stand_in.accounts[other.account_sid] = other.token
    call(client, other, other.numbers[0], CALLER)
    call(client, setup, setup.numbers[0], CALLER)
    run_jobs(app)
    env = {**cli_env(app_config), "RINGTRAIL_SPOOL_DIR": app_config["SPOOL_DIR"]}
    result = CliRunner().invoke(main, ["erase", "--caller", "2125550143", "--json"], env=env)
    assert result.exit_code == 0, result.output
    receipts = json.loads(result.output)
    assert {r["agency_id"] for r in receipts} == {setup.agency.id, other.agency.id}
    assert all(r["counts"]["calls"] == 1 and r["complete"] for r in receipts)
    assert everywhere(app, db, FORMS) == []
    plain = CliRunner().invoke(main, ["erase", "--session", "x" * 16], env=env)
    assert plain.exit_code == 0 and "nothing found" in plain.output
    bad = CliRunner().invoke(main, ["erase"], env=env)
    assert bad.exit_code != 0 and "exactly one" in bad.output
    worse = CliRunner().invoke(main, ["erase", "--caller", "not a number"], env=env)
    assert worse.exit_code == 1 and "phone number" in worse.output


# -- the dashboard ------------------------------------------------------------------------


def csrf(client, path: str = "/dashboard/privacy") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:300]
    return match.group(1)


def test_the_dashboard_form_erases_and_shows_the_receipt(app, client, db, setup):
    sid = call(client, setup, setup.numbers[0], CALLER)
    run_jobs(app)
    log_in(client, make_user(db, setup, "client_manager", setup.client.id))
    token = csrf(client)
    form = {"csrf_token": token, "kind": "caller", "value": "(212) 555-0143", "confirm": "yes"}
    assert (
        client.post("/dashboard/privacy/erasures", data={**form, "csrf_token": ""}).status_code
        == 400
    )
    unconfirmed = client.post("/dashboard/privacy/erasures", data={**form, "confirm": ""})
    assert unconfirmed.status_code == 422 and "cannot be undone" in unconfirmed.get_data(True)
    res = client.post("/dashboard/privacy/erasures", data=form)
    page = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "Erasure receipt" in page and "complete" in page
    assert not any(f in page for f in FORMS)  # the number is not echoed back
    db.expire_all()
    assert db.scalar(select(Call).where(Call.call_sid == sid)) is None
    receipt = db.scalar(select(ErasureReceipt))
    assert receipt.subject_hash in page


@pytest.mark.parametrize("role", ["agency_admin", "client_manager"])
def test_retention_is_set_per_client_from_the_dashboard(app, client, db, setup, role):
    user = make_user(db, setup, role, setup.client.id if role == "client_manager" else None)
    log_in(client, user)
    token = csrf(client)
    path = f"/dashboard/privacy/clients/{setup.client.id}/retention"
    ok = {"csrf_token": token, "call_days": "400", "snapshot_days": "200", "recording_days": "30"}
    assert client.post(path, data=ok).status_code == 302
    db.expire_all()
    c = db.get(Client, setup.client.id)
    assert (c.retention_call_days, c.retention_snapshot_days, c.retention_recording_days) == (
        400,
        200,
        30,
    )
    client.post(path, data={**ok, "call_days": "0"})
    db.expire_all()
    assert db.get(Client, setup.client.id).retention_call_days == 400
    entry = db.scalar(select(AuditEntry).where(AuditEntry.object_type == "client"))
    assert entry.details["retention"]["retention_recording_days"] == [90, 30]


def test_report_only_users_cannot_erase_or_reach_the_page(app, client, db, setup):
    log_in(client, make_user(db, setup, "report_only", setup.client.id))
    assert client.get("/dashboard/privacy").status_code == 403
    assert client.post("/dashboard/privacy/erasures", data={}).status_code in (400, 403)


def test_retention_through_the_api(app, client, db, setup):
    other = make_site(db, number_start=40)
    key = bearer(new_key(app, setup.agency.id))
    path = f"/api/v1/clients/{setup.client.id}/retention"
    assert client.get(path, headers=key).get_json() == {
        "client_id": setup.client.id,
        "call_days": 761,
        "snapshot_days": 761,
        "recording_days": 90,
    }
    res = client.patch(path, json={"recording_days": 7}, headers=key)
    assert res.status_code == 200 and res.get_json()["recording_days"] == 7
    assert client.patch(path, json={"call_days": 0}, headers=key).status_code == 422
    assert client.patch(path, json={"call_days": "9"}, headers=key).status_code == 422
    theirs = f"/api/v1/clients/{other.client.id}/retention"
    assert client.get(theirs, headers=key).status_code == 404


def test_subjects_normalise_every_common_format():
    assert erasure.session_subject(" abcdefgh12345678 ").canonical == "abcdefgh12345678"
    with pytest.raises(Invalid):
        erasure.caller_subject("<script>")
