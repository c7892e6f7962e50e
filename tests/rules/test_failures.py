"""The failure rules, each against a real fault: a call always connects, no record is lost.

Redis faults use a redis-server of the test's own that is stopped and restarted, frozen
with SIGSTOP (it then accepts connections and never answers) and thawed, or made to refuse
writes. Database faults point the app at a database that is not there.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib
from rq import SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import select

from ringtrail import create_app
from ringtrail.calls import replayer
from ringtrail.calls.events import event_id
from ringtrail.calls.intake import INBOX, RETRY_INTERVALS, get_stash, move, replay
from ringtrail.calls.spool import Spool
from ringtrail.storage.clients import get_queue, get_queue_redis
from ringtrail.storage.models import Call
from ringtrail.storage.sql import get_db, make_engine
from ringtrail.tracking.directory import get_directory
from tests.faults import RedisServer
from tests.helpers import (
    BUSINESS,
    DEFAULT_FORWARD,
    HUMAN_UA,
    ORIGIN,
    call_params,
    database_down,
    dead_database_url,
    make_site,
    run_jobs,
    twilio_post,
)

VOICE = "/telephony/twilio/voice"
STATUS = "/telephony/twilio/status"
DEADLINE = 2.0  # the voice webhook answers within this, whatever is down


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.close()


@pytest.fixture
def make_app(app_config, redis_client):
    """Apps on the test's configuration with some settings changed (a restart, say)."""
    apps = []

    def make(**overrides):
        application = create_app(app_config | overrides)
        apps.append(application)
        return application

    yield make
    for application in apps:
        application.extensions["ringtrail"]["engine"].dispose()


def new_site(app, **kwargs):
    with app.app_context():
        return make_site(get_db(), **kwargs)


def calls(app) -> list[Call]:
    with app.app_context():
        return list(get_db().scalars(select(Call).order_by(Call.id)))


def spooled(app) -> list[str]:
    spool = app.config["SPOOL_DIR"]
    return sorted(os.listdir(spool)) if os.path.isdir(spool) else []


def start_visit(client, setup) -> dict:
    response = client.post(
        "/v1/sessions",
        data=json.dumps({"site": setup.site_key, "url": "https://shop.example/quote"}),
        content_type="text/plain",
        headers={"User-Agent": HUMAN_UA, "Origin": ORIGIN},
    )
    assert response.status_code == 200
    return response.get_json()


def timed_call(client, setup, number: str, sid: str | None = None):
    """A signed voice webhook; asserts it answered in time and returns (response, sid)."""
    params = call_params(setup, number, sid=sid)
    started = time.monotonic()
    response = twilio_post(client, VOICE, params, setup.token)
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE, f"the voice webhook took {elapsed:.2f} s"
    return response, params["CallSid"]


def assert_forwarded_unrecorded(response, to: str = BUSINESS) -> None:
    """Valid TwiML that dials ``to`` and nothing else: no notice, no recording."""
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    body = response.get_data(as_text=True)
    assert "<Say" not in body and "record=" not in body, body
    assert f"<Number>{to}</Number>" in body and body.count("<Dial") == 1, body


# Redis down: refusing connections, or accepting and never answering --------------------


@pytest.mark.postgres
@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_redis_down_the_call_connects_and_its_events_are_spooled_then_replayed(
    make_app, own_redis, fault
):
    app = make_app(REDIS_URL=own_redis.url)
    client = app.test_client()
    setup = new_site(app, numbers=2, record=True)
    with app.app_context():
        get_queue_redis().ping()  # a pooled connection exists, as in a running server

    if fault == "stopped":
        own_redis.stop()
    else:
        own_redis.freeze()
    response, sid = timed_call(client, setup, setup.numbers[0])
    assert_forwarded_unrecorded(response)  # the client records, but not without its queue
    # Twilio retries, and the status callback arrives; all while Redis is away.
    again, _ = timed_call(client, setup, setup.numbers[0], sid=sid)
    assert_forwarded_unrecorded(again)
    status = twilio_post(
        client,
        STATUS,
        {
            "AccountSid": setup.account_sid,
            "CallSid": sid,
            "To": setup.numbers[0],
            "CallStatus": "completed",
            "CallDuration": "61",
        },
        setup.token,
    )
    assert status.status_code == 204
    voice_file = event_id("twilio", sid, "voice", "", setup.agency.id) + ".json"
    assert spooled(app) == sorted(
        [voice_file, event_id("twilio", sid, "status", "completed", setup.agency.id) + ".json"]
    )
    with open(os.path.join(app.config["SPOOL_DIR"], voice_file)) as fh:
        event = json.load(fh)
    assert (event["notice_played"], event["degraded"]) == (False, True)
    assert oct(os.stat(os.path.join(app.config["SPOOL_DIR"], voice_file)).st_mode & 0o777) == (
        "0o600"
    )
    with app.app_context():
        assert replay() == 0  # still down: everything stays spooled
    assert len(spooled(app)) == 2

    if fault == "stopped":
        own_redis.start()
    else:
        own_redis.thaw()
    with app.app_context():
        assert replay() == 2
        assert replay() == 0  # queued once: the queue holds them now
    assert len(spooled(app)) == 2  # the write-ahead log keeps them until their records are in
    run_jobs(app)
    assert spooled(app) == []
    [call] = calls(app)
    assert (call.call_sid, call.tracking_number, call.forwarded_to) == (
        sid,
        setup.numbers[0],
        BUSINESS,
    )
    assert (call.status, call.duration_seconds) == ("completed", 61)
    assert (call.degraded, call.notice_played) == (True, False)


def test_redis_down_a_call_to_an_unknown_number_is_spooled_then_recorded(make_app, own_redis):
    app = make_app(REDIS_URL=own_redis.url)
    client = app.test_client()
    setup = new_site(app, numbers=1)
    with app.app_context():
        get_queue_redis().ping()
    own_redis.stop()
    params = call_params(setup, "+16285559999")
    started = time.monotonic()
    response = twilio_post(client, VOICE, params, setup.token)
    assert time.monotonic() - started < DEADLINE
    assert_forwarded_unrecorded(response, DEFAULT_FORWARD)  # the server's default number
    voice_file = event_id("twilio", params["CallSid"], "voice", "", setup.agency.id) + ".json"
    assert spooled(app) == [voice_file]  # the write-ahead log holds it while Redis is away
    own_redis.start()
    with app.app_context():
        assert replay() == 1
    run_jobs(app)
    assert spooled(app) == []
    [call] = calls(app)
    assert (call.agency_id, call.client_id, call.route_kind, call.tracking_number) == (
        setup.agency.id,
        None,
        "unknown_number",
        "+16285559999",
    )


def test_the_replayer_queues_the_spool_without_traffic(make_app, own_redis):
    app = make_app(REDIS_URL=own_redis.url)
    setup = new_site(app, numbers=2)
    own_redis.stop()
    first, sid = timed_call(app.test_client(), setup, setup.numbers[0])
    assert_forwarded_unrecorded(first)
    assert len(spooled(app)) == 1
    own_redis.start()
    thread = replayer.start(app, every=0.1, grace=0)
    try:
        deadline = time.monotonic() + 10
        while True:
            with app.app_context():
                if get_queue().connection.llen(INBOX) == 1:  # stashed, its job to be made
                    break
            assert time.monotonic() < deadline, "the replayer queued nothing in 10 s"
            time.sleep(0.05)
    finally:
        thread.stop()
        thread.join(5)
    assert run_jobs(app) == 1
    assert spooled(app) == []
    assert [(c.call_sid, c.degraded) for c in calls(app)] == [(sid, True)]


# The enqueue failing while the lease Redis works ---------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("fault", ["queue-stopped", "queue-out-of-memory"])
def test_enqueue_failing_spools_and_the_replayed_call_keeps_its_attribution(
    make_app, own_redis, fault
):
    app = make_app(QUEUE_REDIS_URL=own_redis.url)  # leases stay on the suite's Redis
    client = app.test_client()
    setup = new_site(app, numbers=2, record=True)
    answer = start_visit(client, setup)
    number = answer["numbers"][BUSINESS]["e164"]

    admin = redis_lib.Redis(port=own_redis.port)
    if fault == "queue-stopped":
        own_redis.stop()
    else:
        admin.config_set("maxmemory", 1)  # noeviction: every write is refused (OOM)
    response, sid = timed_call(client, setup, number)
    assert_forwarded_unrecorded(response)
    assert spooled(app) == [event_id("twilio", sid, "voice", "", setup.agency.id) + ".json"]

    if fault == "queue-stopped":
        own_redis.start()
    else:
        admin.config_set("maxmemory", 0)
    admin.close()
    with app.app_context():
        assert replay() == 1
    assert run_jobs(app) == 1
    [call] = calls(app)
    assert (call.call_sid, call.confidence, call.session_id) == (sid, "exact", answer["session"])
    assert (call.degraded, call.notice_played) == (True, False)


# The database down ---------------------------------------------------------------------


def run_due_retries(app) -> None:
    """Let the retry delays pass: the RQ scheduler enqueues due jobs, the worker makes the
    jobs of new events and runs them."""
    with app.app_context():
        queue = get_queue()
        while move(queue):
            pass
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            job = Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)
            registry.schedule(job, datetime.now(UTC) - timedelta(seconds=1))
        worker = SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer)
        worker.work(burst=True, with_scheduler=True)


@pytest.mark.postgres
def test_database_down_the_call_connects_and_its_job_retries_until_it_is_back(app, make_app):
    client = app.test_client()
    setup = new_site(app, numbers=2, record=True)
    answer = start_visit(client, setup)  # also warms the routing table
    number = answer["numbers"][BUSINESS]["e164"]
    with app.app_context():
        get_directory().get().loaded_at -= 120  # the database went away two minutes ago

    with database_down(app):
        response, sid = timed_call(client, setup, number)
        assert_forwarded_unrecorded(response)
        eid = event_id("twilio", sid, "voice", "", setup.agency.id)
        assert spooled(app) == [eid + ".json"]  # queued, and kept until the record is in
        assert run_jobs(app) == 1  # ... and the job fails: no database
        with app.app_context():
            queue = get_queue()
            job = Job.fetch(eid, connection=queue.connection, serializer=JSONSerializer)
            assert job.get_status() == "scheduled"
            assert eid in ScheduledJobRegistry(queue=queue).get_job_ids()
            assert job.retries_left == len(RETRY_INTERVALS) - 1
            scheduled_in = ScheduledJobRegistry(queue=queue).get_scheduled_time(job) - datetime.now(
                UTC
            )
            assert timedelta(0) < scheduled_in <= timedelta(seconds=RETRY_INTERVALS[0])
            assert get_stash().exists(eid)
        run_due_retries(app)  # a retry while it is still down fails again
        with app.app_context():
            job.refresh()
            assert (job.get_status(), job.retries_left) == ("scheduled", len(RETRY_INTERVALS) - 2)

        # A process started during the outage routes from the on-disk copy of the table.
        cold = make_app(DATABASE_URL=dead_database_url(app))
        cold_response, cold_sid = timed_call(cold.test_client(), setup, setup.numbers[1])
        assert_forwarded_unrecorded(cold_response)
        forged = twilio_post(
            cold.test_client(), VOICE, call_params(setup, setup.numbers[1]), "forged-token"
        )
        assert forged.status_code == 403  # the disk copy keeps the agencies' tokens

    assert calls(app) == []
    run_due_retries(app)
    by_sid = {c.call_sid: c for c in calls(app)}
    assert set(by_sid) == {sid, cold_sid}
    assert (by_sid[sid].confidence, by_sid[sid].session_id) == ("exact", answer["session"])
    assert (by_sid[sid].degraded, by_sid[sid].notice_played) == (True, False)
    assert (by_sid[cold_sid].tracking_number, by_sid[cold_sid].degraded) == (
        setup.numbers[1],
        True,
    )
    with app.app_context():
        assert not get_stash().exists(eid)
    assert spooled(app) == []


def test_a_fresh_routing_table_records_again(app):
    """Once SQL answers again, a recording client's calls are recorded again."""
    client = app.test_client()
    setup = new_site(app, numbers=1, record=True)
    with app.app_context():
        get_directory().get().loaded_at -= 120
    with database_down(app):
        response, _ = timed_call(client, setup, setup.numbers[0])
        assert_forwarded_unrecorded(response)
    response, _ = timed_call(client, setup, setup.numbers[0])
    body = response.get_data(as_text=True)
    assert body.index("<Say>") < body.index('record="record-from-answer-dual"')


class SilentServer:
    """Accepts TCP connections on loopback and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


def test_a_redis_that_never_answers_costs_the_call_under_the_deadline(make_app, silent_server):
    """The plain version of the frozen Redis: a socket server that never replies."""
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{silent_server.port}/0")
    setup = new_site(app, numbers=1, record=True)
    response, sid = timed_call(app.test_client(), setup, setup.numbers[0])
    assert_forwarded_unrecorded(response)
    assert spooled(app) == [event_id("twilio", sid, "voice", "", setup.agency.id) + ".json"]


@contextmanager
def database_hung(app, port: int):
    """Point the app's sessions at a server that accepts connections and never answers."""
    maker = app.extensions["ringtrail"]["sessionmaker"]
    engine = maker.kw["bind"]
    hung = make_engine(f"postgresql://postgres@127.0.0.1:{port}/ringtrail", 1.0)
    maker.configure(bind=hung)
    try:
        yield
    finally:
        maker.configure(bind=engine)
        hung.dispose()


def test_a_database_that_never_answers_costs_the_call_under_the_deadline(make_app, silent_server):
    """With a real cache TTL the routing table is reread in the background, not in the call.

    A hung PostgreSQL holds a connect for 2 s at least (libpq's minimum connect_timeout).
    """
    app = make_app(CACHE_SECONDS=0.05)
    client = app.test_client()
    setup = new_site(app, numbers=1)
    with app.app_context():
        assert setup.numbers[0] in get_directory().get().routes  # warm
    time.sleep(0.1)  # the table is now due for a reread
    with database_hung(app, silent_server.port):
        for _ in range(2):
            response, _ = timed_call(client, setup, setup.numbers[0])
            assert_forwarded_unrecorded(response)


def test_a_process_starting_while_the_database_hangs_answers_in_time(app, make_app, silent_server):
    setup = new_site(app, numbers=1)
    with app.app_context():
        get_directory().get()  # writes directory.json
    cold = make_app(CACHE_SECONDS=30)
    with database_hung(cold, silent_server.port):
        response, _ = timed_call(cold.test_client(), setup, setup.numbers[0])
        assert_forwarded_unrecorded(response)


# The spool itself ----------------------------------------------------------------------


def _event(n: int) -> dict:
    return {"kind": "voice", "call_sid": f"CA{n:032d}", "params": {"From": "+12125550143"}}


def test_spool_put_is_private_and_once_per_event(tmp_path):
    spool = Spool(str(tmp_path / "spool"))
    spool.put("voice-1", _event(1))
    spool.put("voice-1", _event(1) | {"again": True})  # a webhook delivered twice
    assert spool.pending() == ["voice-1"] and len(spool) == 1
    assert os.listdir(spool.directory) == ["voice-1.json"]  # no temporary file left
    assert oct(os.stat(spool.directory).st_mode & 0o777) == "0o700"
    assert oct(os.stat(os.path.join(spool.directory, "voice-1.json")).st_mode & 0o777) == "0o600"
    seen = {}
    assert spool.replay(lambda eid, event: seen.setdefault(eid, event)) == 1
    assert seen == {"voice-1": _event(1) | {"again": True}} and spool.pending() == []


def test_spool_replay_stops_at_the_first_failure_and_keeps_the_rest(tmp_path):
    spool = Spool(str(tmp_path))
    for n in range(3):
        spool.put(f"voice-{n}", _event(n))
    submitted = []

    def flaky(eid, event):
        if eid == "voice-1":
            raise redis_lib.ConnectionError("still down")
        submitted.append(eid)

    assert spool.replay(flaky) == 1
    assert submitted == ["voice-0"] and spool.pending() == ["voice-1", "voice-2"]
    assert spool.replay(lambda eid, event: submitted.append(eid)) == 2
    assert submitted == ["voice-0", "voice-1", "voice-2"] and spool.pending() == []


def test_spool_sets_an_unreadable_event_aside(tmp_path):
    spool = Spool(str(tmp_path))
    spool.put("voice-1", _event(1))
    (tmp_path / "voice-0.json").write_text("{not json")
    submitted = []
    assert spool.replay(lambda eid, event: submitted.append(eid)) == 1
    assert submitted == ["voice-1"]
    assert sorted(os.listdir(tmp_path)) == ["voice-0.json.bad"]


def test_spool_takes_back_the_claims_of_a_dead_replayer(tmp_path):
    spool = Spool(str(tmp_path))
    spool.put("voice-1", _event(1))
    spool.put("voice-2", _event(2))
    # voice-1 was claimed by a process that died long ago; voice-2 by one at work now.
    long_ago = time.time() - 3600
    dead = tmp_path / f"voice-1.json.claimed.999999.{long_ago:.0f}"
    os.rename(tmp_path / "voice-1.json", dead)
    os.utime(dead, (long_ago, long_ago))
    os.rename(
        tmp_path / "voice-2.json", tmp_path / f"voice-2.json.claimed.999998.{time.time():.0f}"
    )
    submitted = []
    assert spool.replay(lambda eid, event: submitted.append(eid)) == 1
    assert submitted == ["voice-1"]
    assert [n for n in os.listdir(tmp_path) if n.startswith("voice-1")] == []


def test_an_old_event_being_replayed_is_not_taken_from_its_replayer(tmp_path):
    """The claim's age counts from the claim, not from when the event was spooled."""
    spool = Spool(str(tmp_path))
    spool.put("voice-1", _event(1))
    spooled_at = time.time() - 3600  # spooled during an outage an hour ago
    os.utime(tmp_path / "voice-1.json", (spooled_at, spooled_at))
    submitted = []

    def slow_submit(eid, event):
        # While this replayer submits, another worker's replay runs.
        assert Spool(str(tmp_path)).replay(lambda e, _: submitted.append(("other", e))) == 0
        submitted.append(("first", eid))

    assert spool.replay(slow_submit) == 1
    assert submitted == [("first", "voice-1")] and os.listdir(tmp_path) == []


def test_concurrent_replayers_submit_each_event_once(tmp_path):
    spool = Spool(str(tmp_path))
    for n in range(60):
        spool.put(f"voice-{n:02d}", _event(n))
    submitted = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def submit(eid, event):
        with lock:
            submitted.append(eid)

    def replayer():
        barrier.wait()
        Spool(str(tmp_path)).replay(submit)

    threads = [threading.Thread(target=replayer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(submitted) == [f"voice-{n:02d}" for n in range(60)]
    assert os.listdir(tmp_path) == []


def test_the_routing_table_is_reloaded_only_when_configuration_changes(app_config, db):
    """A big routing table is not reread every refresh: one query tells if it changed."""
    from ringtrail import create_app
    from ringtrail.tracking.directory import get_directory
    from tests.helpers import make_site as make

    setup = make(db, numbers=3)
    app = create_app(app_config | {"CACHE_SECONDS": 30})
    with app.app_context():
        directory = get_directory()
        first = directory.get()
        assert setup.numbers[0] in first.routes
        directory.refresh()  # as the watcher does
        assert directory.get() is first  # unchanged: the same snapshot, not a reload
        setup.pool.lease_seconds = 99
        db.commit()  # any write to configuration bumps its version
        directory.refresh()
        second = directory.get()
        assert second is not first
        assert second.sites[setup.site_key].pools[0].lease_seconds == 99
    app.extensions["ringtrail"]["engine"].dispose()


def test_a_spool_known_empty_is_not_listed_until_it_changes(tmp_path, monkeypatch):
    folder = tmp_path / "spool"
    spool = Spool(str(folder))
    spool.put("voice-1", _event(1))
    spool.discard("voice-1")
    settled = time.time() - 5  # the folder changed long enough ago to trust its mtime
    os.utime(folder, (settled, settled))
    listings = []
    real = os.listdir

    def listdir(path):
        listings.append(path)
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    assert spool.pending() == [] and len(listings) == 1  # listed: found empty
    assert spool.pending() == [] and spool.older_than(0) == [] and len(listings) == 1
    other = Spool(str(folder))  # another process's spool object: the folder is what counts
    other.put("voice-2", _event(2))
    assert spool.pending() == ["voice-2"] and len(listings) == 2  # changed: listed again
