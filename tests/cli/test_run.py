"""The ringtrail command and the demo it runs."""

from __future__ import annotations

import json

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
    finally:
        proc.terminate()
        proc.wait(15)


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
