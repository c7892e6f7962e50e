"""Retention: recordings, calls and visit snapshots go at each client's limits, by a
scheduled job, with time injected."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ringtrail.privacy import retention
from ringtrail.storage.models import Call, Client, Site, VisitSnapshot
from tests.helpers import make_site, run_jobs
from tests.twilio_standin import call_sid

NOW = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def setup(db, stand_in):
    s = make_site(db)
    stand_in.accounts[s.account_sid] = s.token
    return s


def add_call(db, setup, stand_in, *, days: float, recording=False, visit_days=None, client=None):
    """A call ``days`` before NOW, with a recording at the stand-in and a visit if asked."""
    client = client or setup.client
    site = db.scalar(select(Site).where(Site.client_id == client.id))
    call = Call(
        call_sid=call_sid(),
        client_id=client.id,
        site_id=site.id,
        caller_number="+12125550143",
        started_at=NOW - timedelta(days=days),
        status="completed",
    )
    if recording:
        call.recording_sid = stand_in.add_recording(setup.account_sid)
        call.recording_url = (
            f"https://api.twilio.com/2010-04-01/Accounts/{setup.account_sid}"
            f"/Recordings/{call.recording_sid}"
        )
        call.recording_seconds = 42
        call.transcription = "hello, I'd like a quote"
    if visit_days is not None:
        call.session_id = secrets.token_urlsafe(12)
        call.visit = VisitSnapshot(
            session_id=call.session_id,
            site_id=site.id,
            started_at=NOW - timedelta(days=visit_days),
            landing_url="https://shop.example/",
        )
    db.add(call)
    db.commit()
    return call.id


def ids(db, model) -> set[int]:
    db.expire_all()
    return set(db.scalars(select(model.id)))


@pytest.mark.postgres
def test_defaults_keep_calls_and_snapshots_25_months_and_recordings_90_days(db, setup, stand_in):
    assert (
        setup.client.retention_call_days,
        setup.client.retention_snapshot_days,
        setup.client.retention_recording_days,
    ) == (761, 761, 90)
    old = add_call(db, setup, stand_in, days=762, visit_days=762)
    kept = add_call(db, setup, stand_in, days=760, visit_days=760)
    heard = add_call(db, setup, stand_in, days=91, recording=True)
    fresh = add_call(db, setup, stand_in, days=89, recording=True)
    fresh_sid = db.get(Call, fresh).recording_sid
    old_visit = db.get(Call, old).visit_id

    result = retention.enforce(NOW)

    assert result == {
        "recordings_deleted": 1,
        "recordings_failed": 0,
        "calls_deleted": 1,
        "calls_waiting": 0,
        "snapshots_deleted": 1,  # the old call's snapshot went with it
    }
    assert ids(db, Call) == {kept, heard, fresh}
    assert old_visit not in ids(db, VisitSnapshot)
    assert len(ids(db, VisitSnapshot)) == 1
    call = db.get(Call, heard)
    assert (call.recording_sid, call.recording_url, call.recording_seconds) == (None, None, None)
    assert call.transcription is None
    # The carrier was asked to delete exactly the expired recording, with credentials.
    deletes = [(m, p, a) for m, p, a in stand_in.requests if m == "DELETE"]
    assert len(deletes) == 1 and deletes[0][2] is True
    assert list(stand_in.recordings) == [fresh_sid]
    assert db.get(Call, fresh).recording_sid == fresh_sid
    # Running again at the same time changes nothing.
    assert set(retention.enforce(NOW).values()) == {0}


@pytest.mark.postgres
def test_calls_of_no_client_go_after_the_default_call_limit(db, setup, stand_in):
    def stray(days: float) -> int:
        call = Call(
            agency_id=setup.agency.id,
            call_sid=call_sid(),
            tracking_number="+16285559999",
            started_at=NOW - timedelta(days=days),
            route_kind="unknown_number",
        )
        db.add(call)
        db.commit()
        return call.id

    old, kept = stray(762), stray(760)
    client_call = add_call(db, setup, stand_in, days=762)
    result = retention.enforce(NOW)
    assert (result["calls_deleted"], result["calls_waiting"]) == (2, 0)
    assert ids(db, Call) == {kept}
    assert old not in ids(db, Call) and client_call not in ids(db, Call)


def test_each_client_has_its_own_limits(db, setup, stand_in):
    other = make_site(db, agency=setup.agency, number_start=50)
    client = db.get(Client, other.client.id)
    client.retention_call_days = 30
    client.retention_snapshot_days = 7
    client.retention_recording_days = 3
    db.commit()
    short_old = add_call(db, setup, stand_in, days=31, client=client)
    short_visit = add_call(db, setup, stand_in, days=8, visit_days=8, client=client)
    short_rec = add_call(db, setup, stand_in, days=4, recording=True, client=client)
    long_same_age = add_call(db, setup, stand_in, days=31, visit_days=31, recording=True)

    result = retention.enforce(NOW)

    assert result["calls_deleted"] == 1 and result["snapshots_deleted"] == 1
    assert result["recordings_deleted"] == 1
    assert ids(db, Call) == {short_visit, short_rec, long_same_age}
    unlinked = db.get(Call, short_visit)
    assert (unlinked.visit_id, unlinked.session_id) == (None, None)
    assert db.get(Call, short_rec).recording_sid is None
    untouched = db.get(Call, long_same_age)
    assert untouched.recording_sid is not None and untouched.visit_id is not None
    assert short_old not in ids(db, Call)


def test_a_call_shorter_lived_than_its_recording_takes_the_recording_with_it(db, setup, stand_in):
    setup.client.retention_call_days = 30
    setup.client.retention_recording_days = 90
    db.commit()
    gone = add_call(db, setup, stand_in, days=31, recording=True)
    assert retention.enforce(NOW)["calls_deleted"] == 1
    assert gone not in ids(db, Call)
    assert stand_in.recordings == {}


def test_a_recording_the_carrier_cannot_delete_keeps_its_reference_and_its_call(
    db, setup, stand_in
):
    call_id = add_call(db, setup, stand_in, days=800, recording=True)
    stand_in.fail_with = 503

    result = retention.enforce(NOW)

    assert result["recordings_failed"] == 1 and result["calls_waiting"] == 1
    assert result["calls_deleted"] == 0
    assert db.get(Call, call_id).recording_sid in stand_in.recordings
    stand_in.fail_with = None
    result = retention.enforce(NOW)  # the next run finishes the job
    assert (result["recordings_deleted"], result["calls_deleted"]) == (1, 1)
    assert ids(db, Call) == set() and stand_in.recordings == {}


def test_a_recording_already_gone_at_the_carrier_is_forgotten(db, setup, stand_in):
    call_id = add_call(db, setup, stand_in, days=100, recording=True)
    stand_in.recordings.clear()  # deleted in the Twilio console, say
    assert retention.enforce(NOW)["recordings_deleted"] == 1
    assert db.get(Call, call_id).recording_sid is None


def test_the_job_runs_from_the_queue_and_queues_nothing_more(app, db, setup, stand_in):
    from ringtrail.storage.clients import get_queue

    real_now = datetime.now(UTC)
    old = Call(
        call_sid=call_sid(),
        client_id=setup.client.id,
        caller_number="+12125550143",
        started_at=real_now - timedelta(days=800),
    )
    db.add(old)
    db.commit()
    with app.app_context():
        get_queue().enqueue(retention.periodic_enforce, job_id="retention-now")
    assert run_jobs(app) == 1
    assert ids(db, Call) == set()
    with app.app_context():  # RQ's cron schedules the next run: the job queues nothing
        assert get_queue().scheduled_job_registry.get_job_ids() == []


def test_retention_is_an_hourly_cron_job_that_forgets_old_applied_events(app, db):
    from ringtrail.storage.models import AppliedEvent

    assert retention.PERIODIC.func is retention.periodic_enforce
    assert retention.PERIODIC.cron == "7 * * * *"
    db.add_all(
        [
            AppliedEvent(event_id="voice-old", applied_at=NOW - timedelta(days=40)),
            AppliedEvent(event_id="voice-new", applied_at=NOW - timedelta(days=2)),
        ]
    )
    db.commit()
    with app.app_context():
        assert retention.forget_applied_events(now=NOW) == 1
    db.expire_all()
    assert [e.event_id for e in db.scalars(select(AppliedEvent))] == ["voice-new"]
