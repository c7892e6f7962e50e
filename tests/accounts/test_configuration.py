"""A client's compliance settings through the API and the dashboard, the recording
overrides of pools and numbers, and what the dashboard shows of them.

One set of rules (``admin.check_client`` and ``admin.check_override``) serves both doors:
each refusal is tested through the API with its reason, and the important ones through
the dashboard's forms too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ringtrail.storage.models import AuditEntry, Call, Client, Pool, TrackingNumber
from ringtrail.tracking.directory import route_for
from tests.helpers import bearer, log_in, make_site, make_user, new_key
from tests.twilio_standin import AUDIO, call_sid

HOURS = {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "sat": [["10:00", "24:00"]]}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": False}


@pytest.fixture
def tenant(app, db):
    """A client in California (an all-party state) with an agency key."""
    setup = make_site(db, numbers=2)
    setup.extra["key"] = new_key(app, setup.agency.id)
    return setup


@pytest.fixture
def api(client, tenant):
    def call(method: str, path: str, body=None, key=None):
        headers = bearer(key or tenant.extra["key"])
        return client.open("/api/v1" + path, method=method, headers=headers, json=body)

    return call


def audits(db, object_type: str) -> list[AuditEntry]:
    db.expire_all()
    stmt = select(AuditEntry).where(AuditEntry.object_type == object_type)
    return list(db.scalars(stmt.where(AuditEntry.action == "update")))


# -- the API ------------------------------------------------------------------------------


def test_every_compliance_setting_round_trips_is_audited_and_reaches_the_routes(api, tenant, db):
    number = tenant.numbers[0]
    assert route_for(number).consent_mode == "all_party"
    body = {
        "us_state": "tx",
        "consent_mode": "one_party",
        "record_calls": True,
        "recording_notice": "  We record calls.  ",
        "transcribe": True,
        "whisper": True,
        "business_hours": HOURS,
        "after_hours_number": "(415) 555-0123",
        "voicemail": True,
        "voicemail_prompt": "Leave a message.",
        "timezone": "America/Chicago",
    }
    res = api("PATCH", f"/clients/{tenant.client.id}", body)
    assert res.status_code == 200, res.get_json()
    out = res.get_json()
    assert out["us_state"] == "TX" and out["consent_mode"] == "one_party"
    assert out["recording_notice"] == "We record calls."
    assert out["after_hours_number"] == "+14155550123"
    assert out["business_hours"] == HOURS and out["hipaa"] is False
    assert out["retention_recording_days"] == 90
    assert api("GET", f"/clients/{tenant.client.id}").get_json() == out
    [entry] = audits(db, "client")
    assert entry.details["consent_mode"] == ["all_party", "one_party"]
    assert entry.details["business_hours"] == [None, HOURS]
    # The directory was told: the next call is routed with the new settings.
    route = route_for(number)
    assert (route.consent_mode, route.us_state, route.record) == ("one_party", "TX", True)
    assert route.business_hours == HOURS and route.after_hours_number == "+14155550123"
    assert route.notice == "We record calls." and route.voicemail and route.whisper
    # Back to always open.
    res = api("PATCH", f"/clients/{tenant.client.id}", {"business_hours": None})
    assert res.get_json()["business_hours"] is None
    assert route_for(number).business_hours is None


def _bad_client_cases():
    def hours(value):
        return {"business_hours": value}

    return [
        (hours({"monday": [["09:00", "17:00"]]}), "not a day"),
        (hours({"mon": [["9:00", "17:00"]]}), "24-hour HH:MM"),
        (hours({"mon": [["09:00", "25:00"]]}), "24-hour HH:MM"),
        (hours({"mon": [["24:00", "24:00"]]}), "24-hour HH:MM"),
        (hours({"mon": [["17:00", "09:00"]]}), "start before it ends"),
        (hours({"mon": [["09:00", "09:00"]]}), "start before it ends"),
        (hours({"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}), "overlaps"),
        (hours({"mon": [["09:00"]]}), "[start, end]"),
        (hours({"mon": "09:00-17:00"}), "list"),
        (hours([["09:00", "17:00"]]), "business hours are"),
        (hours({"mon": [[9, 17]]}), "not a time"),
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"us_state": "XX"}, "US state"),
        ({"us_state": "Texas"}, "US state"),
        ({"after_hours_number": "555"}, "phone number"),
        ({"consent_mode": "none"}, "one of"),
        ({"recording_notice": "x" * 501}, "recording_notice"),
        ({"voicemail_prompt": ""}, "voicemail_prompt"),
        ({"hipaa": "maybe"}, "true or false"),
        ({"hipaa": 1}, "true or false"),
        ({"hipaa": "true"}, "true or false"),
        # California needs every party's consent: the reason comes from consent.py.
        ({"consent_mode": "one_party"}, "California requires all-party consent"),
        ({"us_state": None, "consent_mode": "one_party"}, "not set"),
        ({"record_calls": True, "recording_notice": "   "}, "cannot be empty"),
        ({"voicemail": True, "recording_notice": ""}, "cannot be empty"),
        ({"hipaa": True, "record_calls": True}, "HIPAA mode is on"),
        ({"hipaa": True, "transcribe": True}, "turn off transcribe"),
        ({"hipaa": True, "voicemail": True}, "turn off voicemail"),
    ]


@pytest.mark.parametrize(("body", "reason"), _bad_client_cases())
def test_bad_client_settings_are_422_with_the_reason_and_change_nothing(
    api, tenant, db, body, reason
):
    res = api("PATCH", f"/clients/{tenant.client.id}", body)
    assert res.status_code == 422, res.get_json()
    assert reason.lower() in res.get_json()["error"].lower(), res.get_json()
    db.expire_all()
    client = db.get(Client, tenant.client.id)
    assert (client.consent_mode, client.hipaa, client.business_hours) == ("all_party", False, None)
    assert audits(db, "client") == []


def test_rules_look_at_the_stored_settings_too(api, tenant, db):
    path = f"/clients/{tenant.client.id}"
    # Moving a one-party client into an all-party state is refused, with the reason.
    assert api("PATCH", path, {"us_state": "TX", "consent_mode": "one_party"}).status_code == 200
    res = api("PATCH", path, {"us_state": "FL"})
    assert res.status_code == 422 and "Florida requires all-party" in res.get_json()["error"]
    # Disputed states count as all-party.
    res = api("PATCH", path, {"us_state": "MI"})
    assert "Michigan is on some all-party lists" in res.get_json()["error"]
    # Recording on, then an empty notice: refused; HIPAA on while recording: refused.
    assert api("PATCH", path, {"record_calls": True}).status_code == 200
    assert api("PATCH", path, {"recording_notice": ""}).status_code == 422
    res = api("PATCH", path, {"hipaa": True})
    assert res.status_code == 422 and "turn off record_calls first" in res.get_json()["error"]
    # Turning recording off and HIPAA on in one request is the way in.
    res = api("PATCH", path, {"hipaa": True, "record_calls": False})
    assert res.status_code == 200 and res.get_json()["hipaa"] is True
    # A rename never trips over the rules.
    assert api("PATCH", path, {"name": "Renamed"}).status_code == 200


def test_a_new_client_is_checked_against_the_defaults(api):
    body = {"name": "N", "business_number": "+14155550111", "us_state": "NV"}
    res = api("POST", "/clients", {**body, "consent_mode": "one_party"})
    assert res.status_code == 422 and "Nevada" in res.get_json()["error"]
    res = api("POST", "/clients", {**body, "us_state": "NY", "consent_mode": "one_party"})
    assert res.status_code == 201, res.get_json()
    created = res.get_json()
    assert created["record_calls"] is False and created["consent_mode"] == "one_party"
    assert created["recording_notice"]  # the plain default
    res = api("POST", "/clients", {**body, "hipaa": True, "record_calls": True})
    assert res.status_code == 422


@pytest.mark.parametrize("level", ["pools", "numbers"])
def test_pool_and_number_overrides_are_tri_state_and_refused_under_hipaa(api, tenant, db, level):
    if level == "pools":
        path, model, object_id = f"/pools/{tenant.pool.id}", Pool, tenant.pool.id
    else:
        object_id = db.scalar(
            select(TrackingNumber.id).where(TrackingNumber.number == tenant.numbers[0])
        )
        path, model = f"/numbers/{object_id}", TrackingNumber
    number = tenant.numbers[0]
    assert api("GET", path).get_json()["record_calls"] is None
    for value, records in ((True, True), (False, False), (None, False)):
        res = api("PATCH", path, {"record_calls": value})
        assert res.status_code == 200 and res.get_json()["record_calls"] is value
        assert route_for(number).record is records
    assert [e.details["record_calls"] for e in audits(db, level[:-1])] == [
        [None, True],
        [True, False],
        [False, None],
    ]
    # The client turns HIPAA mode on: an override may no longer record (a conflict with
    # the client's settings, not a flaw of the request).
    assert api("PATCH", f"/clients/{tenant.client.id}", {"hipaa": True}).status_code == 200
    res = api("PATCH", path, {"record_calls": True})
    assert res.status_code == 409 and "HIPAA mode is on" in res.get_json()["error"]
    assert api("PATCH", path, {"record_calls": False}).status_code == 200
    db.expire_all()
    assert db.get(model, object_id).record_calls is False


def test_an_override_that_records_blocks_hipaa_and_an_empty_notice(api, tenant):
    assert api("PATCH", f"/pools/{tenant.pool.id}", {"record_calls": True}).status_code == 200
    res = api("PATCH", f"/clients/{tenant.client.id}", {"hipaa": True})
    assert res.status_code == 422 and "a pool or number set to record" in res.get_json()["error"]
    res = api("PATCH", f"/clients/{tenant.client.id}", {"recording_notice": ""})
    assert res.status_code == 422 and "cannot be empty" in res.get_json()["error"]
    res = api("POST", "/numbers", {"pool_id": tenant.pool.id, "number": "+16285550999"})
    assert res.status_code == 201 and res.get_json()["record_calls"] is None


# -- the recording through the API -----------------------------------------------------------


@pytest.fixture
def recorded(db, tenant, stand_in):
    stand_in.accounts[tenant.account_sid] = tenant.token
    rsid = stand_in.add_recording(tenant.account_sid)
    call = Call(call_sid=call_sid(), client_id=tenant.client.id, recording_sid=rsid)
    silent = Call(call_sid=call_sid(), client_id=tenant.client.id)
    db.add_all([call, silent])
    db.commit()
    return {"call": call.id, "silent": silent.id, "rsid": rsid}


@pytest.mark.parametrize("scope", ["agency", "client"])
def test_the_api_streams_a_recording_to_agency_and_client_keys_and_audits_it(
    app, client, db, tenant, recorded, stand_in, scope
):
    key = new_key(app, tenant.agency.id, tenant.client.id if scope == "client" else None)
    res = client.get(f"/api/v1/calls/{recorded['call']}/recording", headers=bearer(key))
    assert res.status_code == 200 and res.data == AUDIO and res.mimetype == "audio/mpeg"
    assert "twilio" not in str(res.headers).lower()
    wav = client.get(f"/api/v1/calls/{recorded['call']}/recording?format=wav", headers=bearer(key))
    assert wav.status_code == 200 and wav.mimetype == "audio/wav"
    db.expire_all()
    entries = list(db.scalars(select(AuditEntry).where(AuditEntry.action == "listen")))
    assert [(e.actor_type, e.object_id) for e in entries] == [("key", recorded["call"])] * 2
    assert entries[0].details == {"recording": recorded["rsid"]}
    missing = client.get(f"/api/v1/calls/{recorded['silent']}/recording", headers=bearer(key))
    assert missing.status_code == 404 and "no recording" in missing.get_json()["error"]


def test_another_clients_key_gets_404_and_the_carrier_is_not_asked(
    app, client, db, tenant, recorded, stand_in
):
    other = make_site(db, agency=tenant.agency, number_start=30)
    key = new_key(app, tenant.agency.id, other.client.id)
    res = client.get(f"/api/v1/calls/{recorded['call']}/recording", headers=bearer(key))
    assert res.status_code == 404 and stand_in.requests == []
    # Tenancy is checked before anything else, then the format.
    own = bearer(tenant.extra["key"])
    bad = client.get(f"/api/v1/calls/{recorded['call']}/recording?format=ogg", headers=own)
    assert bad.status_code == 422 and stand_in.requests == []


# -- the dashboard ---------------------------------------------------------------------------


def form(values: dict | None = None, **changes) -> dict:
    """A full client form, as the browser would send it."""
    data = {
        "name": "Client",
        "business_number": "+14155550100",
        "timezone": "America/Los_Angeles",
        "us_state": "CA",
        "recording_notice": "This call may be recorded.",
        "consent_mode": "all_party",
        "after_hours_number": "",
        "voicemail_prompt": "Leave a message.",
        "always_open": "on",
        **{f"hours_{d}": "" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
    data.update(values or {})
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_client_page_explains_consent_and_saves_the_form(client, db, tenant):
    user = make_user(db, tenant)
    log_in(client, user)
    path = f"/dashboard/settings/clients/{tenant.client.id}"
    page = client.get(path).get_data(as_text=True)
    assert "All-party consent" in page and "approximate" in page
    assert "California" in page and "HIPAA mode is on" not in page
    res = client.post(
        path,
        data=form(
            us_state="TX",
            consent_mode="one_party",
            record_calls="on",
            always_open=None,
            hours_mon="09:00-12:00, 13:00–17:00",
            hours_sat="10:00-24:00",
            after_hours_number="415 555 0123",
        ),
    )
    assert res.status_code == 302, res.get_data(as_text=True)[:500]
    db.expire_all()
    saved = db.get(Client, tenant.client.id)
    assert (saved.us_state, saved.consent_mode, saved.record_calls) == ("TX", "one_party", True)
    assert saved.business_hours == HOURS and saved.after_hours_number == "+14155550123"
    page = client.get(path).get_data(as_text=True)
    assert "One-party consent" in page and "Texas" in page
    assert 'value="09:00-12:00, 13:00-17:00"' in page
    [entry] = audits(db, "client")
    assert entry.actor_type == "user" and entry.actor_id == user.id


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"consent_mode": "one_party"}, "California requires all-party consent"),
        ({"always_open": None, "hours_mon": "9 to 5"}, "not a range"),
        ({"always_open": None, "hours_mon": "17:00-09:00"}, "start before it ends"),
        ({"always_open": None}, "at least one day"),
        ({"timezone": "Nowhere/Land"}, "unknown time zone"),
        ({"record_calls": "on", "recording_notice": ""}, "cannot be empty"),
        ({"hipaa": "on", "record_calls": "on"}, "HIPAA mode is on"),
        ({"after_hours_number": "12"}, "phone number"),
    ],
)
def test_the_client_form_refuses_with_the_reason_and_keeps_what_was_typed(
    client, db, tenant, changes, reason
):
    log_in(client, make_user(db, tenant))
    res = client.post(f"/dashboard/settings/clients/{tenant.client.id}", data=form(**changes))
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    errors = re.findall(r'<div class="flash flash-error"[^>]*>([^<]*)</div>', html)
    assert any(reason.lower() in e.lower() for e in errors), errors
    if "hours_mon" in changes:  # what was typed comes back, to be corrected
        assert f'value="{changes["hours_mon"]}"' in html
    db.expire_all()
    assert audits(db, "client") == []


def test_hipaa_is_shown_and_only_an_agency_admin_may_end_it(client, db, tenant):
    tenant.client.hipaa = True
    db.commit()
    manager = make_user(db, tenant, "client_manager", tenant.client)
    log_in(client, manager)
    path = f"/dashboard/settings/clients/{tenant.client.id}"
    page = client.get(path).get_data(as_text=True)
    assert 'id="hipaa-badge"' in page and "HIPAA mode is on: calls are never recorded" in page
    assert re.search(r'<input type="checkbox" name="hipaa"[^>]*disabled', page)
    # The manager's form sends no recording, consent or HIPAA field (they are disabled):
    # it saves the rest, and HIPAA mode stays on.
    mine = form(recording_notice=None, consent_mode=None, name="Renamed")
    assert client.post(path, data=mine).status_code == 302
    db.expire_all()
    assert db.get(Client, tenant.client.id).hipaa is True
    assert db.get(Client, tenant.client.id).name == "Renamed"
    # A forged form that adds hipaa (on or off) is refused whole, with the reason.
    for forged in ({"hipaa": "false"}, {"hipaa": "on"}, {"hipaa": ""}):
        res = client.post(path, data=mine | forged | {"name": "Forged"})
        assert res.status_code == 403, forged
        assert "only an agency admin may change hipaa" in res.get_data(as_text=True)
    db.expire_all()
    assert db.get(Client, tenant.client.id).hipaa is True
    assert db.get(Client, tenant.client.id).name == "Renamed"
    log_in(client, make_user(db, tenant))
    assert client.post(path, data=form()).status_code == 302
    db.expire_all()
    assert db.get(Client, tenant.client.id).hipaa is False


def test_report_only_users_cannot_open_client_settings(client, db, tenant):
    log_in(client, make_user(db, tenant, "report_only", tenant.client))
    assert client.get(f"/dashboard/settings/clients/{tenant.client.id}").status_code == 403


def test_pool_and_number_forms_set_the_override(client, db, tenant):
    log_in(client, make_user(db, tenant))
    number = db.scalar(select(TrackingNumber).where(TrackingNumber.number == tenant.numbers[0]))
    page = client.get(f"/dashboard/settings/pools/{tenant.pool.id}").get_data(as_text=True)
    assert "Inherit from the client (off)" in page
    res = client.post(
        f"/dashboard/settings/pools/{tenant.pool.id}",
        data={"record_calls": "true", "lease_seconds": "60"},
    )
    assert res.status_code == 302
    res = client.post(f"/dashboard/settings/numbers/{number.id}", data={"record_calls": "false"})
    assert res.status_code == 302
    db.expire_all()
    assert db.get(Pool, tenant.pool.id).record_calls is True
    assert db.get(TrackingNumber, number.id).record_calls is False
    page = client.get(f"/dashboard/settings/pools/{tenant.pool.id}").get_data(as_text=True)
    assert "as the pool (on)" in page  # the other numbers; this one is set to off
    # Under HIPAA mode "record" is refused with the reason, and offered disabled.
    client_row = db.get(Client, tenant.client.id)
    client_row.hipaa = True
    db.get(Pool, tenant.pool.id).record_calls = None
    db.commit()
    res = client.post(f"/dashboard/settings/numbers/{number.id}", data={"record_calls": "true"})
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "HIPAA mode is on" in page and re.search(r'value="true"\s+disabled', page)
    db.expire_all()
    assert db.get(TrackingNumber, number.id).record_calls is False


@pytest.mark.parametrize(
    ("role", "shown"),
    [("agency_admin", True), ("client_manager", True), ("report_only", False)],
)
def test_privacy_is_in_the_navigation_for_those_who_can_use_it(client, db, tenant, role, shown):
    scoped = tenant.client if role != "agency_admin" else None
    log_in(client, make_user(db, tenant, role, scoped))
    page = client.get("/dashboard").get_data(as_text=True)
    nav = re.search(r'<nav class="mainnav".*?</nav>', page, re.S).group(0)
    assert ('href="/dashboard/privacy"' in nav) is shown
    if shown:
        assert client.get("/dashboard/privacy").status_code == 200


def test_hipaa_badge_on_the_overview_and_the_client_report(client, db, tenant):
    other = make_site(db, agency=tenant.agency, number_start=30)
    tenant.client.hipaa = True
    tenant.client.name, other.client.name = "Clinic", "Garage"
    db.commit()
    log_in(client, make_user(db, tenant))
    overview = client.get("/dashboard").get_data(as_text=True)
    rows = re.findall(r"<tr>.*?</tr>", overview, re.S)
    clinic = next(r for r in rows if "Clinic" in r)
    garage = next(r for r in rows if "Garage" in r)
    assert "HIPAA mode is on" in clinic and "HIPAA mode is on" not in garage
    assert 'id="hipaa-badge"' in client.get(f"/dashboard/clients/{tenant.client.id}").get_data(
        as_text=True
    )
    assert 'id="hipaa-badge"' not in client.get(f"/dashboard/clients/{other.client.id}").get_data(
        as_text=True
    )


# -- the call detail page --------------------------------------------------------------------


@pytest.fixture
def detailed(db, tenant, stand_in):
    stand_in.accounts[tenant.account_sid] = tenant.token
    at = datetime(2024, 5, 3, 15, 0, 5, tzinfo=UTC)
    call = Call(
        call_sid=call_sid(),
        client_id=tenant.client.id,
        site_id=tenant.site.id,
        caller_number="+12065550143",
        caller_state="WA",
        started_at=at,
        route_kind="after_hours",
        notice_played=True,
        notice_version="0123456789abcdef",
        notice_at=at,
        recording_sid=stand_in.add_recording(tenant.account_sid),
        recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
    )
    db.add(call)
    db.commit()
    return call


@pytest.mark.parametrize(
    ("role", "player"),
    [("agency_admin", True), ("client_manager", True), ("report_only", False)],
)
def test_call_detail_shows_disclosure_route_state_and_a_player_for_listeners(
    client, db, tenant, detailed, role, player
):
    scoped = tenant.client if role != "agency_admin" else None
    log_in(client, make_user(db, tenant, role, scoped))
    html = client.get(f"/dashboard/calls/{detailed.id}").get_data(as_text=True)
    assert re.search(r'id="notice-played">Yes<', html)
    assert "0123456789abcdef" in html and "3 May 2024, 11:00:05" in html  # New York time
    assert re.search(r'id="route-kind">After hours: sent to the after-hours number<', html)
    assert "Washington (WA)" in html and "approximate (from the number's area code)" in html
    audio = re.findall(r"<audio[^>]*>", html)
    assert "api.twilio.com" not in html
    if player:
        src = f"/dashboard/calls/{detailed.id}/recording"
        assert audio == [f'<audio controls preload="none" id="recording" src="{src}">']
        assert client.get(src).data == AUDIO
    else:
        assert audio == [] and "Only agency admins and client managers" in html


def test_a_call_without_recording_or_notice_says_so(client, db, tenant):
    call = Call(call_sid=call_sid(), client_id=tenant.client.id, caller_number="+18005550100")
    db.add(call)
    db.commit()
    log_in(client, make_user(db, tenant))
    html = client.get(f"/dashboard/calls/{call.id}").get_data(as_text=True)
    assert re.search(r'id="notice-played">No<', html) and "<audio" not in html
    assert re.search(r'id="route-kind">Forwarded to the business number<', html)
    assert "unknown (toll-free" in html


def test_the_pool_form_sets_and_clears_the_rest(client, db, tenant):
    log_in(client, make_user(db, tenant))
    path = f"/dashboard/settings/pools/{tenant.pool.id}"
    assert client.post(path, data={"rest_seconds": "600"}).status_code == 302
    db.expire_all()
    assert db.get(Pool, tenant.pool.id).rest_seconds == 600
    page = client.get(path).get_data(as_text=True)
    assert 'name="rest_seconds"' in page and "rests 10.0 minutes" in page
    assert client.post(path, data={"rest_seconds": ""}).status_code == 302  # the window
    db.expire_all()
    assert db.get(Pool, tenant.pool.id).rest_seconds is None
    assert "rests 60.0 minutes" in client.get(path).get_data(as_text=True)
