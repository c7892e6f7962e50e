"""The ringtrail command and the demo it runs."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from ringtrail.cli import main
from tests.helpers import cli_env


def test_seed_demo_is_idempotent_and_prints_json(app_config, redis_client):
    runner = CliRunner()
    first = runner.invoke(main, ["seed-demo", "--json"], env=cli_env(app_config))
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, ["seed-demo", "--json"], env=cli_env(app_config))
    assert json.loads(first.output) == json.loads(second.output)
    info = json.loads(first.output)
    assert len(info["tracking_numbers"]) >= 5
    assert info["business_number"] == "+14155550100"
    assert info["site_key"] and info["auth_token"]
    # The demo prints a dashboard login that works, and the same one every time.
    from ringtrail import create_app
    from ringtrail.accounts.auth import verify_password
    from ringtrail.storage.models import User
    from ringtrail.storage.sql import get_db

    app = create_app(app_config)
    with app.app_context():
        user = get_db().query(User).filter_by(email=info["dashboard"]["email"]).one()
        assert user.role == "agency_admin"
        assert verify_password(user, info["dashboard"]["password"])
    app.extensions["ringtrail"]["engine"].dispose()


def test_migrate_command(app_config, redis_client):
    result = CliRunner().invoke(main, ["migrate"], env=cli_env(app_config))
    assert result.exit_code == 0
    assert "up to date" in result.output


def test_serve_runs_gunicorn_with_the_settings(app_config, redis_client, tmp_path):
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = (
        dict(os.environ)
        | cli_env(app_config)
        | {
            "RINGTRAIL_BIND": f"127.0.0.1:{port}",
            "RINGTRAIL_WORKERS": "1",
            "RINGTRAIL_THREADS": "2",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ringtrail", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert json.loads(r.read()) == {"status": "ok"}
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "ringtrail serve did not answer in 30 s"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?who=me", timeout=2):
            pass
    finally:
        proc.terminate()
        proc.wait(15)
    # The access log has the request, and no client address (docs/privacy.md says so).
    output = proc.stdout.read().decode()
    # The last is the ?who=me request; a busy machine may have timed out a few polls
    # before it, which the server logs too.
    lines = [line for line in output.splitlines() if '"GET /healthz HTTP/1.1" 200' in line]
    assert len(lines) >= 2, output
    assert not any("127.0.0.1" in line or "who=me" in line for line in lines), lines


def test_worker_burst_applies_queued_events(app, app_config, db, client):
    from tests.helpers import call_params, make_site, twilio_post

    setup = make_site(db)
    params = call_params(setup, setup.numbers[0])
    assert twilio_post(client, "/telephony/twilio/voice", params, setup.token).status_code == 200
    result = CliRunner().invoke(main, ["worker", "--burst"], env=cli_env(app_config))
    assert result.exit_code == 0, result.output
    from sqlalchemy import select

    from ringtrail.storage.models import Call

    assert db.scalar(select(Call.call_sid)) == params["CallSid"]


def test_serve_starts_while_the_database_is_down_and_migrates_once_it_is_back(
    app, app_config, tmp_path
):
    """Calls are answered from the routing snapshot on disk meanwhile; the migrations
    are retried, and say so, until the database answers."""
    import os
    import subprocess
    import sys
    import urllib.request
    from urllib.parse import urlencode

    from sqlalchemy import create_engine, inspect

    from ringtrail.storage.sql import get_db
    from ringtrail.tracking.directory import get_directory
    from tests.faults import wait_for
    from tests.helpers import call_params, free_port, make_site, sign

    with app.app_context():
        setup = make_site(get_db(), numbers=1)
        assert setup.numbers[0] in get_directory().get().routes  # writes the snapshot
    later = tmp_path / "not-yet"  # SQLite cannot open a file in a missing folder
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = (
        dict(os.environ)
        | cli_env(app_config)
        | {
            "RINGTRAIL_DATABASE_URL": f"sqlite:///{later / 'ringtrail.sqlite3'}",
            "RINGTRAIL_PUBLIC_URL": base,
            "RINGTRAIL_BIND": f"127.0.0.1:{port}",
            "RINGTRAIL_WORKERS": "1",
            "RINGTRAIL_THREADS": "2",
        }
    )
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ringtrail", "serve"], env=env, stdout=out, stderr=out
        )
    try:
        params = call_params(setup, setup.numbers[0])
        url = f"{base}/telephony/twilio/voice"

        def answered() -> bool:
            request = urllib.request.Request(
                url,
                data=urlencode(params).encode(),
                headers={"X-Twilio-Signature": sign(url, params, setup.token)},
            )
            try:
                with urllib.request.urlopen(request, timeout=3) as response:
                    return response.status == 200 and b"<Dial" in response.read()
            except OSError:
                assert proc.poll() is None, log.read_text()
                return False

        wait_for(answered, 30, "a call answered while the database is down")
        assert "migrations waiting for the database" in log.read_text()
        later.mkdir()  # the database is back
        wait_for(lambda: "migrations: database is up to date" in log.read_text(), 30, "migrate")
        engine = create_engine(f"sqlite:///{later / 'ringtrail.sqlite3'}")
        assert "applied_events" in inspect(engine).get_table_names()
        engine.dispose()
    finally:
        proc.terminate()
        proc.wait(20)


def _child(pid: int, word: str) -> int | None:
    from tests.faults import children

    return next((p for p, cmd in children(pid).items() if word in cmd), None)


@pytest.mark.slow
def test_demo_restarts_what_dies_keeps_files_private_and_leaves_nothing_when_killed(tmp_path):
    """`ringtrail demo` restarts its worker and its embedded Redis; everything it writes
    is private; SIGKILLed, it takes every process it started with it; started again on
    the same folder, it comes up and stops cleanly."""
    import os
    import signal
    import stat
    import subprocess
    import sys
    import urllib.request

    import redis as redis_lib

    from ringtrail.storage.embedded import socket_path
    from tests.conftest import leftovers
    from tests.faults import wait_for
    from tests.helpers import free_port

    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGTRAIL_")}
    env["RINGTRAIL_INSTANCE_PATH"] = str(instance)

    def start() -> tuple[subprocess.Popen, str]:
        port = free_port()
        out = open(tmp_path / "demo.log", "ab")  # noqa: SIM115 (the child holds it)
        proc = subprocess.Popen(
            [sys.executable, "-m", "ringtrail", "demo", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "demo.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(up, 60, "ringtrail demo")
        return proc, base

    demo, base = start()
    try:
        # A call through the real webhook, spool, queue and worker.
        printed = (tmp_path / "demo.log").read_text()
        numbers = re.search(r'"tracking_numbers": \[\s*"(\+\d+)"', printed)
        assert numbers, printed
        number = numbers
        request = urllib.request.Request(
            f"{base}/demo/call",
            data=json.dumps({"to": number.group(1)}).encode(),
            headers={"Content-Type": "application/json"},
        )
        sid = json.loads(urllib.request.urlopen(request, timeout=10).read())["call_sid"]

        def recorded() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/demo/calls/{sid}", timeout=2) as response:
                    return json.loads(response.read())["found"]
            except OSError:
                return False

        wait_for(recorded, 30, "the demo call's record")
        worker = _child(demo.pid, "ringtrail worker")
        redis_pid = _child(demo.pid, "redis-server")
        assert worker and redis_pid and _child(demo.pid, "gunicorn")

        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: _child(demo.pid, "ringtrail worker") not in (None, worker), 15, "worker")
        os.kill(redis_pid, signal.SIGKILL)
        wait_for(lambda: _child(demo.pid, "redis-server") not in (None, redis_pid), 15, "redis")
        client = redis_lib.Redis(unix_socket_path=socket_path(str(instance)))
        wait_for(lambda: client.ping(), 10, "the restarted Redis answering")
        client.close()

        # Everything in the instance folder is ours alone.
        assert stat.S_IMODE(instance.stat().st_mode) == 0o700
        found = {}
        for path in instance.rglob("*"):
            found[path.name] = stat.S_IMODE(path.lstat().st_mode)
        assert {"ringtrail.sqlite3", "redis.aof", "secret_key", "directory.json"} <= set(found)
        assert {name: oct(mode) for name, mode in found.items() if mode & 0o077} == {}

        demo.send_signal(signal.SIGKILL)
        demo.wait(10)
        wait_for(lambda: not leftovers(str(instance)), 30, "every process of the demo gone")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)

    again, _ = start()  # the same folder: the dead demo's Redis socket is cleaned up
    again.send_signal(signal.SIGTERM)
    assert again.wait(30) == 0
    wait_for(lambda: not leftovers(str(instance)), 20, "nothing left after a clean stop")
