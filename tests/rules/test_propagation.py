"""Configuration reaches every web process within 2 s, and a quiet line's first call is
answered as configured: proved on a real gunicorn with several workers.

Three gunicorn workers serve ``ringtrail:create_app()`` on the test Redis and a real
database (a SQLite file; PostgreSQL too when ``RINGTRAIL_TEST_DATABASE_URL`` is set), with
the production cache setting. Changes go through the admin API, so one worker commits
each of them. Probes are signed voice webhooks and snippet requests, each on a connection
of its own so that the kernel spreads them over the workers; gunicorn's access log names
the worker (its pid) that answered each probe, so every worker is measured, not a sample.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
import redis as redis_lib

from ringtrail import create_app
from ringtrail.calls.events import event_id
from ringtrail.calls.intake import EventStash
from ringtrail.storage.sql import get_db
from tests.conftest import PG_URL, truncate_postgresql
from tests.helpers import (
    BUSINESS,
    DEFAULT_FORWARD,
    PUBLIC_URL,
    call_params,
    free_port,
    make_site,
    new_key,
    sign,
    tracking_numbers,
)

ROOT = Path(__file__).resolve().parents[2]
QUIET = 65  # seconds of a quiet line
WORKERS = 3
BUDGET = 2.0  # seconds: DESIGN's "configuration reaches every process within 2 s"
WINDOW = 3.5  # seconds probed after each change: a worker still stale at 2 s shows it
RECORDED = 'record="record-from-answer-dual"'


class Gunicorn:
    """A real gunicorn serving Ringtrail; its access log says which worker answered what."""

    def __init__(self, env: dict[str, str], tmp: Path):
        self.port = free_port()
        self.log = tmp / "access.log"
        self.errors = tmp / "gunicorn.log"
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            *(sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--threads", "2"),
            *("--worker-class", "gthread", "--bind", f"127.0.0.1:{self.port}"),
            *("--access-logfile", str(self.log), "--error-logfile", str(self.errors)),
            *("--access-logformat", "%(p)s %({x-probe}i)s %(s)s"),
            "ringtrail:create_app()",
        ]
        self.proc = subprocess.Popen(command, env=self.env, cwd=ROOT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            assert self.proc.poll() is None, self.errors.read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer in 60 s"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    def request(self, method: str, path: str, body: str = "", headers: dict | None = None):
        """One request on a connection of its own: (status, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers={"Connection": "close"} | (headers or {}))
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def workers_of(self, probes: list[str]) -> dict[str, int]:
        """The pid of the worker that answered each probe (waits for the log to have them)."""
        wanted, found = set(probes), {}
        deadline = time.monotonic() + 10
        while True:
            for line in self.log.read_text().splitlines():
                match = re.fullmatch(r"<(\d+)> (\S+) \d+", line)
                if match and match.group(2) in wanted:
                    found[match.group(2)] = int(match.group(1))
            if len(found) == len(wanted):
                return found
            assert time.monotonic() < deadline, "probes missing from the access log"
            time.sleep(0.1)


@dataclass
class Answer:
    probe: str
    sent: float
    done: float
    new: bool  # shows the configuration as changed


@contextmanager
def serving(app_config: dict, tmp: Path):
    """A tenant in the configured database (a recording client, its site, a pool of numbers,
    an agency API key) and gunicorn serving it; yields (gunicorn, setup)."""
    app = create_app(app_config)
    with app.app_context():
        setup = make_site(get_db(), numbers=3, record=True)
    setup.extra["key"] = new_key(app, setup.agency.id)
    app.extensions["ringtrail"]["engine"].dispose()
    env = dict(os.environ) | {
        f"RINGTRAIL_{name}": str(app_config[name])
        for name in ("REDIS_URL", "DATABASE_URL", "INSTANCE_PATH", "PUBLIC_URL", "SECRET_KEY")
        + ("SPOOL_DIR", "DEFAULT_FORWARD_NUMBER")
    }
    env.pop("RINGTRAIL_CACHE_SECONDS", None)  # the production default
    server = Gunicorn(env, tmp)
    server.start()
    try:
        yield server, setup
    finally:
        server.stop()


@pytest.fixture
def served(app_config, redis_client, tmp_path):
    """gunicorn serving a tenant on the test's database; yields (gunicorn, setup)."""
    with serving(app_config, tmp_path) as both:
        yield both


def voice(server: Gunicorn, setup, number: str) -> tuple[str, str]:
    """A signed voice webhook for ``number``: (its CallSid, the TwiML)."""
    params = call_params(setup, number)
    url = f"{PUBLIC_URL}/telephony/twilio/voice"
    status, body = server.request(
        "POST",
        "/telephony/twilio/voice",
        urlencode(params),
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(url, params, setup.token),
            "X-Probe": params["CallSid"],
        },
    )
    assert status == 200, body
    return params["CallSid"], body


def records(body: str) -> bool:
    """Whether the TwiML records, the notice said first."""
    return RECORDED in body and body.index("<Say>") < body.index(RECORDED)


def dials(body: str) -> str | None:
    found = re.search(r"<Number[^>]*>([^<]+)</Number>", body)
    return found.group(1) if found else None


def stashed(redis_client, setup, sid: str) -> dict:
    """The call event the webhook queued for the number's agency, as stored in Redis."""
    raw = redis_client.get(
        EventStash.PREFIX + event_id("twilio", sid, "voice", "", setup.agency.id)
    )
    assert raw is not None, sid
    return json.loads(raw)


def measure(server: Gunicorn, change: Callable[[], None], probe: Callable[[], Answer]) -> dict:
    """Make the change while probing every worker; returns each worker's delay: from the
    moment the change was sent to the end of its first answer showing it, after which it
    never showed the old configuration again."""
    answers: list[Answer] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            while not stop.is_set():
                answers.append(probe())
                time.sleep(0.01)
        except Exception as exc:  # surfaced below, in the test's own thread
            errors.append(exc)

    pollers = [threading.Thread(target=poll) for _ in range(3)]
    for t in pollers:
        t.start()
    time.sleep(0.3)  # the old configuration, seen first
    sent = time.monotonic()
    change()
    time.sleep(max(0.0, sent + WINDOW - time.monotonic()))
    stop.set()
    for t in pollers:
        t.join(30)
    assert not errors, errors
    pids = server.workers_of([a.probe for a in answers])
    delays = {}
    for pid in set(pids.values()):
        mine = sorted((a for a in answers if pids[a.probe] == pid), key=lambda a: a.sent)
        late = [a for a in mine if a.done >= sent]
        assert late and late[-1].new, f"worker {pid} never showed the change"
        first_new = len(late)
        while first_new > 0 and late[first_new - 1].new:
            first_new -= 1
        delays[pid] = late[first_new].done - sent
    assert len(delays) == WORKERS, f"only {len(delays)} workers were probed"
    return delays


@pytest.mark.postgres
def test_every_change_reaches_every_worker_within_two_seconds(served, redis_client, db_backend):
    server, setup = served
    key = setup.extra["key"]
    number = setup.numbers[0]
    client = f"/api/v1/clients/{setup.client.id}"

    def api(method: str, path: str, body: dict) -> dict:
        status, text = server.request(
            method,
            path,
            json.dumps(body),
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        assert status in (200, 201), (path, body, text)
        return json.loads(text)

    def call_probe(to: str, new: Callable[[str, str], bool]) -> Callable[[], Answer]:
        def probe() -> Answer:
            started = time.monotonic()
            sid, body = voice(server, setup, to)
            return Answer(sid, started, time.monotonic(), new(sid, body))

        return probe

    def hipaa(sid: str) -> bool:
        event = stashed(redis_client, setup, sid)
        return event["hipaa"] and event["caller"] is None

    made: dict[str, str] = {}

    def new_site() -> None:
        made["site"] = api("POST", "/api/v1/sites", {"client_id": setup.client.id, "name": "New"})[
            "public_key"
        ]

    def snippet_probe() -> Answer:
        started = time.monotonic()
        while "site" not in made:  # the key exists once the API has answered
            time.sleep(0.005)
            started = time.monotonic()
        probe = f"snippet-{started!r}-{threading.get_ident()}"
        status, _ = server.request("GET", f"/s/{made['site']}.js", headers={"X-Probe": probe})
        return Answer(probe, started, time.monotonic(), status == 200)

    results: list[tuple[str, float]] = []
    extra = tracking_numbers(1, start=500)[0]  # each change once, every worker probed
    changes = [
        (
            "recording off",
            lambda: api("PATCH", client, {"record_calls": False}),
            call_probe(number, lambda sid, body: not records(body) and dials(body) == BUSINESS),
        ),
        (
            "recording on",
            lambda: api("PATCH", client, {"record_calls": True}),
            call_probe(number, lambda sid, body: records(body)),
        ),
        (
            "HIPAA on",
            lambda: api("PATCH", client, {"hipaa": True, "record_calls": False}),
            call_probe(number, lambda sid, body: hipaa(sid) and not records(body)),
        ),
        (
            "HIPAA off",
            lambda: api("PATCH", client, {"hipaa": False, "record_calls": True}),
            call_probe(number, lambda sid, body: not hipaa(sid) and records(body)),
        ),
        (
            "suspended",
            lambda: api("PATCH", client, {"suspended": True}),
            call_probe(number, lambda sid, body: dials(body) == DEFAULT_FORWARD),
        ),
        (
            "active again",
            lambda: api("PATCH", client, {"suspended": False}),
            call_probe(number, lambda sid, body: dials(body) == BUSINESS and records(body)),
        ),
        ("a new site", new_site, snippet_probe),
        (
            "a new number",
            lambda e=extra: api("POST", "/api/v1/numbers", {"pool_id": setup.pool.id, "number": e}),
            call_probe(extra, lambda sid, body: dials(body) == BUSINESS and records(body)),
        ),
    ]
    for name, change, probe in changes:
        delays = measure(server, change, probe)
        results.append((name, max(delays.values())))
    worst = max(delay for _, delay in results)
    print(f"\n{db_backend}: largest delay {worst:.3f} s over {len(results)} changes:", results)
    assert worst < BUDGET, results


def other_database(redis_url: str, index: int) -> str:
    """The same Redis server, another numbered database."""
    if redis_url.startswith("unix://"):
        return f"{redis_url.split('?')[0]}?db={index}"
    parts = urlsplit(redis_url)
    return urlunsplit(parts._replace(path=f"/{index}"))


@pytest.fixture
def served_on_every_backend(app_config, redis_client, tmp_path, request):
    """gunicorn serving a tenant on SQLite (this test's database and Redis) and, when the
    storage tests have PostgreSQL, a second gunicorn on PostgreSQL (with another database of
    the same Redis), so that both wait out one quiet period together; yields
    {backend: (gunicorn, setup, redis client)}."""
    configs = {"sqlite": app_config}
    if PG_URL:
        request.getfixturevalue("pg_schema")
        pg_redis = other_database(app_config["REDIS_URL"], 1)
        configs["postgresql"] = app_config | {
            "DATABASE_URL": PG_URL,
            "REDIS_URL": pg_redis,
            "INSTANCE_PATH": str(tmp_path / "pg" / "instance"),
            "SPOOL_DIR": str(tmp_path / "pg" / "spool"),
        }
    with ExitStack() as stack:
        running = {}
        for backend, config in configs.items():
            folder = tmp_path / backend
            folder.mkdir(exist_ok=True)
            client = redis_lib.Redis.from_url(config["REDIS_URL"], decode_responses=True)
            stack.callback(client.close)
            if backend != "sqlite":
                stack.callback(client.flushdb)
                stack.callback(truncate_postgresql, request.getfixturevalue("pg_schema"))
            server, setup = stack.enter_context(serving(config, folder))
            running[backend] = (server, setup, client)
        yield running


@pytest.mark.slow
def test_after_a_quiet_minute_every_workers_first_call_is_answered_as_configured(
    served_on_every_backend,
):
    """One quiet period for every database backend: their gunicorns idle side by side."""

    def calls_until_every_worker_answered(server, setup, rounds: int) -> list:
        """Calls, three at a time (so the kernel hands them to different workers), until
        each worker answered one: (pid, sid, TwiML) of every call made."""
        answered: list[tuple[int, str, str]] = []
        with ThreadPoolExecutor(WORKERS) as pool:
            for _ in range(rounds):
                calls = [setup.numbers[0]] * WORKERS
                made = list(pool.map(lambda to: voice(server, setup, to), calls))
                pids = server.workers_of([sid for sid, _ in made])
                answered += [(pids[sid], sid, body) for sid, body in made]
                if len({pid for pid, _, _ in answered}) == WORKERS:
                    return answered
        reached = len({pid for pid, _, _ in answered})
        pytest.fail(f"{len(answered)} calls reached only {reached} of {WORKERS} workers")

    for backend, (server, setup, _) in served_on_every_backend.items():
        warm = calls_until_every_worker_answered(server, setup, 40)
        assert all(records(body) for _, _, body in warm), backend
    # A quiet line, no request at all on any backend: past twice the production cache
    # setting (CACHE_SECONDS, 30), Redis's health checks and gunicorn's keep-alive.
    time.sleep(QUIET)
    for backend, (server, setup, client) in served_on_every_backend.items():
        after = calls_until_every_worker_answered(server, setup, 40)
        degraded = [
            (pid, body)
            for pid, sid, body in after
            if not records(body) or stashed(client, setup, sid)["degraded"]
        ]
        print(f"\n{backend}: {len(after)} calls after {QUIET} s idle, {len(degraded)} degraded")
        assert degraded == [], backend
    if PG_URL:
        assert set(served_on_every_backend) == {"sqlite", "postgresql"}
