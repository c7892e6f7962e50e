"""README's "Running in production", followed step by step: PostgreSQL and two Redis
servers, ``ringtrail migrate``, the first admin, ``ringtrail serve`` and ``ringtrail
worker`` as real processes, ``/readyz``, a client, site, pool and number made with the
command, the carrier account connected and a number bought (against a Twilio stand-in on
127.0.0.1), and a signed call that lands as a call record (read back through the admin
API), then ``/metrics`` summed across gunicorn's workers.

The database is a fresh one made for this test on the PostgreSQL server of
``RINGTRAIL_TEST_DATABASE_URL`` (a fresh SQLite file without it), so ``ringtrail
migrate`` builds the schema from nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ringtrail.crypto import new_key
from tests.faults import Process, RedisServer, wait_for
from tests.helpers import HUMAN_UA, free_port, sign
from tests.twilio_standin import start_stand_in

pytestmark = pytest.mark.slow

PG_URL = os.environ.get("RINGTRAIL_TEST_DATABASE_URL")
PASSWORD = "a walkthrough password that is long"
METRICS_TOKEN = secrets.token_urlsafe(32)


@contextlib.contextmanager
def fresh_database(tmp_path: Path):
    """An empty database: its own on the test PostgreSQL server, else a SQLite file."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'walkthrough.sqlite3'}"
        return
    name = f"{make_url(PG_URL).database}_walk_{secrets.token_hex(3)}"
    admin = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def ringtrail(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """One ``ringtrail`` command, as an operator types it; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "ringtrail", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"ringtrail {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_production_walkthrough(tmp_path):
    # 1. PostgreSQL and two Redis servers: leases, and queues.
    servers = {}
    for name in ("leases", "queues"):
        (tmp_path / name).mkdir()
        servers[name] = RedisServer(tmp_path / name, aof=True)
        servers[name].start()
    twilio, twilio_server = start_stand_in()  # Twilio's REST API, on 127.0.0.1
    twilio.offer("+16285550142", region="CA", locality="San Francisco")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes: list[Process] = []
    with fresh_database(tmp_path) as database_url:
        # 2. The settings, in the environment of every Ringtrail process.
        env = {k: v for k, v in os.environ.items() if not k.startswith("RINGTRAIL_")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env |= {
            "RINGTRAIL_DATABASE_URL": database_url,
            "RINGTRAIL_REDIS_URL": servers["leases"].url,
            "RINGTRAIL_QUEUE_REDIS_URL": servers["queues"].url,
            "RINGTRAIL_PUBLIC_URL": base,  # what Twilio signs: https://calls.example.com
            "RINGTRAIL_SECRET_KEY": secrets.token_urlsafe(48),
            "RINGTRAIL_ENCRYPTION_KEYS": new_key(),
            "RINGTRAIL_INSTANCE_PATH": str(tmp_path / "instance"),
            "RINGTRAIL_DEFAULT_FORWARD_NUMBER": "+14155550199",
            "RINGTRAIL_METRICS_TOKEN": METRICS_TOKEN,
            "RINGTRAIL_BIND": f"127.0.0.1:{port}",
            "RINGTRAIL_TWILIO_API_URL": twilio.url,
            "RINGTRAIL_WORKERS": "2",
            "RINGTRAIL_THREADS": "2",
        }
        try:
            # 3. The schema, from nothing.
            assert "database is up to date" in ringtrail(env, "migrate")

            # 4. The first agency and its admin (the password from stdin, never argv).
            agency = json.loads(ringtrail(env, "agency", "create", "--name", "Acme", "--json"))
            admin = json.loads(
                ringtrail(
                    env,
                    "user",
                    "create",
                    "--agency",
                    str(agency["id"]),
                    "--email",
                    "ops@acme.example",
                    "--role",
                    "agency_admin",
                    "--password-stdin",
                    "--json",
                    stdin=PASSWORD + "\n",
                )  # fmt: skip
            )
            assert admin["role"] == "agency_admin" and PASSWORD not in json.dumps(admin)

            # 5. The web app and the worker, as supervised services.
            for args in (["serve"], ["worker"]):
                process = Process(args, env, tmp_path / f"{args[0]}.log")
                process.start()
                processes.append(process)
            # (They start while the next steps run: /readyz is asked before the first call.)

            # 6. The carrier account: connected with the command (the token on stdin),
            # checked at "Twilio" (the stand-in) before it is saved.
            account_sid, auth_token = twilio.add_account()
            connected = json.loads(
                ringtrail(
                    env,
                    "carrier",
                    "connect",
                    "--agency",
                    str(agency["id"]),
                    "--account-sid",
                    account_sid,
                    "--json",
                    stdin=auth_token + "\n",
                )  # fmt: skip
            )
            assert connected["account_sid"] == account_sid
            assert auth_token not in json.dumps(connected)

            # 7. A client, a site, a pool and a tracking number.
            client = json.loads(
                ringtrail(
                    env,
                    "client",
                    "create",
                    "--agency",
                    str(agency["id"]),
                    "--name",
                    "Dental",
                    "--business-number",
                    "(415) 555-0100",
                    "--json",
                )  # fmt: skip
            )
            site = json.loads(
                ringtrail(
                    env,
                    "site",
                    "create",
                    "--client",
                    str(client["id"]),
                    "--name",
                    "Web",
                    "--origin",
                    "https://dental.example",
                    "--json",
                )  # fmt: skip
            )
            pool = json.loads(
                ringtrail(
                    env,
                    "pool",
                    "create",
                    "--site",
                    str(site["id"]),
                    "--business-number",
                    "(415) 555-0100",
                    "--json",
                )  # fmt: skip
            )
            # A tracking number bought into the pool, its webhooks set to Ringtrail's.
            found = json.loads(
                ringtrail(
                    env,
                    "carrier",
                    "search",
                    "--agency",
                    str(agency["id"]),
                    "--area-code",
                    "628",
                    "--json",
                )  # fmt: skip
            )
            assert [n["phone_number"] for n in found] == ["+16285550142"]
            [bought] = json.loads(
                ringtrail(
                    env, "carrier", "buy", "--pool", str(pool["id"]), "+16285550142", "--json"
                )
            )
            number = bought["number"]
            owned = twilio.owned(account_sid)[number]
            assert owned["voice_url"] == f"{base}/telephony/twilio/voice", owned

            # /readyz: SQL, both Redis servers and the queue answer; nothing is spooled.
            def ready() -> bool:
                for process in processes:
                    assert process.proc.poll() is None, process.output()
                return get(f"{base}/readyz")[0] == 200

            wait_for(ready, 60, "/readyz")
            checks = json.loads(get(f"{base}/readyz")[1])
            assert checks["status"] == "ready" and checks["spooled"] == 0, checks

            # 8. A visitor is shown the number, then calls it: Twilio's signed webhook.
            def leased() -> dict | None:
                status, body = post(
                    f"{base}/v1/sessions",
                    json.dumps({"site": site["public_key"], "url": "https://dental.example/"}).encode(),
                    {"Content-Type": "text/plain", "Origin": "https://dental.example",
                     "User-Agent": HUMAN_UA},
                )  # fmt: skip
                got = json.loads(body) if status == 200 else {}
                # The new pool is synced to Redis in the background, never in a request:
                # until then a visit is shown the business number.
                shown = {n.get("e164") for n in got.get("numbers", {}).values()}
                return got if got.get("session") and number in shown else None

            wait_for(leased, 10, "a lease from the new pool")
            params = {
                "AccountSid": account_sid,
                "CallSid": "CA" + secrets.token_hex(16),
                "From": "+12125550143",
                "To": number,
                "CallStatus": "ringing",
                "Direction": "inbound",
                "ApiVersion": "2010-04-01",
            }
            voice = f"{base}/telephony/twilio/voice"
            status, twiml = post(
                voice,
                urlencode(params).encode(),
                {"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": sign(voice, params, auth_token)},
            )  # fmt: skip
            assert status == 200 and b"<Number>+14155550100</Number>" in twiml, twiml

            # 9. It lands as a call record, attributed to the visit.
            key = json.loads(
                ringtrail(
                    env, "key", "create", "--agency", str(agency["id"]), "--name", "ops", "--json"
                )
            )["key"]

            def recorded() -> dict | None:
                status, body = get(f"{base}/api/v1/calls", {"Authorization": f"Bearer {key}"})
                items = json.loads(body)["items"] if status == 200 else []
                return items[0] if items else None

            wait_for(recorded, 20, "the call's record")
            call = recorded()
            assert call["call_id"] == params["CallSid"] and call["tracking_number"] == number, call
            assert call["confidence"] == "exact", call

            # 10. /metrics: refused without the token; with it, every worker's figures.
            assert get(f"{base}/metrics")[0] == 401
            auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            for _ in range(3):  # more calls, spread over gunicorn's two workers
                more = params | {"CallSid": "CA" + secrets.token_hex(16)}
                post(
                    voice,
                    urlencode(more).encode(),
                    {"Content-Type": "application/x-www-form-urlencoded",
                     "X-Twilio-Signature": sign(voice, more, auth_token)},
                )  # fmt: skip
            status, scraped = get(f"{base}/metrics", auth)
            figures = scraped.decode()
            assert status == 200
            assert re.search(r"^ringtrail_voice_webhook_seconds_count 4\.0$", figures, re.M), (
                figures
            )
            assert re.search(
                rf'^ringtrail_pool_leases_total{{pool="{pool["id"]}"}} 1\.0$', figures, re.M
            )
            metrics_folder = tmp_path / "instance" / "metrics"
            assert (metrics_folder.stat().st_mode & 0o777) == 0o700
        finally:
            for process in processes:
                process.stop()
            for server in servers.values():
                server.close()
            twilio_server.shutdown()
            twilio_server.server_close()
