"""No pathological lease: on an exhausted pool whose live leases all expire at the same
instant, shared leases are spread over the numbers, and each stays cheap in Redis."""

from __future__ import annotations

import json
import statistics
from collections import Counter

import pytest

from ringtrail.tracking.pool import PoolKeys, PoolStore
from tests.helpers import tracking_numbers

T0 = 1_800_000_000.0


@pytest.fixture
def store(redis_client):
    return PoolStore(redis_client)


def lease(store, session, numbers, now=T0, pool=1):
    return store.lease(pool, session, numbers=numbers, lease_seconds=600, now=now, rest_seconds=0)


def redis_microseconds(redis_client, count: int) -> list[int]:
    """Redis's own time (µs) for the last ``count`` EVALSHA calls, from the slow log."""
    entries = redis_client.slowlog_get(100_000)  # the script's own commands are logged too
    times = [e["duration"] for e in entries if _name(e["command"]) == "evalsha"]
    assert len(times) >= count
    return times[:count]


def _name(command: bytes | str) -> str:
    text = command.decode() if isinstance(command, bytes) else command
    return text.split(" ", 1)[0].lower()


@pytest.fixture
def every_command_logged(redis_client):
    saved = redis_client.config_get("slowlog-*")
    redis_client.config_set("slowlog-log-slower-than", 0)
    redis_client.config_set("slowlog-max-len", 100_000)
    redis_client.slowlog_reset()
    yield
    redis_client.config_set("slowlog-log-slower-than", saved["slowlog-log-slower-than"])
    redis_client.config_set("slowlog-max-len", saved["slowlog-max-len"])
    redis_client.slowlog_reset()


def test_shared_leases_on_tied_scores_spread_over_every_number(store, redis_client):
    numbers = tracking_numbers(40)
    for i in range(40):  # every lease starts at T0: every busy score is T0 + 600
        assert lease(store, f"first-{i}", numbers).status == "new"
    keys = PoolKeys(1)
    assert redis_client.zcount(keys.busy, T0 + 600, T0 + 600) == 40
    shared = [lease(store, f"shared-{i}", numbers) for i in range(400)]
    assert {s.status for s in shared} == {"shared"}
    per_number = Counter(s.number for s in shared)
    assert set(per_number) == set(numbers)
    assert set(per_number.values()) == {10}  # 400 shares, 40 numbers: 10 each
    # So no number's lease record grows with the shares: 1 holder + 10 sharers each.
    for number in numbers:
        assert len(json.loads(redis_client.hget(keys.leases, number))) == 11


def test_ties_among_part_of_the_pool_go_round_the_tied_numbers(store, redis_client):
    numbers = tracking_numbers(6)
    for i in range(3):
        lease(store, f"early-{i}", numbers, now=T0)  # expire at T0 + 600
    for i in range(3):
        lease(store, f"late-{i}", numbers, now=T0 + 5)  # expire at T0 + 605
    early = {
        n for n, s in PoolStore(redis_client).redis.zscan_iter(PoolKeys(1).busy) if s == T0 + 600
    }
    got = [lease(store, f"s{i}", numbers, now=T0 + 6).number for i in range(3)]
    # Each share renews its number to T0 + 606, so the three that expire first go first.
    assert set(got) == early


def test_a_shared_lease_costs_the_same_after_hundreds_of_shares(
    store, redis_client, every_command_logged
):
    numbers = tracking_numbers(200)
    for i in range(200):
        lease(store, f"first-{i}", numbers)
    for i in range(100):
        lease(store, f"early-{i}", numbers)
    early = statistics.median(redis_microseconds(redis_client, 100))
    redis_client.slowlog_reset()
    for i in range(1_000):
        lease(store, f"middle-{i}", numbers)
    redis_client.slowlog_reset()
    for i in range(100):
        lease(store, f"late-{i}", numbers)
    late = statistics.median(redis_microseconds(redis_client, 100))
    # On one number, the 1,200th share decodes and rewrites 1,200 leases: tens of times
    # the first ones. Spread, each number holds 7 leases at most.
    assert late < 3 * early + 50, (early, late)
    assert late < 2_000
