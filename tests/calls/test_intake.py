"""Call-record jobs: attribution end to end, idempotency, ordering and what a job carries.

Everything runs on the real stores: the suite's Redis, a fresh database per test (and
PostgreSQL for the tests marked ``postgres``), and RQ jobs run by a burst worker.
"""

from __future__ import annotations

import json
import threading
import time
import zlib

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from ringtrail.calls.attribution import Attribution, attribute
from ringtrail.calls.events import CallEvent, event_id
from ringtrail.calls.intake import (
    INBOX,
    JOB,
    EventStash,
    apply_event,
    enqueue,
    get_stash,
    move,
    replay,
)
from ringtrail.calls.records import apply_event as apply_to_sql
from ringtrail.storage.clients import get_queue, get_queue_redis
from ringtrail.storage.models import Call, VisitSnapshot
from ringtrail.storage.sql import get_db
from ringtrail.tracking.pool import LeaseRecord, get_pools
from ringtrail.tracking.visits import Visit, get_visits
from tests.helpers import (
    BUSINESS,
    HUMAN_UA,
    ORIGIN,
    call_params,
    make_site,
    run_jobs,
    tracking_numbers,
    twilio_post,
)

VOICE = "/telephony/twilio/voice"
STATUS = "/telephony/twilio/status"
DIAL = "/telephony/twilio/dial"
RECORDING = "/telephony/twilio/recording"
CALLER = "+12125550143"


@pytest.fixture
def new_site(app):
    """make_site in an app context of its own, so requests get theirs as in production."""

    def make(**kwargs):
        with app.app_context():
            return make_site(get_db(), **kwargs)

    return make


def calls(app) -> list[Call]:
    """Every call record, read fresh from SQL."""
    with app.app_context():
        return list(get_db().scalars(select(Call).order_by(Call.id)))


def snapshots(app) -> list[VisitSnapshot]:
    """Every visit snapshot, read fresh from SQL."""
    with app.app_context():
        return list(get_db().scalars(select(VisitSnapshot).order_by(VisitSnapshot.id)))


def start_visit(client, setup, url: str, referrer: str = "", title: str = "Offers") -> dict:
    """A visitor's browser opening a page: POST /v1/sessions as the snippet sends it."""
    body = {"site": setup.site_key, "url": url, "referrer": referrer, "title": title}
    response = client.post(
        "/v1/sessions",
        data=json.dumps(body),
        content_type="text/plain",
        headers={"User-Agent": HUMAN_UA, "Origin": ORIGIN},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def leased(answer: dict) -> str:
    """The tracking number a session answer shows instead of the business number."""
    return answer["numbers"][BUSINESS]["e164"]


def ring(client, setup, number: str, sid: str | None = None, **extra: str):
    """A signed voice webhook for a call to ``number``; returns its CallSid."""
    params = call_params(setup, number, sid=sid, caller=CALLER, **extra)
    response = twilio_post(client, VOICE, params, setup.token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return params["CallSid"]


def callback(client, setup, path: str, sid: str, to: str, **params: str):
    """A signed status, dial or recording callback."""
    form = {"AccountSid": setup.account_sid, "CallSid": sid, "To": to, "From": CALLER}
    form.update(params)
    return twilio_post(client, path, form, setup.token)


# Attribution, end to end ---------------------------------------------------------------


@pytest.mark.postgres
def test_call_on_a_leased_number_is_exact_with_the_visit(app, client, new_site):
    setup = new_site(numbers=3)
    answer = start_visit(
        client,
        setup,
        "https://shop.example/offers?utm_source=newsletter&utm_medium=email"
        "&utm_campaign=spring&gclid=abc&email=jane%40example.com",
    )
    session, number = answer["session"], leased(answer)
    assert number in setup.numbers
    page = client.post(
        f"/v1/sessions/{session}/pageviews",
        data=json.dumps(
            {"site": setup.site_key, "url": "https://shop.example/contact", "title": "Contact"}
        ),
        content_type="text/plain",
        headers={"User-Agent": HUMAN_UA, "Origin": ORIGIN},
    )
    assert page.status_code == 200
    assert leased(page.get_json()) == number  # the same visitor keeps the same number

    sid = ring(client, setup, number)
    assert run_jobs(app) == 1

    [call] = calls(app)
    assert (call.call_sid, call.confidence, call.session_id) == (sid, "exact", session)
    assert (call.tracking_number, call.forwarded_to, call.caller_number) == (
        number,
        BUSINESS,
        CALLER,
    )
    assert (call.client_id, call.site_id, call.pool_id) == (
        setup.client.id,
        setup.site.id,
        setup.pool.id,
    )
    assert (call.source, call.medium, call.status) == ("newsletter", "email", "ringing")
    assert call.degraded is False and call.notice_played is False
    [snap] = snapshots(app)
    assert call.visit_id == snap.id and snap.session_id == session
    # The landing page is kept, but not what its query said about the visitor.
    assert snap.landing_url.startswith("https://shop.example/offers")
    assert "jane" not in snap.landing_url
    assert (snap.source, snap.medium, snap.campaign) == ("newsletter", "email", "spring")
    assert snap.click_ids == {"gclid": "abc"}
    assert [p[1] for p in snap.pages] == ["/offers", "/contact"]


@pytest.mark.postgres
def test_call_after_the_lease_ended_within_the_window_is_late(app, client, new_site):
    setup = new_site(numbers=2, lease_seconds=60, match_window=3600)
    past = time.time() - 600  # leased ten minutes ago for one minute: ended 9 min ago
    with app.app_context():
        lease = get_pools().lease(
            setup.pool.id,
            "late-visitor-session-1",
            numbers=setup.numbers,
            lease_seconds=60,
            now=past,
        )
        get_visits().create(
            "late-visitor-session-1",
            Visit(
                site_id=setup.site.id,
                started=past,
                landing_url="https://shop.example/late",
                source="bing",
                medium="cpc",
                pages=[[0, "/late"]],
            ),
            ttl=3600,
        )
    assert lease.status == "new"
    ring(client, setup, lease.number)
    run_jobs(app)
    [call] = calls(app)
    assert (call.confidence, call.session_id) == ("late", "late-visitor-session-1")
    assert (call.source, call.medium) == ("bing", "cpc")
    [snap] = snapshots(app)
    assert snap.landing_url == "https://shop.example/late"


def test_call_after_the_match_window_is_none(app, client, new_site):
    setup = new_site(numbers=1, lease_seconds=60, match_window=300)
    with app.app_context():
        lease = get_pools().lease(
            setup.pool.id,
            "long-gone-session-0001",
            numbers=setup.numbers,
            lease_seconds=60,
            history_seconds=7200,
            now=time.time() - 1200,
        )
    ring(client, setup, lease.number)
    run_jobs(app)
    [call] = calls(app)
    assert (call.confidence, call.session_id, call.visit_id) == ("none", None, None)


@pytest.mark.postgres
def test_call_on_a_number_shared_on_exhaustion_is_ambiguous(app, client, new_site):
    setup = new_site(numbers=1, policy="reuse_oldest")
    first = start_visit(client, setup, "https://shop.example/a")
    second = start_visit(client, setup, "https://shop.example/b")
    assert leased(first) == leased(second) == setup.numbers[0]
    ring(client, setup, setup.numbers[0])
    run_jobs(app)
    [call] = calls(app)
    assert call.confidence == "ambiguous"
    assert call.session_id == second["session"]  # the newest lease, flagged as a guess


def test_call_on_a_number_nobody_leased_is_none(app, client, new_site):
    setup = new_site(numbers=2)
    ring(client, setup, setup.numbers[1])
    run_jobs(app)
    [call] = calls(app)
    assert (call.confidence, call.session_id, call.visit_id) == ("none", None, None)
    assert call.tracking_number == setup.numbers[1] and call.pool_id == setup.pool.id
    assert snapshots(app) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("google/organic", ("google", "organic")),
        ("facebook", ("facebook", "(any)")),
        ("*", ("(untracked)", "(none)")),
    ],
)
def test_call_on_a_source_number_is_attributed_to_the_source(
    app, client, new_site, source, expected
):
    [fixed] = tracking_numbers(1, start=900)
    setup = new_site(numbers=1, source_numbers={source: fixed})
    ring(client, setup, fixed)
    run_jobs(app)
    [call] = calls(app)
    assert (call.confidence, (call.source, call.medium)) == ("source", expected)
    assert call.session_id is None and call.forwarded_to == BUSINESS


def test_call_on_the_overflow_number_is_source_level(app, client, new_site):
    [overflow] = tracking_numbers(1, start=950)
    setup = new_site(numbers=1, policy="overflow", overflow=overflow)
    ring(client, setup, overflow)
    run_jobs(app)
    [call] = calls(app)
    assert (call.confidence, call.session_id, call.forwarded_to) == ("source", None, BUSINESS)
    assert (call.source, call.medium) == ("(overflow)", "(none)")


def _r(session: str, start: float, end: float, shared: bool = False) -> LeaseRecord:
    return LeaseRecord(session, start, end, shared)


@pytest.mark.parametrize(
    ("records", "t", "window", "expected"),
    [
        pytest.param([], 100, 3600, ("none", None), id="never-leased"),
        pytest.param([_r("a", 0, 200)], 100, 3600, ("exact", "a"), id="live"),
        pytest.param([_r("a", 100, 200)], 100, 3600, ("exact", "a"), id="at-lease-start"),
        # One boundary rule with lease.lua: at its end a lease has expired.
        pytest.param([_r("a", 0, 100)], 100, 3600, ("late", "a"), id="at-lease-end"),
        # The shared flag alone says nothing: only another visitor who could call does.
        pytest.param([_r("a", 0, 200, True)], 100, 3600, ("exact", "a"), id="flag-alone"),
        pytest.param(
            [_r("a", 0, 200, True), _r("b", 50, 250, True)],
            100,
            3600,
            ("ambiguous", "b", ("b", "a")),
            id="two-live",
        ),
        pytest.param([_r("a", 0, 100)], 1000, 3600, ("late", "a"), id="late"),
        pytest.param([_r("a", 0, 100)], 3699, 3600, ("late", "a"), id="late-before-window-end"),
        pytest.param([_r("a", 0, 100)], 3700, 3600, ("none", None), id="at-window-end"),
        pytest.param(
            [_r("a", 0, 100), _r("b", 200, 300)],
            400,
            3600,
            ("ambiguous", "b", ("b", "a")),
            id="two-could-call-late",
        ),
        pytest.param(
            [_r("a", 0, 100), _r("b", 200, 300)],
            250,
            3600,
            ("ambiguous", "b", ("b", "a")),
            id="re-leased-within-the-window",
        ),
        pytest.param(
            [_r("a", 0, 100), _r("b", 4000, 4100)],
            4050,
            3600,
            ("exact", "b"),
            id="re-leased-after-the-rest",
        ),
        pytest.param(
            # The job ran late: the number was leased again after the call.
            [_r("a", 0, 100), _r("b", 200, 300)],
            150,
            3600,
            ("late", "a"),
            id="leased-again-after-the-call",
        ),
        pytest.param([_r("a", 500, 600)], 100, 3600, ("none", None), id="lease-after-call"),
    ],
)
def test_attribute(records, t, window, expected):
    assert attribute(records, t, window) == Attribution(*expected)


# Idempotency and ordering --------------------------------------------------------------


@pytest.mark.postgres
def test_voice_webhook_delivered_twice_makes_one_call(app, client, new_site):
    setup = new_site(numbers=2)
    answer = start_visit(client, setup, "https://shop.example/")
    sid = ring(client, setup, leased(answer))
    ring(client, setup, leased(answer), sid=sid)
    run_jobs(app)
    [call] = calls(app)
    assert (call.call_sid, call.confidence) == (sid, "exact")
    assert len(snapshots(app)) == 1


@pytest.mark.postgres
def test_callbacks_before_the_voice_event_and_late_ringing(app, client, new_site):
    setup = new_site(numbers=2)
    answer = start_visit(client, setup, "https://shop.example/")
    number = leased(answer)
    sid = "CA" + "1" * 32
    # The status callback's job runs first (say the voice job's worker was slow).
    done = callback(client, setup, STATUS, sid, number, CallStatus="completed", CallDuration="42")
    assert done.status_code == 204
    run_jobs(app)
    [call] = calls(app)
    assert (call.status, call.duration_seconds, call.tracking_number) == ("completed", 42, "")

    ring(client, setup, number, sid=sid)
    late = callback(client, setup, STATUS, sid, number, CallStatus="ringing")
    assert late.status_code == 204
    run_jobs(app)
    [call] = calls(app)
    assert (call.status, call.duration_seconds) == ("completed", 42)
    assert (call.tracking_number, call.confidence, call.session_id) == (
        number,
        "exact",
        answer["session"],
    )


@pytest.mark.parametrize(
    ("dial_status", "answered"),
    [("completed", True), ("answered", True), ("no-answer", False), ("busy", False)],
)
def test_dial_callback_says_whether_the_business_answered(
    app, client, new_site, dial_status, answered
):
    setup = new_site(numbers=1)
    sid = ring(client, setup, setup.numbers[0])
    response = callback(
        client,
        setup,
        DIAL,
        sid,
        setup.numbers[0],
        DialCallStatus=dial_status,
        DialCallDuration="31" if answered else "0",
    )
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True).endswith("<Response />")  # hang up after <Dial>
    run_jobs(app)
    [call] = calls(app)
    assert (call.answered, call.dial_status) == (answered, dial_status)
    assert call.talk_seconds == (31 if answered else 0)


@pytest.mark.postgres
def test_recording_callback_fills_the_recording(app, client, new_site):
    setup = new_site(numbers=1, record=True)
    sid = ring(client, setup, setup.numbers[0])
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "2" * 32
    # Twilio's recording callbacks carry no To; the account's token signs them.
    form = {
        "AccountSid": setup.account_sid,
        "CallSid": sid,
        "RecordingSid": "RE" + "2" * 32,
        "RecordingUrl": url,
        "RecordingStatus": "completed",
        "RecordingDuration": "27",
        "RecordingChannels": "2",
    }
    assert twilio_post(client, RECORDING, form, setup.token).status_code == 204
    run_jobs(app)
    [call] = calls(app)
    assert (call.recording_sid, call.recording_url, call.recording_seconds) == (
        "RE" + "2" * 32,
        url,
        27,
    )
    assert call.notice_played is True and call.degraded is False


@pytest.mark.postgres
def test_a_job_run_again_after_it_applied_duplicates_nothing(app, client, new_site):
    setup = new_site(numbers=1)
    answer = start_visit(client, setup, "https://shop.example/")
    sid = ring(client, setup, leased(answer))
    eid = event_id("twilio", sid, "voice", "", setup.agency.id)
    with app.app_context():
        stash = get_queue_redis().get(get_stash().key(eid))
    assert json.loads(stash)["call_sid"] == sid
    run_jobs(app)

    with app.app_context():
        # A worker killed after its commit but before it forgot the stash runs it again.
        # The commit marked it applied: nothing is applied twice.
        get_queue_redis().set(get_stash().key(eid), stash)
        assert apply_event(eid) == "already applied"
        assert not get_stash().exists(eid)
        assert apply_event(eid) == "nothing stashed"
        # Or the same event re-enqueued (a replay of a spool that had it too).
        enqueue(eid, CallEvent.from_dict(json.loads(stash)))
    assert run_jobs(app) == 1
    [call] = calls(app)
    assert (call.call_sid, call.confidence, call.session_id) == (
        sid,
        "exact",
        answer["session"],
    )
    assert len(snapshots(app)) == 1


def test_job_payloads_hold_only_the_event_id(app, client, new_site):
    setup = new_site(numbers=1)
    sid = ring(client, setup, setup.numbers[0])
    assert callback(client, setup, STATUS, sid, setup.numbers[0], CallStatus="completed")
    eid = event_id("twilio", sid, "voice", "", setup.agency.id)
    with app.app_context():
        queue = get_queue()
        assert queue.job_ids == []  # the webhooks stashed the events; the worker makes jobs
        assert move(queue) == 2
        job_ids = queue.job_ids
        assert eid in job_ids and len(job_ids) == 2
        digits = [CALLER[2:], setup.numbers[0][2:], BUSINESS[2:]]
        for job_id in job_ids:
            job = Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)
            assert list(job.args) == [job_id] and job.kwargs == {}
            raw = queue.connection.hgetall(job.key)
            data = zlib.decompress(raw.pop(b"data"))
            assert json.loads(data)[2] == [job_id]
            dump = data + b"".join(k + v for k, v in raw.items())
            for number in digits:
                assert number.encode() not in dump, f"{number} in job {job_id}"


def test_an_unknown_event_kind_fails_its_job_loudly(app):
    with app.app_context():
        # A typed event cannot have an unknown kind; a stash written by something else can.
        bogus = {"provider": "twilio", "kind": "bogus", "call_sid": "CA1", "received_at": 1.0}
        get_queue().enqueue(JOB, "bogus-1", job_id="bogus-1")
        get_queue_redis().set(get_stash().key("bogus-1"), json.dumps(bogus))
    run_jobs(app)
    with app.app_context():
        job = Job.fetch("bogus-1", connection=get_queue().connection, serializer=JSONSerializer)
        assert job.get_status() in ("scheduled", "failed")  # RQ keeps it, with its traceback
        assert get_stash().exists("bogus-1")
    assert calls(app) == []


@pytest.mark.postgres
def test_concurrent_events_of_a_new_call_make_one_record(app, new_site):
    """Workers racing to create the same call: exactly one row, every event applied."""
    setup = new_site(numbers=1)
    sid = "CA" + "3" * 32
    kinds = [
        ("status", {"CallStatus": "completed", "CallDuration": "12"}),
        ("dial", {"DialCallStatus": "completed", "DialCallDuration": "9"}),
        (
            "recording",
            {"RecordingSid": "RE9", "RecordingUrl": "https://x", "RecordingDuration": "8"},
        ),
        ("status", {"CallStatus": "in-progress"}),
    ]
    barrier = threading.Barrier(len(kinds))
    errors: list[BaseException] = []

    def work(kind: str, params: dict) -> None:
        event = {
            "provider": "twilio",
            "kind": kind,
            "call_sid": sid,
            "agency_id": setup.agency.id,
            "received_at": time.time(),
            "params": {"CallSid": sid, **params},
        }
        with app.app_context():
            db = get_db()
            barrier.wait()
            try:
                apply_to_sql(db, CallEvent.from_dict(event), get_pools(), get_visits())
                db.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=work, args=k) for k in kinds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with app.app_context():
        assert get_db().scalar(select(func.count()).select_from(Call)) == 1
    [call] = calls(app)
    assert (call.status, call.duration_seconds, call.answered, call.recording_sid) == (
        "completed",
        12,
        True,
        "RE9",
    )


@pytest.mark.postgres
def test_a_stale_read_cannot_move_the_status_back(app, new_site):
    """Worker A read the call, worker B committed "completed", then A applies "in-progress"."""
    from ringtrail.calls.records import call_for

    agency = new_site(numbers=1).agency.id
    sid = "CA" + "4" * 32

    def event(status: str) -> CallEvent:
        return CallEvent.update(
            "status",
            provider="twilio",
            call_sid=sid,
            received_at=time.time(),
            agency_id=agency,
            status=status,
        )

    with app.app_context():
        call_for(get_db(), agency, "twilio", sid)
        get_db().commit()
    with app.app_context():
        worker_a = get_db()
        seen = call_for(worker_a, agency, "twilio", sid)  # A has read the call, still "ringing"
        assert seen.status == "ringing"
        with app.app_context():
            worker_b = get_db()
            apply_to_sql(worker_b, event("completed"), get_pools(), get_visits())
            worker_b.commit()
        assert apply_to_sql(worker_a, event("in-progress"), get_pools(), get_visits()) is seen
        worker_a.commit()
    [call] = calls(app)
    assert call.status == "completed"


@pytest.mark.postgres
def test_a_job_that_fails_midway_leaves_no_partial_call(app_config, redis_url, redis_client):
    """The lease Redis is down when the voice job attributes the call: nothing is written."""
    import socket

    from ringtrail import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    app = create_app(
        app_config | {"QUEUE_REDIS_URL": redis_url, "REDIS_URL": f"redis://127.0.0.1:{closed}/0"}
    )
    try:
        with app.app_context():
            setup = make_site(get_db(), numbers=1)
        sid = ring(app.test_client(), setup, setup.numbers[0])
        assert run_jobs(app) == 1
        eid = event_id("twilio", sid, "voice", "", setup.agency.id)
        with app.app_context():
            job = Job.fetch(eid, connection=get_queue().connection, serializer=JSONSerializer)
            assert job.get_status() == "scheduled"  # to be retried
            assert get_stash().exists(eid)
        assert calls(app) == []
    finally:
        app.extensions["ringtrail"]["engine"].dispose()


def test_a_redelivered_voice_webhook_keeps_the_first_arrival_time(app, client, db, redis_client):
    """Twilio may deliver the voice webhook again; attribution uses the first arrival."""
    import time as clock

    from ringtrail.storage.models import Call
    from ringtrail.tracking.pool import PoolStore
    from tests.helpers import call_params, make_site, run_jobs, twilio_post

    setup = make_site(db, numbers=1, lease_seconds=60, match_window=5)
    store = PoolStore(redis_client)
    now = clock.time()
    store.lease(setup.pool.id, "visitor-1", numbers=setup.numbers, lease_seconds=60, now=now - 30)
    params = call_params(setup, setup.numbers[0])
    assert twilio_post(client, "/telephony/twilio/voice", params, setup.token).status_code == 200
    run_jobs(app)
    # The lease ends and the match window passes; then the same webhook comes again.
    store.lease(setup.pool.id, "visitor-2", numbers=setup.numbers, lease_seconds=1, now=now + 100)
    key = EventStash.PREFIX + event_id("twilio", params["CallSid"], "voice", "", setup.agency.id)
    assert twilio_post(client, "/telephony/twilio/voice", params, setup.token).status_code == 200
    import json

    stashed = json.loads(redis_client.get(key))
    stashed["received_at"] = now + 200  # as if it arrived long after the first
    redis_client.set(key, json.dumps(stashed))
    run_jobs(app)
    db.expire_all()
    from sqlalchemy import select

    (call,) = db.scalars(select(Call)).all()
    assert (call.confidence, call.session_id) == ("exact", "visitor-1")


def test_events_stashed_before_agencies_find_their_call(app, client, new_site):
    """An event queued by a release before 0.3 names no agency: a voice event takes its
    route's client's agency; a later event the one call with its id, or none if two
    agencies have it (never a guess)."""
    setup = new_site(numbers=1)
    other = new_site(numbers=1, number_start=50)
    sid = ring(client, setup, setup.numbers[0])
    run_jobs(app)
    old = {"provider": "twilio", "kind": "status", "call_sid": sid, "received_at": time.time()}
    with app.app_context():
        db = get_db()
        call = apply_to_sql(
            db,
            CallEvent.from_dict(old | {"params": {"CallStatus": "completed"}}),
            get_pools(),
            get_visits(),
        )
        db.commit()
        assert (call.agency_id, call.status) == (setup.agency.id, "completed")
    # Another agency's own call with the same id: an old event can no longer tell them apart.
    assert ring(client, other, other.numbers[0], sid=sid) == sid
    run_jobs(app)
    with app.app_context():
        db = get_db()
        late = CallEvent.from_dict(old | {"params": {"CallDuration": "9"}})
        assert apply_to_sql(db, late, get_pools(), get_visits()) is None
        db.rollback()
    assert sorted((c.agency_id, c.duration_seconds) for c in calls(app)) == sorted(
        [(setup.agency.id, None), (other.agency.id, None)]
    )


# The spool as a write-ahead log -----------------------------------------------------------


def _spooled(app) -> list[str]:
    import os

    folder = app.config["SPOOL_DIR"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_an_answered_event_is_on_disk_until_its_record_is_committed(app, client, new_site):
    from ringtrail.storage.models import AppliedEvent

    setup = new_site(numbers=1)
    answer = start_visit(client, setup, "https://shop.example/")
    sid = ring(client, setup, leased(answer))  # queued: Redis is up
    eid = event_id("twilio", sid, "voice", "", setup.agency.id)
    assert _spooled(app) == [f"{eid}.json"]  # ... and on disk all the same
    with app.app_context():
        assert replay() == 0  # the queue holds it: nothing to queue again
    run_jobs(app)
    assert _spooled(app) == []  # committed: the job let it go
    with app.app_context():
        assert get_db().get(AppliedEvent, eid) is not None


def test_replay_queues_again_what_a_crashed_redis_lost_and_forgets_what_is_committed(
    app, client, new_site, redis_client
):
    setup = new_site(numbers=2)
    first = start_visit(client, setup, "https://shop.example/")
    lost_sid = ring(client, setup, leased(first))
    with app.app_context():  # what kill -9 of a Redis without its last second does
        queue = get_queue()
        queue.connection.delete(
            queue.key,
            INBOX,
            get_stash().key(event_id("twilio", lost_sid, "voice", "", setup.agency.id)),
        )
        assert queue.count == 0
        assert replay(grace=60) == 0  # too young: its webhook may be at work still
        assert replay() == 1
        assert replay() == 0  # queued once
    assert run_jobs(app) == 1
    [call] = calls(app)
    assert (call.call_sid, call.confidence, call.session_id) == (
        lost_sid,
        "exact",
        first["session"],
    )
    assert _spooled(app) == []


def test_jobs_that_waited_for_the_database_run_as_soon_as_it_answers(app, client, new_site):
    from datetime import UTC, datetime

    from rq.registry import ScheduledJobRegistry

    from ringtrail.calls.intake import WAITING, resume_waiting
    from tests.helpers import database_down

    setup = new_site(numbers=1)
    answer = start_visit(client, setup, "https://shop.example/")
    with database_down(app):
        sid = ring(client, setup, leased(answer))
        run_jobs(app)  # fails: no database
        eid = event_id("twilio", sid, "voice", "", setup.agency.id)
        with app.app_context():
            queue = get_queue()
            registry = ScheduledJobRegistry(queue=queue)
            assert queue.connection.smembers(WAITING) == {eid.encode()}
            assert resume_waiting() == 0  # still down: it waits for its retry
    with app.app_context():
        assert resume_waiting() == 1
        due = registry.get_scheduled_time(eid)
        assert due <= datetime.now(UTC)  # not after its retry delay: now
        assert queue.connection.smembers(WAITING) == set()


# One clock ------------------------------------------------------------------------------


class _Skewed:
    """A web node's clock, ``offset`` seconds off; everything else of ``time`` as is."""

    def __init__(self, offset: float):
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name):
        return getattr(time, name)


def _redis_now(app) -> float:
    with app.app_context():
        seconds, micros = get_queue_redis().time()
    return seconds + micros / 1e6


@pytest.mark.parametrize("offset", [-3600, 3600])
def test_a_web_node_with_a_wrong_clock_changes_nothing(app, client, new_site, monkeypatch, offset):
    """Leases and the call's arrival are read on Redis's clock: a node an hour off still
    gives an exact call."""
    import ringtrail.telephony.webhooks as webhooks
    import ringtrail.tracking.sessions as sessions

    setup = new_site(numbers=2, lease_seconds=60, match_window=60)
    monkeypatch.setattr(sessions, "time", _Skewed(offset))
    monkeypatch.setattr(webhooks, "time", _Skewed(-offset))
    answer = start_visit(client, setup, "https://shop.example/")
    before = _redis_now(app)
    ring(client, setup, leased(answer))
    after = _redis_now(app)
    run_jobs(app)
    [call] = calls(app)
    assert (call.confidence, call.session_id) == ("exact", answer["session"])
    assert before - 0.01 <= call.started_at.timestamp() <= after + 0.01
    with app.app_context():
        [record] = get_pools().records(setup.pool.id, leased(answer))
    assert before - 5 <= record.start <= after


def test_the_stash_stamps_redis_time_and_a_replay_keeps_the_nodes_clock(app, new_site):
    setup = new_site(numbers=1)
    with app.app_context():
        event = CallEvent.voice(
            provider="twilio",
            call_sid="CA-clock-1",
            received_at=1_000.0,
            to=setup.numbers[0],
            caller=CALLER,
            route=None,
            hipaa=False,
            agency_id=setup.agency.id,
        )
    with app.app_context():
        before = _redis_now(app)
        enqueue("e1", event)
        stamped = get_stash().get("e1")
        enqueue("e2", event, stamp=False)  # a replay from the spool
        replayed = get_stash().get("e2")
    assert before <= stamped.clock <= _redis_now(app)
    assert stamped.received_at == 1_000.0
    assert replayed.clock is None and replayed.received_at == 1_000.0


def test_a_queue_redis_that_fsyncs_every_write_holds_the_event_instead_of_the_spool(
    app, client, new_site, redis_client
):
    setup = new_site(numbers=1)
    before = redis_client.config_get("append*")
    redis_client.config_set("appendonly", "yes")
    redis_client.config_set("appendfsync", "always")
    try:
        sid = ring(client, setup, setup.numbers[0])
        eid = event_id("twilio", sid, "voice", "", setup.agency.id)
        assert _spooled(app) == []  # committed by Redis before it answered
        with app.app_context():
            assert get_stash().exists(eid)
            assert get_queue_redis().lrange(INBOX, 0, -1) == [eid]
            assert replay() == 0
    finally:
        redis_client.config_set("appendfsync", before["appendfsync"])
        redis_client.config_set("appendonly", before["appendonly"])
    assert run_jobs(app) == 1
    [call] = calls(app)
    assert call.call_sid == sid
