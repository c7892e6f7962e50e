"""Every benchmark in one run, one table: `ringtrail bench` (or `python bench/run.py`).

1. POST /v1/sessions against a bare Flask JSON endpoint (same gunicorn settings), and
   the Redis commands it sends (bench/hotpaths.py);
2. the voice webhook: throughput, and p99 at half of saturation against the bare form
   endpoint at the same rate (bench/hotpaths.py);
3. lease latency for pools of 10, 1,000 and 100,000 numbers (bench/leases.py);
4. Redis memory per live session with 10 page views (bench/leases.py);
5. the snippet: served gzip size and the time to swap a 5,000-node page in headless
   Chromium against the same page without it (bench/snippet_bench.py).

Each figure is a ratio against a baseline measured in the same run, next to its target.
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
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=7, help="snippet page loads per kind")
    args = parser.parse_args()

    import hotpaths
    import leases

    started = time.time()
    results = {"http": hotpaths.run(args.duration, args.connections)}
    results.update(leases.main())
    results["snippet"] = snippet(args.runs)
    results["elapsed_s"] = round(time.time() - started)

    http, ratios = results["http"], results["http"]["ratios"]
    lat, mem, snip = results["lease_latency"], results["memory"], results["snippet"]
    rows = [
        (
            "1. POST /v1/sessions throughput vs bare",
            f"{ratios['sessions_throughput_vs_bare']:.2f}",
            ">= 0.85",
        ),
        (
            "   p50 / p99 ms (bare p99)",
            f"{http['sessions']['p50_ms']:.1f} / "
            f"{http['sessions']['p99_ms']:.1f} ({http['bare_json']['p99_ms']:.1f})",
            "",
        ),
        (
            "   Redis commands per request",
            f"{http['sessions']['redis_commands_per_request']}",
            "<= 2",
        ),
        ("2. voice webhook throughput vs bare", f"{ratios['voice_throughput_vs_bare']:.2f}", ""),
        (
            "   p99 at half saturation vs bare",
            f"{ratios['voice_p99_at_half_saturation_vs_bare']:.2f}",
            "<= 2",
        ),
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
