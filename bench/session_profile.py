"""Where a session start's time goes, in process: cProfile over the Flask test client.

    python bench/session_profile.py [--requests 3000] [--top 30]

Seeds a site whose pool has 1,000 numbers on an embedded Redis and SQLite, syncs it,
then sends ``POST /v1/sessions`` as the hot-path bench does (text/plain body, cycling
through bench/browser_agents.py's realistic user agents: more distinct ones than the
process's parse cache holds, so most are misses, as with real traffic). Prints the
microseconds per request with and without the profiler, and the functions with the
most cumulative time. Figures from a busy machine are only good for proportions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
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
    return app, body, keep


def run(client, body: str, agents: list[str], count: int) -> float:
    """Seconds for ``count`` session starts, cycling through ``agents``."""
    started = time.perf_counter()
    for i in range(count):
        headers = {
            "Content-Type": "text/plain",
            "Origin": ORIGIN,
            "User-Agent": agents[i % len(agents)],
        }
        res = client.post("/v1/sessions", data=body, headers=headers)
        assert res.status_code == 200, res.data
    return time.perf_counter() - started


def main() -> None:
    from browser_agents import realistic

    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    agents = [ua for ua in realistic() if ua.isascii()]
    app, body, _keep = app_and_body(tempfile.mkdtemp(prefix="ringtrail-profile-"))
    client = app.test_client()
    run(client, body, agents[:50], 200)  # warm: the directory, the pool, the scripts
    plain = run(client, body, agents, args.requests)
    profiler = cProfile.Profile()
    profiler.enable()
    profiled = run(client, body, agents, args.requests)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
    print(f"{len(set(agents))} distinct user agents, {args.requests} session starts")
    print(
        f"per request: {plain / args.requests * 1e6:.0f} us,"
        f" profiled {profiled / args.requests * 1e6:.0f} us"
    )
    print(out.getvalue())


if __name__ == "__main__":
    main()
