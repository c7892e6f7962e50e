"""Tenancy: walk every route with an object id; agency A gets 404 for agency B's objects.

The walk reads ``app.url_map``, so a new endpoint is covered the day it is added. A
route whose id variable has no entry in ``OBJECTS`` fails the test until it gets one.

Each tenant's call has a recording, held by a local stand-in for the carrier, so that
every API GET of one's own objects, the recording included, really answers 200.
"""

from __future__ import annotations

import re
import statistics
import time

import pytest
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from ringtrail.accounts import access, automation
from ringtrail.accounts.auth import cli_principal
from ringtrail.outbound import events, webhooks
from ringtrail.outbound.platforms import destinations
from ringtrail.storage.models import AuditEntry, Call, Client, TrackingNumber, WebhookDelivery
from tests.helpers import bearer, call_params, make_site, new_key, run_jobs, twilio_post
from tests.twilio_standin import AUDIO

PASSWORD = "correct horse battery"


@pytest.fixture
def app_config(app_config):
    # No rate limits: the timing test sends a few thousand requests with one key.
    return app_config | {
        "WTF_CSRF_ENABLED": False,
        "API_RATE_LIMIT_HOUR": 0,
        "API_RATE_LIMIT_DAY": 0,
    }


def _objects(
    app, agency_id: int, client_id: int, pool_id: int, site_id: int, tag: str, recording: str
):
    """Create a user, a key, a recorded call for one agency; returns ids by URL variable."""
    from ringtrail.storage.sql import get_db

    with app.test_request_context():
        db = get_db()
        user = access.create_user(
            db,
            cli_principal(),
            {"email": f"admin@{tag}.example", "role": "agency_admin", "password": PASSWORD},
            agency_id,
        )
        key, raw = access.create_key(db, cli_principal(), {"name": tag}, agency_id)
        call = Call(
            call_sid=f"CA-{tag}",
            client_id=client_id,
            site_id=site_id,
            pool_id=pool_id,
            recording_sid=recording,
        )
        db.add(call)
        db.commit()
        number = db.scalar(select(TrackingNumber.id).where(TrackingNumber.pool_id == pool_id))
        client = db.get(Client, client_id)
        word = automation.create_tag(db, cli_principal(), client, f"tag {tag}")
        rule = automation.create_rule(
            db, cli_principal(), client, {"actions": [{"kind": "add_tag", "tag": word.name}]}
        )
        block = automation.block_number(db, cli_principal(), client, "+12125550177")
        endpoint, _ = webhooks.create(
            db, cli_principal(), {"url": f"https://{tag}.example/hooks", "client_id": client_id}
        )
        sent = WebhookDelivery(  # one in its log, as the hooks listener writes them
            endpoint_id=endpoint.id,
            call_id=call.id,
            event="call.started",
            event_key=f"call:{call.id}:started",
            message_id=events.new_message_id(),
            body="{}",
        )
        db.add(sent)
        destinations.connect(
            db, client, "ga4", {"measurement_id": "G-TENANT1", "api_secret": f"secret-{tag}"}
        )
        db.commit()
        return raw, {
            "endpoint_id": endpoint.id,
            "delivery_id": sent.id,
            "platform": "ga4",  # /clients/{client_id}/ad-platforms/{platform}
            "tag_id": word.id,
            "rule_id": rule.id,
            "block_id": block.id,
            "client_id": client_id,
            "site_id": site_id,
            "pool_id": pool_id,
            "number_id": number,
            "call_id": call.id,
            "call": call.id,  # the admin API names it {call}
            "user_id": user.id,
            "key_id": key.id,
        }


@pytest.fixture
def tenants(app, stand_in):
    from ringtrail.storage.sql import get_db

    with app.app_context():
        a = make_site(get_db(), numbers=2)
        b = make_site(get_db(), numbers=2, number_start=50)
        ids = {}
        for name, s in (("a", a), ("b", b)):
            stand_in.accounts[s.account_sid] = s.token
            recording = stand_in.add_recording(s.account_sid)
            ids[name] = (s.agency.id, s.client.id, s.pool.id, s.site.id, name, recording)
    key_a, objects_a = _objects(app, *ids["a"])
    key_b, objects_b = _objects(app, *ids["b"])
    agencies = {"a": ids["a"][0], "b": ids["b"][0]}
    return {"key_a": key_a, "key_b": key_b, "a": objects_a, "b": objects_b, "agency": agencies}


def _id_routes(app):
    for rule in app.url_map.iter_rules():
        ints = [n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)]
        if ints:
            yield rule, ints


def _values(rule, objects: dict) -> dict:
    """The URL's variables: ids from the tenant's objects, and the other variables (an ad
    platform's name) that the objects also name."""
    return {n: objects[n] for n in rule._converters if n in objects}


def _entries(app, action: str) -> list[AuditEntry]:
    from ringtrail.storage.sql import get_db

    with app.app_context():
        db = get_db()
        rows = db.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        db.expunge_all()
        return list(rows)


def test_every_route_with_an_id_hides_other_tenants_objects(app, client, tenants):
    routes = list(_id_routes(app))
    assert len(routes) >= 10, [r.rule for r, _ in routes]  # the walk really walks
    # Log agency A's admin in to the dashboard (the API uses A's key).
    login = client.post("/login", data={"email": "admin@a.example", "password": PASSWORD})
    assert login.status_code == 302
    checked = []
    for rule, names in routes:
        missing = [n for n in names if n not in tenants["b"]]
        assert not missing, f"{rule.rule}: add {missing} to the tenancy test's objects"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = rule.build(_values(rule, tenants["b"]), append_unknown=False)[1]
            headers = {}
            if rule.rule.startswith("/api/"):
                headers["Authorization"] = f"Bearer {tenants['key_a']}"
            res = client.open(path, method=method, headers=headers, json={})
            assert res.status_code == 404, f"{method} {path}: {res.status_code}"
            checked.append((method, path))
    assert any(m == "PATCH" and p.startswith("/api/v1/pools/") for m, p in checked)
    assert any("/dashboard/settings/pools/" in p for _, p in checked)
    # Notification preferences (per user and client) and each client's Slack settings.
    assert any(
        m == "PATCH" and "/notifications/" in p and "/api/v1/users/" in p for m, p in checked
    )
    assert any(m == "PATCH" and p.endswith("/notifications") for m, p in checked)
    # Nothing was written on the request path; the jobs write each attempt twice: to A's
    # log as A's own attempt, and to B's as a probe by "another agency".
    assert _entries(app, "denied") == [] and _entries(app, "probed") == []
    run_jobs(app)
    agency_a, agency_b = tenants["agency"]["a"], tenants["agency"]["b"]
    denied = {(e.details["method"], e.details["path"]) for e in _entries(app, "denied")}
    probed = {(e.details["method"], e.details["path"]) for e in _entries(app, "probed")}
    for attempt in checked:
        assert attempt in denied, f"{attempt} was not audited for the prober"
        assert attempt in probed, f"{attempt} was not shown to the owner"
    assert {e.agency_id for e in _entries(app, "denied")} == {agency_a}
    assert {e.agency_id for e in _entries(app, "probed")} == {agency_b}
    assert {e.actor for e in _entries(app, "probed")} == {"another agency"}


def test_a_tenant_reaches_its_own_objects(app, client, tenants, stand_in):
    headers = {"Authorization": f"Bearer {tenants['key_a']}"}
    reached = []
    for rule, _names in _id_routes(app):
        if not rule.rule.startswith("/api/") or "GET" not in rule.methods:
            continue
        path = rule.build(_values(rule, tenants["a"]), append_unknown=False)[1]
        res = client.get(path, headers=headers)
        assert res.status_code == 200, f"{path}: {res.status_code} {res.get_data()[:200]!r}"
        reached.append((path, res))
    recordings = [res for path, res in reached if path.endswith("/recording")]
    assert [r.data for r in recordings] == [AUDIO]  # streamed through, from the stand-in


def test_a_call_of_no_client_is_seen_by_its_agency_only(app, client, tenants):
    """B's call to a number Ringtrail does not route (no client): every route that names
    a call is a 404 to A (key and admin) and to a client-scoped key of B; B sees it."""
    from ringtrail.storage.sql import get_db

    with app.app_context():
        db = get_db()
        stray = Call(
            agency_id=tenants["agency"]["b"],
            call_sid="CA-stray-b",
            tracking_number="+16285559999",
            route_kind="unknown_number",
        )
        db.add(stray)
        db.commit()
        stray_id = stray.id
    client_key_b = new_key(app, tenants["agency"]["b"], tenants["b"]["client_id"])
    login = client.post("/login", data={"email": "admin@a.example", "password": PASSWORD})
    assert login.status_code == 302
    walked = 0
    for rule, names in _id_routes(app):
        if not set(names) & {"call", "call_id"}:
            continue
        ids = {n: stray_id if n in ("call", "call_id") else tenants["b"][n] for n in names}
        path = rule.build(ids, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            keys = [tenants["key_a"], client_key_b] if rule.rule.startswith("/api/") else [None]
            for key in keys:
                res = client.open(path, method=method, headers=bearer(key) if key else {})
                assert res.status_code == 404, f"{method} {path}: {res.status_code}"
                walked += 1
    assert walked >= 3
    for key, seen in ((tenants["key_a"], False), (client_key_b, False), (tenants["key_b"], True)):
        listed = client.get("/api/v1/calls", headers=bearer(key)).get_json()["items"]
        assert (stray_id in {c["id"] for c in listed}) is seen
    own = client.get(f"/api/v1/calls/{stray_id}", headers=bearer(tenants["key_b"]))
    assert own.status_code == 200 and own.get_json()["route"] == "unknown number"


def test_denied_attempts_are_in_the_probers_log_and_the_owners(app, client, tenants):
    headers = {"Authorization": f"Bearer {tenants['key_a']}"}
    pool_b = tenants["b"]["pool_id"]
    res = client.patch(f"/api/v1/pools/{pool_b}", json={"lease_seconds": 5}, headers=headers)
    assert res.status_code == 404 and res.get_json() == {"error": "no such pool"}
    assert run_jobs(app) == 1
    [denied] = _entries(app, "denied")
    assert (denied.agency_id, denied.actor_type, denied.object_type) == (
        tenants["agency"]["a"],
        "key",
        "pool",
    )
    assert denied.object_id == pool_b and tenants["key_a"].startswith(denied.actor)
    # The prober's own entry says nothing of the owner: a missing id reads the same.
    assert denied.details == {"method": "PATCH", "path": f"/api/v1/pools/{pool_b}"}
    [probed] = _entries(app, "probed")
    assert (probed.agency_id, probed.actor_type, probed.actor, probed.actor_id) == (
        tenants["agency"]["b"],
        "other",
        "another agency",
        None,
    )
    assert (probed.object_type, probed.object_id) == ("pool", pool_b)
    assert probed.details == denied.details
    # Each agency reads its own side through the API.
    mine = client.get("/api/v1/audit", headers=headers).get_json()["items"]
    assert [(e["action"], e["object_id"]) for e in mine if e["action"] != "create"] == [
        ("denied", pool_b)
    ]
    theirs = client.get("/api/v1/audit", headers=bearer(tenants["key_b"])).get_json()["items"]
    assert [(e["action"], e["actor"]) for e in theirs if e["action"] != "create"] == [
        ("probed", "another agency")
    ]


def test_a_missing_id_reads_the_same_in_the_probers_log(app, client, tenants):
    headers = {"Authorization": f"Bearer {tenants['key_a']}"}
    missing = tenants["b"]["pool_id"] + 1000
    other = tenants["b"]["pool_id"]
    answers = [client.get(f"/api/v1/pools/{pool}", headers=headers) for pool in (missing, other)]
    assert [(r.status_code, r.get_json()) for r in answers] == [
        (404, {"error": "no such pool"})
    ] * 2
    assert run_jobs(app) == 2
    entries = sorted(_entries(app, "denied"), key=lambda e: e.object_id)
    assert [e.object_id for e in entries] == [other, missing]
    shape = [(e.agency_id, e.actor, sorted(e.details)) for e in entries]
    assert shape[0] == shape[1]
    assert len(_entries(app, "probed")) == 1  # only the owner of what exists hears of it


# Carrier callbacks: an agency's token vouches for its own calls only ---------------------

VOICE = "/telephony/twilio/voice"
CALLER = "+12125550143"
EVIL = "https://evil.example/recording.mp3"


@pytest.fixture
def agencies(app):
    """Agencies A and B, one number each; B records and transcribes its calls."""
    from ringtrail.storage.sql import get_db

    with app.app_context():
        db = get_db()
        a = make_site(db, numbers=1)
        b = make_site(db, numbers=1, number_start=50, record=True)
        db.get(Client, b.client.id).transcribe = True
        db.commit()
    return a, b


def _rows(app, sid: str) -> dict[int | None, dict]:
    """The calls bearing this id, by agency."""
    from ringtrail.storage.sql import get_db

    with app.app_context():
        rows = get_db().scalars(select(Call).where(Call.call_sid == sid)).all()
        return {
            c.agency_id: {
                "client": c.client_id,
                "status": c.status,
                "dial": c.dial_status,
                "recording": c.recording_url,
                "transcript": c.transcription,
                "number": c.tracking_number,
            }
            for c in rows
        }


def _callbacks(setup, sid: str, **form: str) -> dict[str, dict[str, str]]:
    """Every callback a call can bring, as ``setup``'s agency would send it."""
    base = {"AccountSid": setup.account_sid, "CallSid": sid, **form}
    return {
        "/telephony/twilio/status": base | {"CallStatus": "canceled", "CallDuration": "1"},
        "/telephony/twilio/dial": base | {"DialCallStatus": "failed"},
        "/telephony/twilio/recording": base
        | {"RecordingSid": "RE" + "e" * 32, "RecordingUrl": EVIL, "RecordingStatus": "completed"},
        "/telephony/twilio/transcription": base
        | {"TranscriptionSid": "TR1", "TranscriptionText": "planted"},
    }


def _b_call(app, client, b) -> str:
    """B's call: rung, answered, completed, recorded and transcribed."""
    sid = "CA" + "b" * 32
    params = call_params(b, b.numbers[0], sid=sid, caller=CALLER)
    assert twilio_post(client, VOICE, params, b.token).status_code == 200
    base = {"AccountSid": b.account_sid, "CallSid": sid, "To": b.numbers[0]}
    for path, form in {
        "/telephony/twilio/status": base | {"CallStatus": "completed", "CallDuration": "42"},
        "/telephony/twilio/dial": base | {"DialCallStatus": "completed"},
        "/telephony/twilio/recording": base
        | {"RecordingSid": "RE" + "1" * 32, "RecordingUrl": "https://api.twilio.com/REb"},
        "/telephony/twilio/transcription": base
        | {"TranscriptionSid": "TR0", "TranscriptionText": "hello"},
    }.items():
        assert twilio_post(client, path, form, b.token).status_code in (200, 204), path
    assert run_jobs(app) == 5
    return sid


def test_another_agencys_callsid_makes_a_call_of_ones_own(app, client, agencies):
    a, b = agencies
    sid = _b_call(app, client, b)
    theirs = _rows(app, sid)[b.agency.id]
    assert theirs == {
        "client": b.client.id,
        "status": "completed",
        "dial": "completed",
        "recording": "https://api.twilio.com/REb",
        "transcript": "hello",
        "number": b.numbers[0],
    }
    # A, with its own AccountSid and token, sends every callback for B's CallSid (with no
    # To, as recording callbacks come, and with A's own number), then a voice webhook on
    # its own number that reuses the CallSid.
    for to in ({}, {"To": a.numbers[0]}):
        for path, form in _callbacks(a, sid, **to).items():
            assert twilio_post(client, path, form, a.token).status_code in (200, 204), path
    params = call_params(a, a.numbers[0], sid=sid, caller=CALLER)
    assert twilio_post(client, VOICE, params, a.token).status_code == 200
    # The second round repeats the first round's events (same CallSid, kind and agency):
    # a webhook delivered twice makes one job, which reads the latest delivery.
    assert run_jobs(app) == 5
    rows = _rows(app, sid)
    assert set(rows) == {a.agency.id, b.agency.id}  # one call each, exactly
    assert rows[b.agency.id] == theirs  # B's call: not canceled, not moved, not re-pointed
    assert rows[a.agency.id] == {
        "client": a.client.id,
        "status": "canceled",
        "dial": "failed",
        "recording": EVIL,  # A's own call, A's own (planted) recording
        "transcript": None,  # A's client does not transcribe
        "number": a.numbers[0],
    }


def test_a_callback_must_carry_the_owning_agencys_account_and_signature(app, client, agencies):
    a, b = agencies
    sid = _b_call(app, client, b)
    before = _rows(app, sid)
    refused = {
        "B's AccountSid, signed by A": ({"AccountSid": b.account_sid}, a.token),
        "B's number, signed by A": ({"To": b.numbers[0]}, a.token),
        "no AccountSid": ({"AccountSid": ""}, a.token),
        "A's AccountSid, signed by B": ({}, b.token),
    }
    for why, (override, token) in refused.items():
        for path, form in _callbacks(a, sid).items():
            res = twilio_post(client, path, form | override, token)
            assert res.status_code == 403, f"{why}: {path}"
        params = call_params(a, a.numbers[0], sid=sid) | override
        if why != "B's number, signed by A":
            assert twilio_post(client, VOICE, params, token).status_code == 403, why
    # A voice webhook for B's number, in A's name, is refused too.
    params = call_params(a, b.numbers[0], sid=sid)
    assert twilio_post(client, VOICE, params, a.token).status_code == 403
    assert run_jobs(app) == 0  # nothing was queued
    assert _rows(app, sid) == before


# The ingest API: call ids are the agency's own ------------------------------------------


def test_ingested_call_ids_belong_to_their_agency(app, client, agencies):
    a, b = agencies
    key_a, key_b = new_key(app, a.agency.id), new_key(app, b.agency.id)
    body = {"provider": "pbx", "call_id": "1001", "to": b.numbers[0], "from": CALLER}
    assert client.post("/api/v1/calls", json=body, headers=bearer(key_b)).status_code == 201
    mine = body | {"to": a.numbers[0]}
    used = client.post("/api/v1/calls", json=mine, headers=bearer(key_a))
    fresh = client.post("/api/v1/calls", json=mine | {"call_id": "2002"}, headers=bearer(key_a))
    # B's id is simply a new call of ours: the same answer as an id nobody used.
    assert (used.status_code, fresh.status_code) == (201, 201)
    assert sorted(used.get_json()) == sorted(fresh.get_json())
    again = client.post("/api/v1/calls", json=mine, headers=bearer(key_a))
    assert again.status_code == 200 and again.get_json()["id"] == used.get_json()["id"]
    rows = _rows(app, "1001")
    assert {k: v["number"] for k, v in rows.items()} == {
        a.agency.id: a.numbers[0],
        b.agency.id: b.numbers[0],
    }
    assert rows[b.agency.id]["client"] == b.client.id
    # B's number in A's name answers exactly as a number nobody has.
    other = client.post("/api/v1/calls", json=body | {"call_id": "3"}, headers=bearer(key_a))
    unknown = body | {"call_id": "4", "to": "+16285559999"}
    nobody = client.post("/api/v1/calls", json=unknown, headers=bearer(key_a))
    assert [(r.status_code, r.get_json()) for r in (other, nobody)] == [
        (404, {"error": "no such tracking number"})
    ] * 2
    assert run_jobs(app) == 2
    denied = _entries(app, "denied")
    assert sorted(e.details["number"] for e in denied) == sorted([b.numbers[0], "+16285559999"])
    assert {e.agency_id for e in denied} == {a.agency.id}
    [probed] = _entries(app, "probed")
    assert (probed.agency_id, probed.object_type, probed.actor) == (
        b.agency.id,
        "number",
        "another agency",
    )
    assert set(_rows(app, "3")) == set() and set(_rows(app, "4")) == set()


# Field permissions: recording, consent and HIPAA mode are for agency admins -------------

# A change to each field only an agency admin may make (configuration.ADMIN_ONLY).
ADMIN_ONLY_CHANGES = {
    "hipaa": True,
    "consent_mode": "one_party",
    "record_calls": True,
    "recording_notice": "Recorded for training.",
    "transcribe": True,
    "voicemail": True,
    "suspended": True,
}


def test_the_admin_only_list_is_what_the_tests_walk():
    from ringtrail.accounts.configuration import ADMIN_ONLY

    assert set(ADMIN_ONLY["client"]) == set(ADMIN_ONLY_CHANGES)
    assert ADMIN_ONLY["pool"] == ADMIN_ONLY["number"] == ("record_calls",)


def test_a_client_key_cannot_change_hipaa_or_recording_through_the_api(app, client, agencies):
    a, _ = agencies
    manager = bearer(new_key(app, a.agency.id, a.client.id))
    admin = bearer(new_key(app, a.agency.id))
    path = f"/api/v1/clients/{a.client.id}"
    for name, value in ADMIN_ONLY_CHANGES.items():
        res = client.patch(path, json={name: value, "name": "Changed"}, headers=manager)
        assert res.status_code == 403, name
        assert res.get_json() == {"error": f"only an agency admin may change {name}"}
    assert client.get(path, headers=manager).get_json()["name"] == "Client"  # nothing applied
    # What a manager may change still works; sending back a value unchanged is no change.
    same = {"hipaa": False, "whisper": True, "name": "Renamed"}
    assert client.patch(path, json=same, headers=manager).status_code == 200
    # An unknown field is refused, never ignored.
    res = client.patch(path, json={"hipaa_mode": False}, headers=manager)
    assert res.status_code == 422 and "hipaa_mode" in res.get_json()["error"]
    # The case: HIPAA mode on (by an admin), and a client key turning it off.
    assert client.patch(path, json={"hipaa": True}, headers=admin).status_code == 200
    res = client.patch(path, json={"hipaa": False}, headers=manager)
    assert res.status_code == 403
    assert client.get(path, headers=admin).get_json()["hipaa"] is True
    # Recording overrides on pools and numbers, made or changed.
    number = client.get("/api/v1/numbers", headers=manager).get_json()["items"][0]["id"]
    pool = {"site_id": a.site.id, "business_number": "+14155550100", "record_calls": False}
    refused = [
        client.patch(f"/api/v1/pools/{a.pool.id}", json={"record_calls": False}, headers=manager),
        client.patch(f"/api/v1/numbers/{number}", json={"record_calls": False}, headers=manager),
        client.post("/api/v1/pools", json=pool, headers=manager),
        client.post(
            "/api/v1/numbers",
            json={"pool_id": a.pool.id, "number": "+16285550999", "record_calls": False},
            headers=manager,
        ),
    ]
    assert [r.status_code for r in refused] == [403] * 4
    assert {r.get_json()["error"] for r in refused} == {
        "only an agency admin may change record_calls"
    }
    pool.pop("record_calls")  # inheriting is no recording decision: a manager may
    assert client.post("/api/v1/pools", json=pool, headers=manager).status_code == 201
    res = client.patch(f"/api/v1/pools/{a.pool.id}", json={"record_calls": False}, headers=admin)
    assert res.status_code == 200


def test_the_service_itself_refuses_a_client_manager(app, agencies):
    """The API, the dashboard and the command line share this check."""
    from ringtrail.accounts import configuration
    from ringtrail.accounts.auth import user_principal
    from ringtrail.errors import Forbidden
    from ringtrail.storage.sql import get_db
    from tests.helpers import make_user

    a, _ = agencies
    with app.app_context():
        db = get_db()
        manager = user_principal(make_user(db, a, "client_manager", a.client))
        row = db.get(Client, a.client.id)
        for name, value in ADMIN_ONLY_CHANGES.items():
            with pytest.raises(Forbidden, match=f"only an agency admin may change {name}"):
                configuration.update_client(db, manager, row, {name: value})
            db.rollback()
        assert db.get(Client, a.client.id).hipaa is False


@pytest.mark.parametrize("name", sorted(ADMIN_ONLY_CHANGES))
def test_the_dashboard_refuses_an_admin_only_field_from_a_client_manager(
    app, client, agencies, name
):
    from ringtrail.storage.sql import get_db
    from tests.helpers import log_in, make_user

    a, _ = agencies
    with app.app_context():
        log_in(client, make_user(get_db(), a, "client_manager", a.client))
    path = f"/dashboard/settings/clients/{a.client.id}"
    page = client.get(path).get_data(as_text=True)
    if name == "suspended":  # not on a manager's page at all
        assert 'name="suspended"' not in page
    else:  # shown, disabled: a browser does not send it
        assert re.search(rf'name="{name}"[^>]*disabled', page, re.S), name
    form = {"name": "Forged", "business_number": "+14155550100", "timezone": "UTC"}
    form |= {"always_open": "on", name: "on" if name != "consent_mode" else "one_party"}
    res = client.post(path, data=form)
    assert res.status_code == 403
    assert f"only an agency admin may change {name}" in res.get_data(as_text=True)
    with app.app_context():
        assert get_db().get(Client, a.client.id).name == "Client"


def test_dashboard_forms_refuse_unknown_and_admin_only_fields(app, client, agencies):
    from ringtrail.storage.sql import get_db
    from tests.helpers import log_in, make_user

    a, _ = agencies
    with app.app_context():
        number = get_db().scalar(
            select(TrackingNumber.id).where(TrackingNumber.pool_id == a.pool.id)
        )
        log_in(client, make_user(get_db(), a, "client_manager", a.client))
    pool = f"/dashboard/settings/pools/{a.pool.id}"
    page = client.get(pool).get_data(as_text=True)
    assert re.search(r'<select name="record_calls"[^>]*disabled', page)
    assert client.post(pool, data={"lease_seconds": "90"}).status_code == 302  # allowed
    answers = {
        "pool override": client.post(pool, data={"lease_seconds": "91", "record_calls": ""}),
        "number override": client.post(
            f"/dashboard/settings/numbers/{number}", data={"record_calls": "false"}
        ),
        "unknown on a pool": client.post(pool, data={"lease_seconds": "92", "colour": "red"}),
        "unknown on a site": client.post(
            f"/dashboard/settings/sites/{a.site.id}", data={"name": "S", "owner": "x"}
        ),
        "unknown on a client": client.post(
            f"/dashboard/settings/clients/{a.client.id}",
            data={"name": "C", "business_number": "+14155550100", "hipaa_mode": "off"},
        ),
    }
    assert {k: r.status_code for k, r in answers.items()} == {
        "pool override": 403,
        "number override": 403,
        "unknown on a pool": 400,
        "unknown on a site": 400,
        "unknown on a client": 400,
    }
    assert "unknown field: colour" in answers["unknown on a pool"].get_data(as_text=True)
    with app.app_context():
        from ringtrail.storage.models import Pool

        assert get_db().get(Pool, a.pool.id).lease_seconds == 90


# No oracle in the time it takes ----------------------------------------------------------

ROUNDS = 300


def _timed(client, method: str, path: str, headers: dict, body: dict | None) -> tuple[float, int]:
    start = time.perf_counter()
    res = client.open(path, method=method, headers=headers, json=body)
    return time.perf_counter() - start, res.status_code


def _paired(client, method, paths, headers, bodies) -> tuple[list[float], list[float]]:
    """Interleaved timings of (another tenant's object, a missing one), alternating which
    goes first, so that drift on a busy machine falls on both alike."""
    other, missing = [], []
    for i in range(ROUNDS):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        got = {}
        for which in order:
            got[which] = _timed(client, method, paths[which], headers, bodies[which])
        assert got[0][1] == got[1][1] == 404
        other.append(got[0][0])
        missing.append(got[1][0])
    return other, missing


@pytest.mark.parametrize("route", ["GET /api/v1/pools/ID", "POST /api/v1/calls"])
def test_another_tenants_object_answers_in_the_time_of_a_missing_one(app, client, tenants, route):
    headers = {"Authorization": f"Bearer {tenants['key_a']}"}
    if route.startswith("GET"):
        pool = tenants["b"]["pool_id"]
        paths, bodies = (f"/api/v1/pools/{pool}", f"/api/v1/pools/{pool + 100_000}"), (None, None)
    else:
        from ringtrail.storage.sql import get_db

        with app.app_context():
            theirs = get_db().get(TrackingNumber, tenants["b"]["number_id"]).number
        body = {"provider": "pbx", "call_id": "1", "from": CALLER}
        paths = ("/api/v1/calls", "/api/v1/calls")
        bodies = (body | {"to": theirs}, body | {"to": "+16285559999"})
    method = route.split()[0]
    _paired(client, method, paths, headers, bodies)  # warm up
    other, missing = _paired(client, method, paths, headers, bodies)
    med_other, med_missing = statistics.median(other), statistics.median(missing)
    paired = statistics.median(o - m for o, m in zip(other, missing, strict=True))
    print(
        f"{route}: other {med_other * 1e3:.2f} ms, missing {med_missing * 1e3:.2f} ms, "
        f"median paired difference {paired * 1e3:.3f} ms"
    )
    # An audit written on the request path for existing objects only costs them a SQL
    # commit: 8 to 10 ms in the issue, 2.4 ms on this test's SQLite (measured by putting
    # the old write back). Now both do the same work, and the medians agree closely.
    margin = max(0.00075, 0.1 * med_missing)
    assert abs(med_other - med_missing) < margin
    assert abs(paired) < margin


# Audits of denied attempts are never lost silently ---------------------------------------


def test_with_the_queue_down_the_attempt_is_written_in_the_background(app, app_config, tenants):
    from ringtrail import create_app
    from ringtrail.accounts.probes import writer
    from tests.helpers import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    down = create_app(app_config | {"QUEUE_REDIS_URL": dead})
    try:
        headers = {"Authorization": f"Bearer {tenants['key_a']}"}
        start = time.perf_counter()
        res = down.test_client().get(f"/api/v1/pools/{tenants['b']['pool_id']}", headers=headers)
        took = time.perf_counter() - start
        assert res.status_code == 404 and took < 1.0
        assert writer.wait(10)
    finally:
        down.extensions["ringtrail"]["engine"].dispose()
    [denied] = _entries(app, "denied")
    [probed] = _entries(app, "probed")
    assert (denied.agency_id, probed.agency_id) == (
        tenants["agency"]["a"],
        tenants["agency"]["b"],
    )
    assert denied.object_id == probed.object_id == tenants["b"]["pool_id"]


def test_the_background_writer_retries_until_the_database_is_back(app, tenants, caplog):
    from ringtrail.accounts.probes import writer
    from tests.helpers import database_down

    args = ["pool", tenants["b"]["pool_id"], "cli", None, tenants["agency"]["a"], None]
    args += ["GET", "/api/v1/pools/x", time.time()]
    with database_down(app):
        writer.put(app, args)
        time.sleep(0.5)  # the first try fails while the database is away
    assert writer.wait(10)
    assert "a denied attempt was lost" not in caplog.text
    assert len(_entries(app, "denied")) == 1 and len(_entries(app, "probed")) == 1


def test_an_attempt_that_cannot_be_written_is_logged_as_lost(app, tenants, caplog, monkeypatch):
    from ringtrail.accounts import probes
    from tests.helpers import database_down

    monkeypatch.setattr(probes, "WRITER_TRIES", 2)  # 1 s between the tries, not a minute
    args = ["pool", tenants["b"]["pool_id"], "cli", None, tenants["agency"]["a"], None]
    args += ["GET", "/api/v1/pools/x", time.time()]
    with database_down(app):
        probes.writer.put(app, args)
        assert probes.writer.wait(10)
    assert "a denied attempt was lost: pool" in caplog.text
    assert _entries(app, "denied") == []


def test_report_routes_hide_other_tenants_clients_named_in_the_query(app, client, tenants):
    """The reports API's routes without an id in the path take ``client_id`` in the query:
    the walk asks each for the other tenant's client (404) and for its own (200)."""
    routes = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/reports/") and not rule.arguments
    ]
    assert {"/api/v1/reports/overview", "/api/v1/reports/pools"} <= set(routes)
    headers = bearer(tenants["key_a"])
    for path in routes:
        theirs = client.get(f"{path}?client_id={tenants['b']['client_id']}", headers=headers)
        assert theirs.status_code == 404, f"{path}: {theirs.status_code}"
        ours = client.get(f"{path}?client_id={tenants['a']['client_id']}", headers=headers)
        assert ours.status_code == 200, f"{path}: {ours.status_code}"
        listed = client.get(path, headers=headers).get_json()
        seen = {c["client_id"] for c in listed.get("clients", listed.get("pools", []))}
        assert seen == {tenants["a"]["client_id"]}, path
