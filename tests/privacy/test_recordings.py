"""Recordings are heard only through Ringtrail, by agency admins and client managers, and
every access is audited; the carrier's media URL never reaches a browser or the API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ringtrail.storage.models import AuditEntry, Call
from tests.helpers import bearer, log_in, make_site, make_user, new_key, run_jobs
from tests.twilio_standin import AUDIO, call_sid


@pytest.fixture
def recorded(db, stand_in):
    """A client with one recorded call (the audio at the stand-in) and one unrecorded."""
    setup = make_site(db, record=True)
    stand_in.accounts[setup.account_sid] = setup.token
    rsid = stand_in.add_recording(setup.account_sid)
    media = f"https://api.twilio.com/2010-04-01/Accounts/{setup.account_sid}/Recordings/{rsid}"
    call = Call(
        call_sid=call_sid(),
        client_id=setup.client.id,
        site_id=setup.site.id,
        caller_number="+12125550143",
        recording_sid=rsid,
        recording_url=media,
        recording_seconds=12,
    )
    silent = Call(call_sid=call_sid(), client_id=setup.client.id, site_id=setup.site.id)
    db.add_all([call, silent])
    db.commit()
    setup.extra.update(call=call.id, silent=silent.id, rsid=rsid, media=media)
    return setup


def listens(db) -> list[AuditEntry]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == "listen")))


@pytest.mark.parametrize("role", ["agency_admin", "client_manager"])
def test_admins_and_client_managers_hear_it_streamed_and_audited(
    client, db, recorded, stand_in, role
):
    user = make_user(db, recorded, role, recorded.client.id if role == "client_manager" else None)
    log_in(client, user)
    res = client.get(f"/dashboard/calls/{recorded.extra['call']}/recording")
    assert res.status_code == 200
    assert res.mimetype == "audio/mpeg" and res.data == AUDIO
    assert res.headers["Cache-Control"].startswith("no-store")
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert "twilio" not in str(res.headers).lower()
    [entry] = listens(db)
    assert (entry.actor_type, entry.actor_id, entry.object_id) == ("user", user.id, entry.object_id)
    assert entry.object_type == "call" and entry.object_id == recorded.extra["call"]
    assert entry.details == {"recording": recorded.extra["rsid"]}
    # The stand-in was asked with the agency's credentials, by sid, for the MP3.
    assert stand_in.requests[-1][0] == "GET" and stand_in.requests[-1][2] is True
    assert stand_in.requests[-1][1].endswith(f"{recorded.extra['rsid']}.mp3")
    wav = client.get(f"/dashboard/calls/{recorded.extra['call']}/recording?format=wav")
    assert wav.mimetype == "audio/wav" and len(listens(db)) == 2


def test_report_only_users_cannot_hear_recordings(client, db, recorded, stand_in):
    log_in(client, make_user(db, recorded, "report_only", recorded.client.id))
    assert client.get(f"/dashboard/calls/{recorded.extra['call']}/recording").status_code == 403
    assert stand_in.requests == [] and listens(db) == []


def test_anonymous_visitors_are_sent_to_login(client, recorded, stand_in):
    res = client.get(f"/dashboard/calls/{recorded.extra['call']}/recording")
    assert res.status_code == 302 and "/login" in res.headers["Location"]
    assert stand_in.requests == []


def test_another_tenants_recording_is_404_and_the_attempt_audited(client, db, recorded, stand_in):
    other = make_site(db, number_start=40)
    log_in(client, make_user(db, other, "agency_admin"))
    assert client.get(f"/dashboard/calls/{recorded.extra['call']}/recording").status_code == 404
    assert stand_in.requests == [] and listens(db) == []
    run_jobs(client.application)  # the attempt is audited off the request path
    denied = db.scalar(select(AuditEntry).where(AuditEntry.action == "denied"))
    assert denied.object_id == recorded.extra["call"] and denied.agency_id == other.agency.id
    probed = db.scalar(select(AuditEntry).where(AuditEntry.action == "probed"))
    assert probed.agency_id == recorded.agency.id and probed.actor == "another agency"


def test_no_recording_is_404_and_a_carrier_outage_is_502(client, db, recorded, stand_in):
    log_in(client, make_user(db, recorded, "agency_admin"))
    assert client.get(f"/dashboard/calls/{recorded.extra['silent']}/recording").status_code == 404
    stand_in.fail_with = 503
    assert client.get(f"/dashboard/calls/{recorded.extra['call']}/recording").status_code == 502
    assert len(listens(db)) == 1  # the attempt is on record even though it failed


def test_the_carrier_url_is_on_no_page_and_in_no_api_answer(app, client, db, recorded):
    log_in(client, make_user(db, recorded, "agency_admin"))
    call_id = recorded.extra["call"]
    pages = [f"/dashboard/calls/{call_id}", "/dashboard/calls", "/dashboard/calls.csv"]
    key = bearer(new_key(app, recorded.agency.id))
    answers = [
        client.get(f"/api/v1/calls/{call_id}", headers=key),
        client.get("/api/v1/calls", headers=key),
    ]
    bodies = [client.get(p) for p in pages] + answers
    assert all(b.status_code == 200 for b in bodies), [b.status_code for b in bodies]
    for body in bodies:
        text = body.get_data(as_text=True)
        assert recorded.extra["media"] not in text
        assert "api.twilio.com" not in text and recorded.extra["rsid"] not in text
