"""No call goes unrecorded: numbers Ringtrail does not route, suspended clients, and calls
that reached only the Fallback URL are recorded for the agency whose account signed them,
forwarded to its default number, and shown to that agency's admins only."""

from __future__ import annotations

import csv
import io
import json
import secrets
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from ringtrail.accounts import configuration
from ringtrail.accounts.auth import cli_principal
from ringtrail.cli import main
from ringtrail.storage.models import Agency, AuditEntry, Call, Client, TrackingNumber
from ringtrail.storage.sql import get_db
from ringtrail.tracking.directory import Snapshot
from tests.helpers import (
    BUSINESS,
    DEFAULT_FORWARD,
    bearer,
    call_params,
    log_in,
    make_site,
    make_user,
    new_key,
    run_jobs,
    twilio_post,
)

VOICE = "/telephony/twilio/voice"
FALLBACK = "/telephony/twilio/fallback"
STATUS = "/telephony/twilio/status"
UNKNOWN = "+16285559999"  # a number of the account that Ringtrail does not route
AGENCY_DEFAULT = "+14155550177"
CALLER = "+12125550143"


@pytest.fixture
def new_site(app):
    def make(**kwargs):
        with app.app_context():
            return make_site(get_db(), **kwargs)

    return make


@pytest.fixture
def agencies(new_site):
    """Two agencies, each with its own account, client and numbers."""
    return new_site(numbers=2), new_site(numbers=2, number_start=50)


def set_default(app, agency_id: int, number: str | None) -> None:
    with app.test_request_context():
        configuration.update_agency(
            get_db(), cli_principal(), {"default_forward_number": number}, agency_id
        )


def calls(app) -> list[Call]:
    with app.app_context():
        db = get_db()
        rows = list(db.scalars(select(Call).order_by(Call.id)))
        db.expunge_all()
        return rows


def dialled(response) -> list[str]:
    """The numbers the TwiML dials; asserts it is TwiML that records nothing."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    body = response.get_data(as_text=True)
    assert "record" not in body and "<Say" not in body, body
    root = ET.fromstring(response.get_data())  # noqa: S314 - our own answer
    return [n.text for n in root.iter("Number")]


# Recorded, forwarded to the agency's default number -------------------------------------


@pytest.mark.postgres
def test_an_unknown_number_is_recorded_for_the_signing_agency(app, client, agencies):
    a, b = agencies
    set_default(app, a.agency.id, AGENCY_DEFAULT)
    set_default(app, b.agency.id, "+14155550188")
    params = call_params(a, UNKNOWN, caller=CALLER)
    assert dialled(twilio_post(client, VOICE, params, a.token)) == [AGENCY_DEFAULT]
    status = params | {"CallStatus": "completed", "CallDuration": "33"}
    assert twilio_post(client, STATUS, status, a.token).status_code == 204
    assert run_jobs(app) == 2
    [call] = calls(app)
    assert (call.agency_id, call.client_id, call.site_id, call.pool_id) == (
        a.agency.id,
        None,
        None,
        None,
    )
    assert (call.call_sid, call.tracking_number, call.forwarded_to) == (
        params["CallSid"],
        UNKNOWN,
        AGENCY_DEFAULT,
    )
    assert (call.route_kind, call.confidence, call.session_id) == ("unknown_number", "none", None)
    assert (call.status, call.duration_seconds) == ("completed", 33)
    # No client, so no consent or HIPAA setting to stand on: only the keyed hash is kept.
    assert call.caller_number is None and call.caller_hash
    assert call.recording_sid is None and not call.notice_played


def test_without_an_agency_default_the_server_default_takes_the_call(app, client, agencies):
    a, _ = agencies
    params = call_params(a, UNKNOWN)
    assert dialled(twilio_post(client, VOICE, params, a.token)) == [DEFAULT_FORWARD]
    run_jobs(app)
    [call] = calls(app)
    assert (call.agency_id, call.forwarded_to, call.route_kind) == (
        a.agency.id,
        DEFAULT_FORWARD,
        "unknown_number",
    )


def test_with_no_default_at_all_the_caller_hears_a_busy_tone_and_the_call_is_kept(
    app, client, agencies
):
    a, _ = agencies
    app.config["DEFAULT_FORWARD_NUMBER"] = None
    response = twilio_post(client, VOICE, call_params(a, UNKNOWN), a.token)
    root = ET.fromstring(response.get_data())  # noqa: S314 - our own answer
    assert [(c.tag, c.attrib) for c in root] == [("Reject", {"reason": "busy"})]
    run_jobs(app)
    [call] = calls(app)
    assert (call.agency_id, call.forwarded_to, call.route_kind) == (
        a.agency.id,
        "",
        "unknown_number",
    )


def test_a_released_number_still_ringing_is_recorded_without_its_client(app, client, agencies):
    a, _ = agencies
    set_default(app, a.agency.id, AGENCY_DEFAULT)
    with app.app_context():
        db = get_db()
        number = db.scalar(select(TrackingNumber).where(TrackingNumber.number == a.numbers[0]))
        number.active = False
        configuration.commit_config(db)
    params = call_params(a, a.numbers[0])
    assert dialled(twilio_post(client, VOICE, params, a.token)) == [AGENCY_DEFAULT]
    run_jobs(app)
    [call] = calls(app)
    assert (call.agency_id, call.client_id, call.pool_id, call.route_kind) == (
        a.agency.id,
        None,
        None,
        "unknown_number",
    )


@pytest.mark.parametrize("signature", ["forged", "unsigned", "other agency"])
def test_a_forged_call_to_an_unknown_number_is_refused_and_leaves_nothing(
    app, client, agencies, redis_client, signature
):
    a, b = agencies
    params = call_params(a, UNKNOWN)
    token = {"forged": secrets.token_hex(16), "unsigned": None, "other agency": b.token}
    response = twilio_post(client, VOICE, params, token[signature])
    assert response.status_code == 403
    assert redis_client.keys("ringtrail:event:*") == []
    assert run_jobs(app) == 0 and calls(app) == []


def test_a_suspended_clients_call_is_recorded_not_recorded_audio(app, client, new_site):
    setup = new_site(numbers=1, record=True)
    set_default(app, setup.agency.id, AGENCY_DEFAULT)
    with app.app_context():
        db = get_db()
        db.get(Client, setup.client.id).suspended = True
        configuration.commit_config(db)
    params = call_params(setup, setup.numbers[0])
    # dialled() asserts no notice and no recording: the client records, but is suspended.
    assert dialled(twilio_post(client, VOICE, params, setup.token)) == [AGENCY_DEFAULT]
    run_jobs(app)
    [call] = calls(app)
    assert (call.agency_id, call.client_id, call.pool_id) == (
        setup.agency.id,
        setup.client.id,
        setup.pool.id,
    )
    assert (call.route_kind, call.forwarded_to, call.notice_played) == (
        "suspended",
        AGENCY_DEFAULT,
        False,
    )
    assert call.recording_sid is None and call.recording_url is None


# The Fallback URL ----------------------------------------------------------------------


def test_a_call_that_reached_only_the_fallback_is_recorded_once(app, client, agencies):
    a, _ = agencies
    set_default(app, a.agency.id, AGENCY_DEFAULT)
    known = call_params(a, a.numbers[0], ErrorCode="11200")
    unknown = call_params(a, UNKNOWN, ErrorCode="11200")
    assert dialled(twilio_post(client, FALLBACK, known, a.token)) == [BUSINESS]
    assert dialled(twilio_post(client, FALLBACK, unknown, a.token)) == [AGENCY_DEFAULT]
    # Twilio may deliver the fallback twice: still one record each.
    assert dialled(twilio_post(client, FALLBACK, unknown, a.token)) == [AGENCY_DEFAULT]
    run_jobs(app)
    rows = {c.call_sid: c for c in calls(app)}
    assert len(calls(app)) == 2
    mine, stray = rows[known["CallSid"]], rows[unknown["CallSid"]]
    assert (mine.client_id, mine.route_kind, mine.degraded, mine.forwarded_to) == (
        a.client.id,
        "fallback",
        True,
        BUSINESS,
    )
    assert (stray.agency_id, stray.client_id, stray.route_kind, stray.degraded) == (
        a.agency.id,
        None,
        "fallback",
        True,
    )
    assert (stray.forwarded_to, stray.confidence, stray.caller_number) == (
        AGENCY_DEFAULT,
        "none",
        None,
    )


@pytest.mark.parametrize("jobs_between", [False, True])
@pytest.mark.parametrize("to", ["known", "unknown"])
def test_a_call_that_reached_voice_and_fallback_is_one_record(
    app, client, agencies, to, jobs_between
):
    a, _ = agencies
    params = call_params(a, a.numbers[0] if to == "known" else UNKNOWN)
    assert twilio_post(client, VOICE, params, a.token).status_code == 200
    if jobs_between:
        run_jobs(app)
    dialled(twilio_post(client, FALLBACK, params | {"ErrorCode": "11205"}, a.token))
    run_jobs(app)
    [call] = calls(app)
    assert (call.agency_id, call.call_sid) == (a.agency.id, params["CallSid"])
    assert call.client_id == (a.client.id if to == "known" else None)


@pytest.mark.parametrize("signature", ["forged", "unsigned"])
def test_an_unsigned_fallback_forwards_and_leaves_nothing(
    app, client, agencies, redis_client, signature
):
    a, _ = agencies
    set_default(app, a.agency.id, AGENCY_DEFAULT)
    params = call_params(a, UNKNOWN)
    token = secrets.token_hex(16) if signature == "forged" else None
    # Unsigned, the agency is not known: the server's default takes the call.
    assert dialled(twilio_post(client, FALLBACK, params, token)) == [DEFAULT_FORWARD]
    assert redis_client.keys("ringtrail:event:*") == []
    assert run_jobs(app) == 0 and calls(app) == []


# Who sees these calls ------------------------------------------------------------------


@pytest.fixture
def stray_calls(app, client, agencies):
    """An unknown-number call and a fallback-only call of agency A, one known call of A's
    client, and an unknown-number call of agency B; returns their call ids by name."""
    a, b = agencies
    sids = {}
    for name, (setup, to, path) in {
        "unknown": (a, UNKNOWN, VOICE),
        "fallback": (a, "+16285559998", FALLBACK),
        "known": (a, a.numbers[0], VOICE),
        "theirs": (b, UNKNOWN, VOICE),
    }.items():
        params = call_params(setup, to)
        assert twilio_post(client, path, params, setup.token).status_code == 200
        sids[name] = params["CallSid"]
    run_jobs(app)
    by_sid = {c.call_sid: c.id for c in calls(app)}
    return {name: by_sid[sid] for name, sid in sids.items()}


@pytest.mark.postgres
def test_the_api_shows_stray_calls_to_the_agency_only(app, client, agencies, stray_calls):
    a, b = agencies
    key_a, key_b = new_key(app, a.agency.id), new_key(app, b.agency.id)
    client_key = new_key(app, a.agency.id, a.client.id)

    def listed(key):
        res = client.get("/api/v1/calls", headers=bearer(key))
        assert res.status_code == 200, res.get_data(as_text=True)
        return {c["id"]: c for c in res.get_json()["items"]}

    mine = listed(key_a)
    assert set(mine) == {stray_calls[n] for n in ("unknown", "fallback", "known")}
    assert (mine[stray_calls["unknown"]]["route"], mine[stray_calls["unknown"]]["client_id"]) == (
        "unknown number",
        None,
    )
    assert mine[stray_calls["fallback"]]["route_kind"] == "fallback"
    assert mine[stray_calls["fallback"]]["route"] == "fallback"
    assert set(listed(key_b)) == {stray_calls["theirs"]}
    assert set(listed(client_key)) == {stray_calls["known"]}
    detail = client.get(f"/api/v1/calls/{stray_calls['unknown']}", headers=bearer(key_a))
    assert detail.status_code == 200 and detail.get_json()["visit"] is None
    for key in (key_b, client_key):
        res = client.get(f"/api/v1/calls/{stray_calls['unknown']}", headers=bearer(key))
        assert res.status_code == 404
    res = client.get(f"/api/v1/calls/{stray_calls['theirs']}", headers=bearer(key_a))
    assert res.status_code == 404


@pytest.mark.postgres
def test_the_dashboard_shows_stray_calls_to_agency_admins(app, client, db, agencies, stray_calls):
    a, _ = agencies
    log_in(client, make_user(db, a))
    page = client.get("/dashboard/calls")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("unknown", "fallback", "known"):
        assert f'/dashboard/calls/{stray_calls[name]}"' in html, name
    assert f'/dashboard/calls/{stray_calls["theirs"]}"' not in html
    assert "unknown number" in html and "fallback" in html
    detail = client.get(f"/dashboard/calls/{stray_calls['unknown']}")
    assert detail.status_code == 200
    assert "A number with no client" in detail.get_data(as_text=True)
    assert client.get(f"/dashboard/calls/{stray_calls['theirs']}").status_code == 404
    export = client.get("/dashboard/calls.csv")
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert sorted(r["route"] for r in rows) == ["fallback", "normal", "unknown number"]
    assert {r["client"] for r in rows if r["route"] != "normal"} == {""}
    # Choosing a client shows that client's calls only.
    chosen = client.get(f"/dashboard/calls?client={a.client.id}").get_data(as_text=True)
    assert f'/dashboard/calls/{stray_calls["unknown"]}"' not in chosen
    assert f'/dashboard/calls/{stray_calls["known"]}"' in chosen


@pytest.mark.parametrize("role", ["client_manager", "report_only"])
def test_a_clients_people_never_see_stray_calls(app, client, db, agencies, stray_calls, role):
    a, _ = agencies
    log_in(client, make_user(db, a, role, a.client))
    html = client.get("/dashboard/calls").get_data(as_text=True)
    assert f'/dashboard/calls/{stray_calls["known"]}"' in html
    assert f'/dashboard/calls/{stray_calls["unknown"]}"' not in html
    assert client.get(f"/dashboard/calls/{stray_calls['unknown']}").status_code == 404
    export = client.get("/dashboard/calls.csv").get_data(as_text=True)
    assert [r["route"] for r in csv.DictReader(io.StringIO(export))] == ["normal"]


# Setting the agency's default number ---------------------------------------------------


def test_the_default_number_is_set_through_the_api_by_agency_keys_only(app, client, agencies):
    a, b = agencies
    key = new_key(app, a.agency.id)
    res = client.patch(
        "/api/v1/agency", json={"default_forward_number": "(415) 555-0177"}, headers=bearer(key)
    )
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.get_json()["default_forward_number"] == AGENCY_DEFAULT
    assert "auth_token" not in res.get_data(as_text=True)
    got = client.get("/api/v1/agency", headers=bearer(key)).get_json()
    assert (got["id"], got["default_forward_number"]) == (a.agency.id, AGENCY_DEFAULT)
    # The routing cache has it at once: the next unknown call goes there.
    assert dialled(twilio_post(client, VOICE, call_params(a, UNKNOWN), a.token)) == [AGENCY_DEFAULT]
    bad = client.patch(
        "/api/v1/agency", json={"default_forward_number": "not a number"}, headers=bearer(key)
    )
    assert bad.status_code == 422 and "default_forward_number" in bad.get_data(as_text=True)
    client_key = new_key(app, a.agency.id, a.client.id)
    for method in ("get", "patch"):
        res = client.open(
            "/api/v1/agency",
            method=method,
            json={"default_forward_number": None},
            headers=bearer(client_key),
        )
        assert res.status_code == 403, method
    cleared = client.patch(
        "/api/v1/agency", json={"default_forward_number": None}, headers=bearer(key)
    )
    assert cleared.get_json()["default_forward_number"] is None
    with app.app_context():
        db = get_db()
        assert db.get(Agency, b.agency.id).default_forward_number is None  # B untouched
        entries = db.scalars(
            select(AuditEntry).where(AuditEntry.object_type == "agency").order_by(AuditEntry.id)
        ).all()
        assert [e.details for e in entries] == [
            {"default_forward_number": [None, AGENCY_DEFAULT]},
            {"default_forward_number": [AGENCY_DEFAULT, None]},
        ]
        assert {e.agency_id for e in entries} == {a.agency.id}


def test_the_dashboard_sets_the_default_number_for_agency_admins_only(app, client, db, agencies):
    a, _ = agencies
    log_in(client, make_user(db, a))
    page = client.get("/dashboard/access")
    assert 'id="default-forward"' in page.get_data(as_text=True)
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": token, "default_forward_number": "+1 415 555 0177"}
    res = client.post("/dashboard/access/default-forward", data=form)
    assert res.status_code == 302
    db.expire_all()
    assert db.get(Agency, a.agency.id).default_forward_number == AGENCY_DEFAULT
    path = "/dashboard/access/default-forward"
    res = client.post(path, data=form | {"default_forward_number": "12"})
    assert res.status_code == 422 and "default forward number" in res.get_data(as_text=True)
    res = client.post(path, data=form | {"default_forward_number": ""})
    assert res.status_code == 302
    db.expire_all()
    assert db.get(Agency, a.agency.id).default_forward_number is None
    client.get("/logout")
    log_in(client, make_user(db, a, "client_manager", a.client))
    res = client.post("/dashboard/access/default-forward", data=form)
    assert res.status_code in (302, 403)
    db.expire_all()
    assert db.get(Agency, a.agency.id).default_forward_number is None


def test_the_default_number_is_set_from_the_command_line(app, agencies):
    a, _ = agencies
    runner = app.test_cli_runner()
    base = ["agency", "set", str(a.agency.id), "--default-forward-number"]
    done = runner.invoke(main, [*base, "(415) 555-0177", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["default_forward_number"] == AGENCY_DEFAULT
    bad = runner.invoke(main, [*base, "nope"])
    assert bad.exit_code != 0 and "default_forward_number" in bad.output
    with app.app_context():
        assert get_db().get(Agency, a.agency.id).default_forward_number == AGENCY_DEFAULT
    cleared = runner.invoke(main, [*base, "", "--json"])
    assert json.loads(cleared.output)["default_forward_number"] is None


def test_the_snapshot_keeps_the_defaults_on_disk():
    snapshot = Snapshot(sites={}, routes={}, tokens={}, loaded_at=1.0, defaults={3: AGENCY_DEFAULT})
    assert Snapshot.from_json(snapshot.to_json()).defaults == {3: AGENCY_DEFAULT}
    # A copy written before 0008b has no defaults: it still loads.
    assert Snapshot.from_json('{"sites": [], "routes": [], "tokens": {}}').defaults == {}
