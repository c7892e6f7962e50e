"""/healthz, /readyz and /metrics: on real Redis servers that are stopped and frozen, a
database that is away or hangs, the real queue and the real carrier stand-in."""

from __future__ import annotations

import json
import re
import time

import pytest
import redis as redis_lib
from rq.job import Job

from ringtrail import create_app
from ringtrail.storage.clients import get_queue
from ringtrail.storage.sql import get_db
from ringtrail.telephony import carrier
from tests.faults import RedisServer
from tests.helpers import (
    HUMAN_UA,
    ORIGIN,
    call_params,
    database_down,
    make_site,
    run_jobs,
    twilio_post,
)

TOKEN = "metrics-token-" + "x" * 32
QUICK = 2.0  # seconds: a hung store makes /readyz answer "not ready" within this


@pytest.fixture
def stores(tmp_path):
    """Two redis-servers of the test's own: leases and queues."""
    servers = {}
    for name in ("leases", "queues"):
        (tmp_path / name).mkdir()
        servers[name] = RedisServer(tmp_path / name)
        servers[name].start()
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture
def own_app(app_config, stores):
    """The app on the test's own two Redis servers, with metrics on."""
    application = create_app(
        app_config
        | {
            "REDIS_URL": stores["leases"].url,
            "QUEUE_REDIS_URL": stores["queues"].url,
            "METRICS_TOKEN": TOKEN,
        }
    )
    yield application
    application.extensions["ringtrail"]["engine"].dispose()


def ready(client) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = client.get("/readyz")
    return response.status_code, response.get_json(), time.monotonic() - started


def scrape(client) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def value(text: str, name: str, **labels: str) -> float:
    """One sample's value from the exposition text (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


# /healthz and /readyz -----------------------------------------------------------------


def test_healthz_is_alive_even_with_the_stores_away(own_app, stores):
    stores["leases"].stop()
    stores["queues"].stop()
    response = own_app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


@pytest.mark.postgres
def test_readyz_is_ready_when_every_store_answers(own_app):
    status, body, _ = ready(own_app.test_client())
    assert status == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"sql", "leases", "queue_redis", "queue"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["queue"]["depth"] == 0
    assert body["checks"]["queue"]["inbox"] == 0
    assert body["spooled"] == 0


@pytest.mark.parametrize(("server", "check"), [("leases", "leases"), ("queues", "queue_redis")])
@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_readyz_names_the_redis_that_does_not_answer_quickly(own_app, stores, server, check, fault):
    client = own_app.test_client()
    assert ready(client)[0] == 200
    (stores[server].stop if fault == "stopped" else stores[server].freeze)()
    status, body, took = ready(client)
    assert status == 503 and body["status"] == "not ready"
    assert took < QUICK, f"/readyz took {took:.2f} s"
    assert body["checks"][check]["ok"] is False
    assert body["checks"][check]["reason"]
    if server == "queues":
        assert body["checks"]["queue"]["ok"] is False  # the queue lives there
    else:
        assert body["checks"]["queue_redis"]["ok"] and body["checks"]["queue"]["ok"]
    assert body["checks"]["sql"]["ok"]
    # Nothing about where the stores are: no host, no port, no URL.
    raw = json.dumps(body)
    assert "127.0.0.1" not in raw and str(stores[server].port) not in raw and "redis://" not in raw
    stores[server].thaw() if fault == "frozen" else stores[server].start()


@pytest.mark.postgres
def test_readyz_names_a_database_that_is_away(own_app):
    client = own_app.test_client()
    with database_down(own_app):
        status, body, took = ready(client)
    assert status == 503 and took < QUICK
    assert body["checks"]["sql"]["ok"] is False and body["checks"]["sql"]["reason"]
    assert body["checks"]["leases"]["ok"] and body["checks"]["queue"]["ok"]
    assert "postgres" not in json.dumps(body).lower().replace('"sql"', "")


def test_readyz_does_not_wait_for_a_database_that_hangs(own_app, stores, tmp_path):
    """A server that accepts connections and never answers (a frozen redis-server
    standing in for a hung PostgreSQL): libpq would wait 2 s at least."""
    (tmp_path / "silent").mkdir()
    silent = RedisServer(tmp_path / "silent")
    silent.start()
    silent.freeze()
    state = own_app.extensions["ringtrail"]
    from ringtrail.storage.sql import make_engine

    hung = make_engine(f"postgresql://postgres@127.0.0.1:{silent.port}/ringtrail", 1.0)
    engine, state["engine"] = state["engine"], hung
    try:
        status, body, took = ready(own_app.test_client())
    finally:
        state["engine"] = engine
        silent.close()
        hung.dispose()
    assert status == 503 and took < QUICK, took
    assert body["checks"]["sql"] == {"ok": False, "seconds": 1.0, "reason": "no answer within 1 s"}


def test_readyz_counts_the_spooled_events(own_app, stores):
    """An event that could not be queued waits in the spool, and /readyz says so."""
    with own_app.app_context():
        setup = make_site(get_db(), numbers=1)
    client = own_app.test_client()
    stores["queues"].stop()
    response = twilio_post(
        client, "/telephony/twilio/voice", call_params(setup, setup.numbers[0]), setup.token
    )
    assert response.status_code == 200 and "<Dial" in response.get_data(as_text=True)
    _, body, _ = ready(client)
    assert body["spooled"] == 1


# /metrics -------------------------------------------------------------------------------


def test_metrics_are_off_by_default(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "]
)
def test_metrics_need_the_token(own_app, header):
    headers = {"Authorization": header} if header else {}
    response = own_app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert "ringtrail_" not in response.get_data(as_text=True)


def start_visit(client, setup) -> dict:
    response = client.post(
        "/v1/sessions",
        data=json.dumps({"site": setup.site_key, "url": "https://shop.example/"}),
        content_type="text/plain",
        headers={"User-Agent": HUMAN_UA, "Origin": ORIGIN},
    )
    assert response.status_code == 200
    return response.get_json()


def test_pool_figures_move_with_leases_and_exhaustions(own_app):
    with own_app.app_context():
        full = make_site(get_db(), numbers=1, policy="original")
        roomy = make_site(get_db(), numbers=3, number_start=10)
    client = own_app.test_client()
    for setup, visits in ((full, 3), (roomy, 2)):
        for _ in range(visits):
            start_visit(client, setup)
    text = scrape(client)
    full_id, roomy_id = str(full.pool.id), str(roomy.pool.id)
    assert value(text, "ringtrail_pool_leases_total", pool=full_id) == 1
    assert value(text, "ringtrail_pool_exhaustions_total", pool=full_id) == 2
    assert value(text, "ringtrail_pool_overflow_total", pool=full_id) == 2
    assert value(text, "ringtrail_pool_shared_total", pool=full_id) == 0
    assert value(text, "ringtrail_pool_leases_total", pool=roomy_id) == 2
    assert value(text, "ringtrail_pool_exhaustions_total", pool=roomy_id) == 0
    # Labels are pool ids: no number, no name.
    assert "+1" not in text and "Agency" not in text


def test_degraded_answers_spool_and_latency_are_counted(own_app, stores):
    with own_app.app_context():
        setup = make_site(get_db(), numbers=1)
    client = own_app.test_client()
    before = scrape(client)
    answered = value(before, "ringtrail_voice_webhook_seconds_count")
    degraded = value(before, "ringtrail_degraded_answers_total", reason="not_queued")
    params = call_params(setup, setup.numbers[0])
    assert twilio_post(client, "/telephony/twilio/voice", params, setup.token).status_code == 200
    stores["queues"].stop()  # the next call cannot be queued: forwarded unrecorded, spooled
    params = call_params(setup, setup.numbers[0])
    assert twilio_post(client, "/telephony/twilio/voice", params, setup.token).status_code == 200
    during = scrape(client)
    assert value(during, "ringtrail_voice_webhook_seconds_count") == answered + 2
    assert value(during, "ringtrail_degraded_answers_total", reason="not_queued") == degraded + 1
    assert value(during, "ringtrail_spool_backlog") == 2  # the record of each call waits
    assert "ringtrail_queue_depth" not in during  # the queue's figures are left out, not 500
    stores["queues"].start()
    after = scrape(client)
    assert value(after, "ringtrail_queue_depth") == 0  # a fresh, empty queue Redis
    fallbacks = value(after, "ringtrail_degraded_answers_total", reason="fallback")
    twilio_post(client, "/telephony/twilio/fallback", params, setup.token)
    assert (
        value(scrape(client), "ringtrail_degraded_answers_total", reason="fallback")
        == fallbacks + 1
    )


def test_queue_depth_and_failed_jobs_are_counted(own_app):
    client = own_app.test_client()
    with own_app.app_context():
        queue = get_queue()
        job = Job.create(
            "ringtrail.no_such_module.job", connection=queue.connection, serializer=queue.serializer
        )
        queue.enqueue_job(job)
    text = scrape(client)
    assert value(text, "ringtrail_queue_depth") == 1
    assert value(text, "ringtrail_failed_jobs") == 0
    run_jobs(own_app)
    text = scrape(client)
    assert value(text, "ringtrail_queue_depth") == 0
    assert value(text, "ringtrail_failed_jobs") == 1


def test_call_events_waiting_for_their_jobs_are_counted(own_app):
    from ringtrail.calls.events import CallEvent
    from ringtrail.calls.intake import enqueue

    client = own_app.test_client()
    event = CallEvent.update(
        "status", provider="twilio", call_sid="CA1", received_at=1.0, agency_id=1, status="busy"
    )
    with own_app.app_context():
        enqueue("status-1", event)
        enqueue("status-2", event)
    text = scrape(client)
    assert value(text, "ringtrail_intake_backlog") == 2  # no worker has made their jobs
    assert value(text, "ringtrail_queue_depth") == 0
    run_jobs(own_app)  # makes the jobs, as the worker does, and runs them
    assert value(scrape(client), "ringtrail_intake_backlog") == 0


def test_carrier_errors_are_counted_by_kind(own_app, stand_in):
    own_app.config["TWILIO_API_URL"] = stand_in.url
    with own_app.app_context():
        setup = make_site(get_db(), numbers=1)
        stand_in.accounts[setup.account_sid] = setup.token
        stand_in.fail_with = 500
        with pytest.raises(carrier.CarrierError):
            carrier.delete_recording(setup.agency, "RE" + "0" * 32)
        stand_in.fail_with = 429
        with pytest.raises(carrier.CarrierError):
            carrier.delete_recording(setup.agency, "RE" + "1" * 32)
    text = scrape(own_app.test_client())
    assert value(text, "ringtrail_carrier_errors_total", kind="server") == 1
    assert value(text, "ringtrail_carrier_errors_total", kind="rate_limited") == 1


def test_count_carrier_error_never_fails_its_caller(own_app, stores):
    from ringtrail.storage.metrics import count_carrier_error

    count_carrier_error("auth")  # no app context: only logged
    stores["queues"].stop()
    with own_app.app_context():
        count_carrier_error("Not A Kind!")  # the queue Redis away: only logged
    stores["queues"].start()
    with own_app.app_context():
        count_carrier_error("Not A Kind!")
    assert value(scrape(own_app.test_client()), "ringtrail_carrier_errors_total", kind="other") == 1


# Several gunicorn workers, one scrape ------------------------------------------------

SUMMED = """
import os, sys
from ringtrail.storage import metrics
for _ in range(2):  # two workers, each counting on its own
    pid = os.fork()
    if pid == 0:
        for _ in range(3):
            metrics.observe_voice(0.02)
        metrics.count_degraded("not_queued")
        os._exit(0)
    os.waitpid(pid, 0)
from ringtrail import create_app
app = create_app({"TESTING": True, "SECRET_KEY": "t", "INSTANCE_PATH": sys.argv[1],
                  "REDIS_URL": sys.argv[2], "DATABASE_URL": sys.argv[3], "METRICS_TOKEN": "t0k"})
response = app.test_client().get("/metrics", headers={"Authorization": "Bearer t0k"})
print(response.status_code)
print(response.get_data(as_text=True))
"""


def test_a_scrape_sums_every_worker_process(tmp_path, redis_url, database_url, redis_client):
    """prometheus-client's multiprocess mode, as `ringtrail serve` sets it up: each
    process writes its figures to the shared folder, and a scrape of any sums them."""
    import subprocess
    import sys

    folder = tmp_path / "metrics"
    folder.mkdir(mode=0o700)
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", SUMMED, str(tmp_path / "instance"), redis_url, database_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    status, _, text = done.stdout.partition("\n")
    assert status == "200", done.stdout
    assert value(text, "ringtrail_voice_webhook_seconds_count") == 6
    assert value(text, "ringtrail_degraded_answers_total", reason="not_queued") == 2
    assert len(list(folder.glob("*.db"))) >= 2  # a file per process


def test_serve_empties_the_metrics_folder_and_keeps_it_private(tmp_path):
    from ringtrail.cli.run import _metrics_folder

    instance = tmp_path / "instance"
    stale = instance / "metrics"
    stale.mkdir(parents=True, mode=0o755)
    (stale / "counter_12345.db").write_bytes(b"an earlier run's figures")
    (stale / "keep.txt").write_text("not ours")
    folder = _metrics_folder({"RINGTRAIL_INSTANCE_PATH": str(instance)})
    assert folder == str(stale)
    assert sorted(p.name for p in stale.iterdir()) == ["keep.txt"]
    assert stale.stat().st_mode & 0o777 == 0o700


def test_probes_of_a_hung_store_do_not_pile_up(own_app, stores):
    """A flood of /readyz while a store hangs: one probe thread waits on it, and every
    request still answers 503 within the deadline."""
    import threading

    client = own_app.test_client()
    assert ready(client)[0] == 200
    before = threading.active_count()
    # A client that waits longer than the deadline, so the probe outlives the request.
    slow = redis_lib.Redis.from_url(stores["leases"].url, socket_timeout=5)
    own_app.extensions["ringtrail"]["redis"] = slow
    stores["leases"].freeze()
    answers = [ready(client) for _ in range(3)]  # within the client's 5 s
    assert all(status == 503 and took < QUICK for status, _, took in answers)
    assert threading.active_count() <= before + 1  # the one probe still waiting
    assert {body["checks"]["leases"]["reason"] for _, body, _ in answers} == {
        "no answer within 1 s"
    }
    stores["leases"].thaw()
    slow.close()


def test_counting_never_fails_a_call_when_the_metrics_folder_is_gone(tmp_path):
    import subprocess
    import sys

    script = (
        "import shutil, sys\n"
        "from ringtrail.storage import metrics\n"  # makes the folder it is given
        "assert metrics.multiprocess()\n"
        "shutil.rmtree(sys.argv[1])\n"  # then it goes away
        "metrics.observe_voice(0.1)\n"
        "metrics.count_degraded('not_queued')\n"
        "print('answered', metrics.multiprocess())\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "gone")}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "gone")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "answered False"
    assert "not counted" in done.stderr  # said, not raised
