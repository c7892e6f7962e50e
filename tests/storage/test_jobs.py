"""Jobs: periodic scheduling, and an upgrade that loses no call queued by an older release.

Releases before the ``ringtrail`` package queued their jobs under ``server.*`` paths and
stashed (or spooled) events with Twilio's parameter names under ``params``. After
``ringtrail migrate`` the same worker applies them all.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from rq import SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import select

from ringtrail.calls.events import CallEvent, event_id
from ringtrail.calls.intake import JOB, get_spool, get_stash, replay
from ringtrail.cli import main
from ringtrail.storage.clients import get_queue, get_queue_redis
from ringtrail.storage.jobs import (
    MOVED,
    Periodic,
    make_cron,
    move_job_paths,
    requeue_abandoned,
    requeue_lost,
)
from ringtrail.storage.models import Call
from ringtrail.tracking.pool import get_pools
from tests.helpers import cli_env, make_site, run_jobs

CALLER = "+12125550143"


def _older_release_event(setup, number: str, sid: str, received_at: float) -> dict:
    """A voice event as releases before 0.2 stashed and spooled it."""
    return {
        "provider": "twilio",
        "kind": "voice",
        "call_sid": sid,
        "received_at": received_at,
        "params": {
            "CallSid": sid,
            "AccountSid": setup.account_sid,
            "From": CALLER,
            "To": number,
            "CallStatus": "ringing",
            "Direction": "inbound",
        },
        "caller_hash": None,
        "caller_state": "NY",
        "hipaa": False,
        "route": {
            "role": "pool",
            "pool_id": setup.pool.id,
            "site_id": setup.site.id,
            "client_id": setup.client.id,
            "match_window": 3600,
            "source": None,
        },
        "forward_to": setup.client.business_number,
        "route_kind": "normal",
        "degraded": False,
        "notice_played": False,
        "notice_version": None,
        "notice_at": None,
    }


def test_an_older_shape_is_read_field_by_field():
    legacy = {
        "provider": "twilio",
        "kind": "recording",
        "call_sid": "CA1",
        "received_at": 5.0,
        "params": {
            "CallSid": "CA1",
            "RecordingSid": "RE" + "a" * 32,
            "RecordingUrl": "https://api.twilio.com/x",
            "RecordingDuration": "17",
            "RecordingStatus": "completed",
        },
    }
    event = CallEvent.from_dict(legacy)
    assert (event.kind, event.recording_sid, event.recording_seconds) == (
        "recording",
        "RE" + "a" * 32,
        17,
    )
    assert CallEvent.from_dict(event.to_dict()) == event


def test_migrate_moves_jobs_queued_by_an_older_release_and_they_apply(
    app, app_config, db, redis_client
):
    setup = make_site(db, numbers=1, lease_seconds=600)
    number = setup.numbers[0]
    now = time.time()
    with app.app_context():
        lease = get_pools().lease(
            setup.pool.id, "visitor-old", numbers=setup.numbers, lease_seconds=600, now=now
        )
    assert lease.number == number
    queued_sid, spooled_sid = "CA" + "1" * 32, "CA" + "2" * 32
    queued_id = event_id("twilio", queued_sid, "voice")
    with app.app_context():
        queue = get_queue()
        # What the older release left in Redis: a stashed event and its job, and the
        # traffic flush scheduled for later.
        get_queue_redis().set(
            get_stash().key(queued_id),
            json.dumps(_older_release_event(setup, number, queued_sid, now + 1)),
        )
        queue.enqueue("server.jobs.apply_event", queued_id, job_id=queued_id)
        queue.enqueue_at(
            datetime.now(UTC) + timedelta(hours=1),
            "server.traffic.flush_and_reschedule",
            job_id="flush-visit-counts-old",
        )
        # And a call it spooled to disk while Redis was away.
        get_spool().put(
            event_id("twilio", spooled_sid, "voice"),
            _older_release_event(setup, number, spooled_sid, now + 2),
        )

    result = CliRunner().invoke(main, ["migrate"], env=cli_env(app_config))
    assert result.exit_code == 0, result.output
    assert "2 queued job(s) moved" in result.output

    with app.app_context():
        queue = get_queue()
        job = Job.fetch(queued_id, connection=queue.connection, serializer=queue.serializer)
        assert job.func_name == JOB and job.args == [queued_id]
        scheduled = Job.fetch(
            "flush-visit-counts-old", connection=queue.connection, serializer=queue.serializer
        )
        assert scheduled.func_name == MOVED["server.traffic.flush_and_reschedule"]
        assert move_job_paths(queue) == 0  # idempotent
        assert replay() == 1
    assert run_jobs(app) == 2

    db.expire_all()
    calls = {c.call_sid: c for c in db.scalars(select(Call))}
    assert set(calls) == {queued_sid, spooled_sid}
    for call in calls.values():
        assert call.confidence == "exact" and call.session_id == "visitor-old"
        assert call.caller_number == CALLER and call.client_id == setup.client.id


def tick() -> str:
    """A periodic job's stand-in."""
    return "tick"


def test_a_cron_job_is_queued_with_json_when_due_and_runs(app):
    with app.app_context():
        queue = get_queue()
        cron = make_cron(queue.connection, queue.name, [Periodic(tick, "*/5 * * * *", 10)])
        (job,) = cron.get_jobs()
        assert cron.enqueue_jobs() == []  # not due yet
        job.next_enqueue_time = datetime.now(UTC) - timedelta(seconds=1)
        assert cron.enqueue_jobs() == [job]
        assert job.next_enqueue_time > datetime.now(UTC)  # the next slot, from RQ's croniter
        (queued,) = queue.get_jobs()
        assert queued.func_name == "tests.storage.test_jobs.tick"
        worker = SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer)
        assert worker.work(burst=True)
        assert queued.get_status(refresh=True) == "finished" and queued.return_value() == "tick"


def test_a_job_left_started_by_a_dead_worker_is_queued_again(app):
    with app.app_context():
        queue = get_queue()
        job = queue.enqueue(tick, job_id="tick-1")
        dead = SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer)
        dead.register_birth()
        dequeued, _ = queue.dequeue_any(
            [queue], None, connection=queue.connection, serializer=JSONSerializer
        )
        dead.prepare_execution(dequeued)
        dead.prepare_job_execution(dequeued)  # ... and then it was killed
        assert job.get_status(refresh=True) == "started"
        assert requeue_abandoned(queue, alive=lambda name: True) == []
        assert requeue_abandoned(queue, alive=lambda name: name != dead.name) == ["tick-1"]
        assert queue.started_job_registry.get_job_ids(cleanup=False) == []
        assert queue.get_job_ids() == ["tick-1"]
        assert requeue_abandoned(queue, alive=lambda name: False) == []  # once
        worker = SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer)
        worker.work(burst=True)
        assert job.get_status(refresh=True) == "finished"


def test_a_job_whose_worker_died_before_it_said_it_started_is_queued_again(app):
    """RQ records the execution (with the worker's name) before the job's status says
    started: a worker killed in between leaves a queued job in the started registry."""
    with app.app_context():
        queue = get_queue()
        queue.enqueue(tick, job_id="tick-2")
        dead = SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer)
        dead.register_birth()
        dequeued, _ = queue.dequeue_any(
            [queue], 1, connection=queue.connection, serializer=JSONSerializer
        )
        dead.prepare_execution(dequeued)  # ... and then it was killed
        assert dequeued.get_status(refresh=True) == "queued"
        assert queue.intermediate_queue.get_job_ids() == ["tick-2"]
        assert requeue_abandoned(queue, alive=lambda name: name != dead.name) == ["tick-2"]
        assert queue.started_job_registry.get_job_ids(cleanup=False) == []
        assert queue.intermediate_queue.get_job_ids() == []
        assert requeue_lost(queue, set()) == []
        assert queue.get_job_ids() == ["tick-2"]


def test_a_job_lost_on_its_way_to_a_worker_is_queued_again(app):
    with app.app_context():
        queue = get_queue()
        queue.enqueue(tick, job_id="tick-3")
        # BLMOVE hands it out; the answer never reaches the worker.
        queue.dequeue_any([queue], 1, connection=queue.connection, serializer=JSONSerializer)
        seen: set[str] = set()
        assert requeue_lost(queue, seen) == [] and seen == {"tick-3"}  # once: maybe in flight
        assert requeue_lost(queue, seen) == ["tick-3"]  # twice: lost
        assert queue.get_job_ids() == ["tick-3"] and queue.intermediate_queue.get_job_ids() == []
