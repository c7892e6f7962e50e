"""No call record is lost, and none is duplicated, whatever is killed: Redis (kill -9),
the worker (SIGKILL), a connection (blackholed), the database (stopped). Real processes,
real stores, exact row counts; every record must be complete (client, route,
attribution) within 60 s of the fault clearing, with no further traffic."""

from __future__ import annotations

import itertools
import json
import os
import time
import urllib.request
from urllib.parse import urlencode

import pytest
import redis as redis_lib
from sqlalchemy import func, select, text

from ringtrail import create_app
from ringtrail.calls.intake import INBOX, replay
from ringtrail.storage.clients import get_queue, get_queue_redis, get_redis
from ringtrail.storage.embedded import EmbeddedRedis
from ringtrail.storage.models import AppliedEvent, Base, Call
from ringtrail.storage.sql import get_db
from tests.faults import Process, Proxy, RedisServer, wait_for
from tests.helpers import (
    BUSINESS,
    HUMAN_UA,
    ORIGIN,
    call_params,
    cli_env,
    free_port,
    make_site,
    run_jobs,
    sign,
    twilio_post,
)

pytestmark = pytest.mark.slow

VOICE = "/telephony/twilio/voice"
RECOVERY = 60  # seconds from the fault clearing to every record complete


@pytest.fixture
def apps(app_config, redis_client):
    made = []

    def make(**overrides):
        # A real cache, as in production: the routing table is not reread per request.
        application = create_app(app_config | {"CACHE_SECONDS": 30} | overrides)
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["ringtrail"]["engine"].dispose()


VISITORS = itertools.count(1)


def visit(client, setup) -> tuple[str, str]:
    """A visitor, each from an address of its own (the per-client limit stays on),
    leases a number: (session, number). Until the pool is synced to Redis (in the
    background, never in a request: first use, a Redis that came back empty) a visitor
    is shown the business number, so the visitor comes back until a number is leased."""
    deadline = time.monotonic() + 10
    while True:
        n = next(VISITORS)
        response = client.post(
            "/v1/sessions",
            data=json.dumps({"site": setup.site_key, "url": "https://shop.example/quote"}),
            content_type="text/plain",
            headers={"User-Agent": HUMAN_UA, "Origin": ORIGIN},
            environ_base={"REMOTE_ADDR": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        answer = response.get_json()
        if BUSINESS in answer["numbers"]:
            return answer["session"], answer["numbers"][BUSINESS]["e164"]
        assert time.monotonic() < deadline, f"no lease in 10 s: {answer}"
        time.sleep(0.05)


def ring(client, setup, number: str) -> str:
    """A signed voice webhook; the call is forwarded; returns its sid."""
    params = call_params(setup, number)
    response = twilio_post(client, VOICE, params, setup.token)
    assert response.status_code == 200 and "<Dial" in response.get_data(as_text=True)
    return params["CallSid"]


def records(app) -> list[Call]:
    with app.app_context():
        db = get_db()
        try:
            return list(db.scalars(select(Call).order_by(Call.id)))
        finally:
            db.close()


def complete(call: Call, setup, sessions: dict[str, str]) -> bool:
    """Client, route and attribution are all there, and the visit is the caller's."""
    return (
        call.client_id == setup.client.id
        and call.pool_id == setup.pool.id
        and call.route_kind == "normal"
        and call.confidence == "exact"
        and call.session_id == sessions[call.tracking_number]
    )


def assert_exactly(app, setup, sids: list[str], sessions: dict[str, str]) -> None:
    rows = records(app)
    assert len(rows) == len(sids), f"{len(rows)} records for {len(sids)} calls"
    assert sorted(c.call_sid for c in rows) == sorted(sids)  # none lost, none twice
    incomplete = [c.call_sid for c in rows if not complete(c, setup, sessions)]
    assert incomplete == []


def worker_env(app_config, **extra: str) -> dict[str, str]:
    return (
        dict(os.environ)
        | cli_env(app_config)
        | {"RINGTRAIL_SPOOL_DIR": app_config["SPOOL_DIR"]}
        | {f"RINGTRAIL_{k}": v for k, v in extra.items()}
    )


def warm(app) -> None:
    """Drop the connections a killed Redis left in the pools (the first use fails)."""
    with app.app_context():
        for client in (get_redis(), get_queue_redis(), get_queue().connection):
            for _ in range(3):
                try:
                    client.ping()
                    break
                except Exception:
                    time.sleep(0.1)


# Redis killed (kill -9) in the middle of leases and calls -------------------------------


@pytest.mark.parametrize("kind", ["embedded", "external", "external-fsync-always"])
def test_redis_killed_mid_burst_loses_no_lease_and_no_call(apps, app_config, tmp_path, kind):
    """With ``appendfsync always`` the answered events are in Redis's AOF, not the spool:
    killed right after the answers, Redis still has every one when it comes back."""
    if kind == "embedded":
        server = EmbeddedRedis(str(tmp_path / "redis"))
        url = server.start()
    else:
        fsync = "always" if kind == "external-fsync-always" else "everysec"
        server = RedisServer(tmp_path, aof=True, fsync=fsync)  # as in docker-compose.yml
        server.start()
        url = server.url
    try:
        app = apps(REDIS_URL=url)
        client = app.test_client()
        with app.app_context():
            setup = make_site(get_db(), numbers=600, lease_seconds=1800)
        sessions: dict[str, str] = {}
        before = [visit(client, setup) for _ in range(250)]
        sessions.update({number: session for session, number in before})
        numbers = [number for _, number in before]
        sids = [ring(client, setup, n) for n in numbers[:50]]
        time.sleep(1.5)  # AOF everysec: leases older than a second are on disk
        sids += [ring(client, setup, n) for n in numbers[50:60]]  # the last second
        if kind == "external-fsync-always":
            spool = app_config["SPOOL_DIR"]
            assert not os.path.isdir(spool) or os.listdir(spool) == []  # in the AOF instead
        if kind == "embedded":
            server.proc.kill()
            server.proc.wait(10)
        else:
            server.kill()
        sids += [ring(client, setup, n) for n in numbers[60:65]]  # Redis is down: spooled
        if kind == "embedded":
            assert server.ensure()  # what `ringtrail demo` and `serve` do every half second
        else:
            server.start()
        warm(app)
        after = [visit(client, setup) for _ in range(250)]
        sessions.update({number: session for session, number in after})
        # No visitor after the crash is handed a number still on a visitor's screen.
        assert len({n for _, n in before} | {n for _, n in after}) == 500
        sids += [ring(client, setup, n) for _, n in after[:35]]

        with app.app_context():
            replay()  # the spool's replayer, as web processes and the worker run it
        while run_jobs(app):
            pass
        assert_exactly(app, setup, sids, sessions)
        assert len(sids) == 100
    finally:
        server.stop() if kind == "embedded" else server.close()


# The worker killed with SIGKILL, five times, during 200 calls ----------------------------


def test_a_worker_killed_five_times_during_200_calls_loses_and_duplicates_nothing(
    apps, app_config, tmp_path
):
    app = apps()
    client = app.test_client()
    with app.app_context():
        setup = make_site(get_db(), numbers=200, lease_seconds=1800)
    leased = [visit(client, setup) for _ in range(200)]
    sessions = {number: session for session, number in leased}
    assert len(sessions) == 200
    worker = Process(["worker"], worker_env(app_config), tmp_path / "worker.log")
    worker.start()
    sids = []
    try:
        with app.app_context():
            queue = get_queue()
        for burst in range(5):
            sids += [ring(client, setup, number) for _, number in leased[burst * 40 :][:40]]
            # Kill it in the middle of the burst, while it applies one call after another.
            wait_for(
                lambda: queue.count + queue.connection.llen(INBOX) <= 30, 30, "the worker at work"
            )
            worker.kill()
            worker.start()
        took = wait_for(
            lambda: len([c for c in records(app) if complete(c, setup, sessions)]) == 200,
            RECOVERY,
            "200 complete records",
            every=0.5,
        )
        print(f"all 200 records complete {took:.1f} s after the last kill")
    finally:
        worker.stop()
    assert_exactly(app, setup, sids, sessions)
    with app.app_context():
        db = get_db()
        assert db.scalar(select(func.count()).select_from(AppliedEvent)) == 200
    assert os.listdir(app_config["SPOOL_DIR"]) == []  # the write-ahead log let them all go
    # At least one kill caught a job half done, and it was applied again, once.
    assert "left by a dead worker" in worker.output()


# A half-open (blackholed) connection between the worker and Redis -----------------------


def test_a_blackholed_queue_connection_is_noticed_in_seconds(apps, app_config, tmp_path):
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    proxy = Proxy(redis_server.port)
    app = apps(REDIS_URL=redis_server.url)
    client = app.test_client()
    with app.app_context():
        setup = make_site(get_db(), numbers=10, lease_seconds=1800)
    leased = [visit(client, setup) for _ in range(6)]
    sessions = {number: session for session, number in leased}
    env = worker_env(
        app_config,
        REDIS_URL=redis_server.url,
        QUEUE_REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0",
    )
    worker = Process(["worker"], env, tmp_path / "worker.log")
    worker.start()
    try:
        sids = [ring(client, setup, leased[0][1])]
        wait_for(lambda: len(records(app)) == 1, 30, "the first record")
        time.sleep(1)  # the worker is back in its wait for jobs
        proxy.blackhole()  # its connections go silent: no reset, no answer
        sids += [ring(client, setup, number) for _, number in leased[1:]]
        took = wait_for(lambda: len(records(app)) == 6, RECOVERY, "records after the blackhole")
        print(f"blackholed connection noticed and 5 records applied in {took:.1f} s")
        assert took < 30  # RQ's own socket timeout would have held it for 415 s
    finally:
        worker.stop()
        proxy.close()
        redis_server.close()
    assert_exactly(app, setup, sids, sessions)


# The database stopped ------------------------------------------------------------------

OUTAGE = 15  # seconds; see the docstring


@pytest.fixture
def pg_url(pg_schema):
    from tests.conftest import PG_URL

    yield PG_URL
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with pg_schema.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def test_a_stopped_database_loses_no_call_and_every_record_is_complete_soon_after(
    apps, app_config, tmp_path, pg_url
):
    """The outage is 15 s here, not 40: jobs that failed for want of the database are
    run again as soon as it answers (``intake.resume_waiting``), whatever their retry
    delay says, so the time to recover does not depend on how long it was away."""
    from sqlalchemy.engine import make_url

    real = make_url(pg_url)
    proxy = Proxy(real.port or 5432)
    through = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = apps(DATABASE_URL=through)
    client = app.test_client()
    with app.app_context():
        setup = make_site(get_db(), numbers=40, lease_seconds=1800)
    leased = [visit(client, setup) for _ in range(40)]
    sessions = {number: session for session, number in leased}
    worker = Process(
        ["worker"], worker_env(app_config, DATABASE_URL=through), tmp_path / "worker.log"
    )
    worker.start()
    try:
        sids = [ring(client, setup, number) for _, number in leased[:20]]
        wait_for(lambda: len(records(app)) == 20, 30, "20 records before the outage")
        proxy.refuse()  # the database is gone: every connection reset, none accepted
        started = time.monotonic()
        sids += [ring(client, setup, number) for _, number in leased[20:]]
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - started)))
        proxy.resume()
        took = wait_for(
            lambda: len([c for c in records(app) if complete(c, setup, sessions)]) == 40,
            RECOVERY,
            "40 complete records after the database came back",
            every=0.5,
        )
        print(f"every record complete {took:.1f} s after the database came back")
    finally:
        worker.stop()
        proxy.close()
    verify = apps(DATABASE_URL=pg_url)
    assert_exactly(verify, setup, sids, sessions)


# The spool is replayed without traffic --------------------------------------------------


def test_spooled_calls_are_queued_within_30_s_without_traffic(app, app_config, tmp_path):
    """A real ``ringtrail serve``: Redis goes away, 20 calls are spooled, Redis comes
    back, and nobody calls again."""
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    with app.app_context():
        setup = make_site(get_db(), numbers=20)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = worker_env(
        app_config,
        REDIS_URL=redis_server.url,
        PUBLIC_URL=base,
        BIND=f"127.0.0.1:{port}",
        WORKERS="2",
        THREADS="2",
    )
    serve = Process(["serve"], env, tmp_path / "serve.log")
    serve.start()
    try:
        wait_for(lambda: _answers(f"{base}/healthz"), 30, "ringtrail serve")
        redis_server.stop()
        for number in setup.numbers:
            params = call_params(setup, number)
            body = urlencode(params).encode()
            request = urllib.request.Request(
                f"{base}{VOICE}",
                data=body,
                headers={"X-Twilio-Signature": sign(f"{base}{VOICE}", params, setup.token)},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200 and b"<Dial" in response.read()
        assert len(os.listdir(app_config["SPOOL_DIR"])) == 20
        redis_server.start()  # empty: it kept nothing
        queue = redis_lib.Redis(port=redis_server.port)
        took = wait_for(lambda: queue.llen(INBOX) == 20, 30, "20 spooled calls queued")
        print(f"20 spooled calls queued {took:.1f} s after Redis came back")
        queue.close()
    finally:
        serve.stop()
        redis_server.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


# A web process killed (SIGKILL) in the middle of calls ----------------------------------


def test_a_web_process_killed_mid_burst_loses_no_answered_call(apps, app_config, tmp_path):
    """Calls answered before the kill are kept (spool and queue); a call whose webhook
    died unanswered is delivered again, as Twilio retries, and recorded once."""
    import signal
    import threading

    from tests.faults import children

    app = apps()
    client = app.test_client()
    with app.app_context():
        setup = make_site(get_db(), numbers=100, lease_seconds=1800)
    leased = [visit(client, setup) for _ in range(100)]
    sessions = {number: session for session, number in leased}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = worker_env(
        app_config, PUBLIC_URL=base, BIND=f"127.0.0.1:{port}", WORKERS="2", THREADS="2"
    )
    serve = Process(["serve"], env, tmp_path / "serve.log")
    worker = Process(["worker"], env, tmp_path / "worker.log")
    serve.start()
    worker.start()
    params = [call_params(setup, number) for _, number in leased]

    def post(p: dict) -> bool:
        url = f"{base}{VOICE}"
        request = urllib.request.Request(
            url,
            data=urlencode(p).encode(),
            headers={"X-Twilio-Signature": sign(url, p, setup.token)},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status == 200 and b"<Dial" in response.read()
        except OSError:
            return False  # died unanswered: the carrier tries again

    try:
        wait_for(lambda: _answers(f"{base}/healthz"), 30, "ringtrail serve")
        answered: dict[str, bool] = {}
        lock = threading.Lock()

        def caller(batch: list[dict]) -> None:
            for p in batch:
                ok = post(p)
                with lock:
                    answered[p["CallSid"]] = ok

        threads = [threading.Thread(target=caller, args=(params[k::4],)) for k in range(4)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(answered) >= 30, 30, "calls under way")
        [master] = [pid for pid, cmd in children(serve.proc.pid).items() if "gunicorn" in cmd]
        victim = min(children(master))
        os.kill(victim, signal.SIGKILL)
        for thread in threads:
            thread.join(60)
        retried = [p for p in params if not answered[p["CallSid"]]]
        print(f"{len(retried)} calls died unanswered with the web process and were retried")
        for p in retried:
            assert wait_for(lambda p=p: post(p), 30, "a retried call answered") >= 0
        took = wait_for(
            lambda: len([c for c in records(app) if complete(c, setup, sessions)]) == 100,
            RECOVERY,
            "100 complete records",
            every=0.5,
        )
        print(f"every record complete {took:.1f} s after the last call")
    finally:
        worker.stop()
        serve.stop()
    assert_exactly(app, setup, [p["CallSid"] for p in params], sessions)
