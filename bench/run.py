"""Every benchmark in one run, one table: `ringtrail bench` (or `python bench/run.py`).

1. POST /v1/sessions, with one repeated user agent and with 3,000 distinct ones, against
   the minimal-work session endpoint (one lease script call) and the bare endpoint, all
   under the same gunicorn settings, after a warm-up that ends only when the pool's sync
   has finished and answers have settled; the Redis commands it sends (bench/hotpaths.py);
2. the voice webhook against the minimal voice endpoint (one HMAC, one push, fixed
   TwiML) and the bare form endpoint: throughput, app CPU per request, and p99 at the
   same rate, half of the webhook's saturation; and against the peer,
   call-tracking-django's forward-call webhook (bench/peer_django.py): throughput and
   app CPU per request (bench/hotpaths.py);
3. lease latency for pools of 10, 1,000 and 100,000 numbers (bench/leases.py);
4. Redis memory per live session with 10 page views (bench/leases.py);
5. the snippet: served gzip size and the time to swap a 5,000-node page in headless
   Chromium against the same page without it (bench/snippet_bench.py).

Each figure is a ratio against a baseline measured in the same run, next to its target;
the HTTP rows are min / median / max over ``--rounds`` rounds (3).
Writes bench/results/bench.json. The machine is shared: compare ratios, not times.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def snippet(runs: int) -> dict:
    """Run the snippet benchmark in its own process (it drives Chromium) and parse it."""
    out = subprocess.run(
        [sys.executable, str(HERE / "snippet_bench.py"), "--runs", str(runs)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    gz = int(re.search(r"(\d+) bytes after gzip -9", out).group(1))
    served = int(re.search(r"(\d+) bytes served", out).group(1))
    swapped = re.search(r"every number swapped at:\s+(\d+) ms\s+\(ratio ([\d.]+)", out)
    base = re.search(r"load event without the snippet:\s+(\d+) ms", out)
    one_pass = re.search(r"ringtrail\('swap'\)\): ([\d.]+) ms", out)
    return {
        "served_bytes": served,
        "gzip_bytes": gz,
        "page_without_snippet_ms": int(base.group(1)),
        "all_swapped_ms": int(swapped.group(1)),
        "swapped_vs_without": float(swapped.group(2)),
        "one_swap_pass_ms": float(one_pass.group(1)),
        "raw": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Run every Ringtrail benchmark.")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the HTTP measures")
    parser.add_argument("--runs", type=int, default=7, help="snippet page loads per kind")
    parser.add_argument(
        "--peer-database",
        metavar="URL",
        help="a PostgreSQL database for the peer, as the original runs on (its tables in it "
        "are replaced); default: an SQLite file",
    )
    args = parser.parse_args()

    import hotpaths
    import leases

    started = time.time()
    results = {
        "http": hotpaths.run(
            args.duration, args.connections, args.rounds, peer_database=args.peer_database
        )
    }
    results.update(leases.main())
    results["snippet"] = snippet(args.runs)
    results["elapsed_s"] = round(time.time() - started)

    http, spread = results["http"], results["http"]["summary"]
    lat, mem, snip = results["lease_latency"], results["memory"], results["snippet"]

    def mmm(name: str) -> str:
        s = spread[name]
        return f"{s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f}"

    warm = http["warm_up"]
    rows = [
        (
            "0. warm-up until synced and settled, s",
            f"{warm['seconds']} (sync {warm['pool_synced_after_s']})",
            "",
        ),
        (
            "   warnings logged / degraded answers while measuring",
            f"{http['warnings_logged_while_measuring']} / "
            f"{http['degraded_answers_while_measuring']}",
            "0 / 0",
        ),
        (
            "1. sessions, varied UAs / minimal: rps",
            mmm("sessions_varied_ua_vs_minimal_rps"),
            ">= 0.85",
        ),
        ("   p99", mmm("sessions_varied_ua_vs_minimal_p99"), "<= 1.3"),
        ("   CPU per request", mmm("sessions_varied_ua_vs_minimal_cpu"), ""),
        ("   sessions, one UA / minimal: rps", mmm("sessions_one_ua_vs_minimal_rps"), ""),
        ("   p99", mmm("sessions_one_ua_vs_minimal_p99"), ""),
        ("   CPU per request", mmm("sessions_one_ua_vs_minimal_cpu"), ""),
        ("   minimal / bare: rps", mmm("minimal_sessions_vs_bare_rps"), ""),
        (
            "   Redis commands per request",
            f"{http['redis_commands_per_session']['median']}",
            "<= 2",
        ),
        ("2. voice / minimal voice: CPU per call", mmm("voice_vs_minimal_cpu"), "<= 1.5"),
        ("   p99 at half saturation", mmm("voice_vs_minimal_p99_half"), "<= 2"),
        ("   rps", mmm("voice_vs_minimal_rps"), ""),
        ("   voice / bare: rps", mmm("voice_vs_bare_rps"), ""),
        ("   p99 at half saturation", mmm("voice_vs_bare_p99_half"), ""),
        ("   CPU per call", mmm("voice_vs_bare_cpu"), ""),
        ("   voice / call-tracking-django: rps", mmm("voice_vs_peer_rps"), ">= 3"),
        ("   CPU per call", mmm("voice_vs_peer_cpu"), ""),
        ("3. lease latency, 100,000 vs 10 numbers", f"{lat['ratio_100000_vs_10']:.2f}", "<= 1.3"),
        ("   (1,000 vs 10)", f"{lat['ratio_1000_vs_10']:.2f}", ""),
        ("4. Redis bytes per live session, 10 pages", f"{mem['bytes_per_session']}", "<= 1024"),
        ("5. snippet bytes after gzip -9", f"{snip['gzip_bytes']}", "<= 2000"),
        ("   5,000-node page swapped vs page alone", f"{snip['swapped_vs_without']:.2f}", ""),
        ("   one swap pass over the page, ms", f"{snip['one_swap_pass_ms']:.1f}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>22}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>22}  {target}")
    out = HERE / "results" / "bench.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(HERE.parent)} in {results['elapsed_s']} s")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
