"""Where a session start's time goes, in process: cProfile over the Flask test client.

    python bench/session_profile.py [--requests 3000] [--top 30] [--rounds 3]

Seeds a site whose pool has 1,000 numbers on an embedded Redis and SQLite, syncs it,
then sends ``POST /v1/sessions`` as the hot-path bench does (text/plain body, cycling
through bench/browser_agents.py's realistic user agents: more distinct ones than the
process's parse cache holds, so most are misses, as with real traffic), and the same
body to the minimal session endpoint (``bench/minimal.py``: one EVALSHA, JSON back)
through its own test client, one after the other, ``--rounds`` times.

Prints this process's CPU time per request of each (``time.process_time``: Redis's own
time is not in it, the client's is), their ratio (min / median / max over the rounds),
and the functions with the most CPU time in Ringtrail's session start, cumulative and
their own (a cProfile timed by ``time.process_time``, so waits on a busy Redis are left
out). The test client's own work is in both; figures from a busy machine are only good
for proportions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ORIGIN = "https://shop.example"


def app_and_body(tmp: str):
    """An app (as under gunicorn: a watcher thread, limits off) and a session body."""
    from ringtrail import create_app
    from ringtrail.storage.clients import start_embedded_redis
    from ringtrail.storage.sql import get_db, upgrade
    from ringtrail.tracking import devices
    from ringtrail.tracking.pool import get_pools
    from tests.helpers import make_site, tracking_numbers

    keep: dict = {}
    url = start_embedded_redis(tmp, keep)
    app = create_app(
        {
            "REDIS_URL": url,
            "DATABASE_URL": f"sqlite:///{tmp}/profile.sqlite3",
            "INSTANCE_PATH": tmp,
            "PUBLIC_URL": "http://127.0.0.1",
            "CACHE_SECONDS": 30,
            "SESSION_LIMIT_CLIENT": 0,
            "SESSION_LIMIT_SITE": 0,
        }
    )
    with app.app_context():
        upgrade()
        setup = make_site(get_db(), numbers=tracking_numbers(1_000), origins=(ORIGIN,))
        get_pools().sync(setup.pool.id, setup.numbers)
    devices.resolver(), devices.crawler_pattern()  # as post_worker_init does
    body = json.dumps({"site": setup.site_key, "url": ORIGIN + "/", "referrer": ""})
    return app, body, keep, url


def run(client, body: str, agents: list[str], count: int, path: str = "/v1/sessions") -> float:
    """CPU seconds of this process for ``count`` session starts, cycling through ``agents``."""
    started = time.process_time()
    for i in range(count):
        headers = {
            "Content-Type": "text/plain",
            "Origin": ORIGIN,
            "User-Agent": agents[i % len(agents)],
        }
        res = client.post(path, data=body, headers=headers)
        assert res.status_code == 200, res.data
    return time.process_time() - started


def minimal_app(url: str):
    """The minimal session endpoint on the same Redis, its pool seeded."""
    import minimal
    import redis

    from tests.helpers import tracking_numbers

    os.environ["BENCH_REDIS_URL"] = url
    minimal.seed(redis.Redis.from_url(url), tracking_numbers(1_000, start=1_000))
    return minimal.create_app()


def main() -> None:
    from browser_agents import realistic

    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dump", help="also write the profile here (pstats format)")
    args = parser.parse_args()
    agents = [ua for ua in realistic() if ua.isascii()]
    app, body, _keep, url = app_and_body(tempfile.mkdtemp(prefix="ringtrail-profile-"))
    client, base = app.test_client(), minimal_app(url).test_client()
    run(client, body, agents[:50], 200)  # warm: the directory, the pool, the scripts
    run(base, body, agents[:50], 200, "/sessions")
    n = args.requests
    mine, theirs = [], []
    for _ in range(args.rounds):
        mine.append(run(client, body, agents, n) / n * 1e6)
        theirs.append(run(base, body, agents, n, "/sessions") / n * 1e6)
    ratios = [a / b for a, b in zip(mine, theirs, strict=True)]
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    profiled = run(client, body, agents, n)
    profiler.disable()
    if args.dump:
        profiler.dump_stats(args.dump)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top // 2)

    def spread(values: list[float], digits: int = 0) -> str:
        low, mid, high = min(values), statistics.median(values), max(values)
        return " / ".join(f"{v:.{digits}f}" for v in (low, mid, high))

    print(
        f"{len(set(agents))} distinct user agents, {n} session starts a round, {args.rounds} rounds"
    )
    print(f"ringtrail CPU per session start: {spread(mine)} us (min / median / max)")
    print(f"minimal session endpoint CPU per request: {spread(theirs)} us")
    print(f"ratio: {spread(ratios, 2)}")
    print(f"ringtrail under cProfile: {profiled / n * 1e6:.0f} us per session start")
    print(out.getvalue())


if __name__ == "__main__":
    main()
