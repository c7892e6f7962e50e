"""The lease script on real Redis: atomicity, idempotency, LRU, expiry, exhaustion."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter

import pytest
import redis as redis_lib

from ringtrail.tracking.pool import PoolKeys, PoolStore
from tests.helpers import tracking_numbers

T0 = 1_800_000_000.0


@pytest.fixture
def store(redis_client):
    return PoolStore(redis_client)


def lease(store, session, *, numbers, now, policy="reuse_oldest", lease_seconds=60, pool=1, rest=0):
    """A lease with injected time; no rest unless asked (the rest has its own tests)."""
    return store.lease(
        pool,
        session,
        numbers=numbers,
        lease_seconds=lease_seconds,
        policy=policy,
        now=now,
        rest_seconds=rest,
    )


def test_same_session_gets_same_number(store):
    numbers = tracking_numbers(5)
    first = lease(store, "visitor-a", numbers=numbers, now=T0)
    assert first.status == "new"
    for i in range(1, 20):
        again = lease(store, "visitor-a", numbers=numbers, now=T0 + i)
        assert (again.status, again.number) == ("renewed", first.number)


def test_distinct_sessions_get_distinct_numbers(store):
    numbers = tracking_numbers(5)
    got = [lease(store, f"v{i}", numbers=numbers, now=T0).number for i in range(5)]
    assert sorted(got) == sorted(numbers)


def test_least_recently_released_first(store):
    numbers = tracking_numbers(3)
    a = lease(store, "a", numbers=numbers, now=T0, lease_seconds=10).number
    b = lease(store, "b", numbers=numbers, now=T0 + 1, lease_seconds=10).number
    c = lease(store, "c", numbers=numbers, now=T0 + 2, lease_seconds=10).number
    # b renews, so a ends first (T0+10), then c (T0+12), then b (T0+15).
    lease(store, "b", numbers=numbers, now=T0 + 5, lease_seconds=10)
    got = [
        lease(store, f"n{i}", numbers=numbers, now=T0 + 20, lease_seconds=10).number
        for i in range(3)
    ]
    assert got == [a, c, b]


def test_expiry_is_enforced_from_the_time_passed_in(store):
    numbers = tracking_numbers(1)
    first = lease(store, "a", numbers=numbers, now=T0, lease_seconds=30)
    # Before expiry the only number is held: a new visitor shares it (reuse_oldest).
    assert lease(store, "b", numbers=numbers, now=T0 + 29, lease_seconds=30).status == "shared"
    # After both expire, the number is free again and a new visitor gets it alone.
    fresh = lease(store, "c", numbers=numbers, now=T0 + 100, lease_seconds=30)
    assert (fresh.status, fresh.number, fresh.shared) == ("new", first.number, False)


def test_renewal_extends_the_lease(store):
    numbers = tracking_numbers(1)
    lease(store, "a", numbers=numbers, now=T0, lease_seconds=30, policy="original")
    lease(store, "a", numbers=numbers, now=T0 + 25, lease_seconds=30, policy="original")
    # Still held at T0+50 thanks to the renewal at T0+25 (ends T0+55).
    assert (
        lease(store, "b", numbers=numbers, now=T0 + 50, lease_seconds=30, policy="original").status
        == "original"
    )
    assert (
        lease(store, "c", numbers=numbers, now=T0 + 56, lease_seconds=30, policy="original").status
        == "new"
    )


def test_expired_session_gets_a_new_lease_not_a_resurrected_one(store):
    numbers = tracking_numbers(2)
    first = lease(store, "a", numbers=numbers, now=T0, lease_seconds=30)
    again = lease(store, "a", numbers=numbers, now=T0 + 31, lease_seconds=30)
    assert again.status == "new"
    assert again.number != first.number  # LRU: the just-released number waits longest


@pytest.mark.parametrize(
    ("policy", "status", "has_number"),
    [
        ("reuse_oldest", "shared", True),
        ("overflow", "overflow", False),
        ("original", "original", False),
    ],
)
def test_exhaustion_policies_are_counted(store, policy, status, has_number):
    numbers = tracking_numbers(2)
    held = {
        lease(store, s, numbers=numbers, now=T0 + i, policy=policy).number
        for i, s in enumerate(["a", "b"])
    }
    result = lease(store, "c", numbers=numbers, now=T0 + 5, policy=policy)
    assert result.status == status
    assert (result.number is not None) == has_number
    if has_number:
        assert result.shared
        # The least recently active lease is the one shared: a's (renewed least recently).
        assert result.number in held
    assert store.stats(1)["exhausted"] == "1"
    day, hour = time.strftime("%Y-%m-%d %H", time.gmtime(T0 + 5)).split()
    assert store.hours(1, day)[f"exhausted:{hour}"] == 1


def test_reuse_oldest_takes_the_least_recently_active(store):
    numbers = tracking_numbers(2)
    a = lease(store, "a", numbers=numbers, now=T0).number
    lease(store, "b", numbers=numbers, now=T0 + 1)
    lease(store, "b", numbers=numbers, now=T0 + 10)  # b active later than a
    shared = lease(store, "c", numbers=numbers, now=T0 + 11)
    assert shared.number == a


def test_lease_history_records_who_held_a_number(store):
    numbers = tracking_numbers(1)
    n = lease(store, "a", numbers=numbers, now=T0, lease_seconds=30).number
    lease(store, "b", numbers=numbers, now=T0 + 100, lease_seconds=30)  # reclaims a's lease
    records = sorted(store.records(1, n), key=lambda r: r.start)
    assert [(r.session, r.start, r.end) for r in records] == [
        ("a", T0, T0 + 30),
        ("b", T0 + 100, T0 + 130),
    ]


def test_history_is_forgotten_after_the_match_window(store):
    numbers = tracking_numbers(1)
    n = lease(store, "a", numbers=numbers, now=T0, lease_seconds=30).number
    store.lease(1, "b", numbers=numbers, lease_seconds=30, history_seconds=60, now=T0 + 1000)
    assert [r.session for r in store.records(1, n)] == ["b"]


def test_pool_edits_resync_and_keep_live_leases(store):
    numbers = tracking_numbers(3)
    held = lease(store, "a", numbers=numbers, now=T0).number
    smaller = [n for n in numbers if n != held][:1] + [held]
    # A pool edit (new version) is picked up on the next lease; a's lease survives.
    assert lease(store, "a", numbers=smaller, now=T0 + 1).number == held
    got = lease(store, "b", numbers=smaller, now=T0 + 2)
    assert got.number == smaller[0]
    removed = [n for n in numbers if n not in smaller][0]
    assert store.redis.zscore(PoolKeys(1).free, removed) is None


def test_a_flushed_redis_recovers_by_resyncing(store):
    numbers = tracking_numbers(2)
    lease(store, "a", numbers=numbers, now=T0)
    store.redis.flushdb()
    store.redis.script_flush()  # NOSCRIPT on the next call must be handled too
    assert lease(store, "b", numbers=numbers, now=T0 + 1).status == "new"


def test_hourly_load_is_counted(store):
    numbers = tracking_numbers(2)
    for i, s in enumerate("abc"):
        lease(store, s, numbers=numbers, now=T0 + i, lease_seconds=30)
    lease(store, "d", numbers=numbers, now=T0 + 100, lease_seconds=30)  # ends a, b and c
    day, hour = time.strftime("%Y-%m-%d %H", time.gmtime(T0)).split()
    hours = store.hours(1, day)
    assert (hours[f"new:{hour}"], hours[f"exhausted:{hour}"], hours[f"peak:{hour}"]) == (3, 1, 2)
    assert hours[f"ended:{hour}"] == 3
    assert hours[f"held:{hour}"] == 3 * 30  # each lease lasted its 30 s
    assert 2 * 86400 < store.redis.ttl(PoolKeys(1).hours(day)) <= 3 * 86400


def test_keys_share_the_pool_hash_tag():
    k = PoolKeys(42)
    keys = [
        k.numbers,
        k.free,
        k.busy,
        k.leases,
        k.holders,
        k.history,
        k.stats,
        k.visits("d"),
        k.hours("d"),
    ]
    assert all("{pool:42}" in key for key in keys)


def test_new_leases_count_visits(store):
    numbers = tracking_numbers(2)
    store.lease(1, "a", numbers=numbers, lease_seconds=60, visit_field="google|organic", now=T0)
    store.lease(
        1, "a", numbers=numbers, lease_seconds=60, visit_field="google|organic", now=T0 + 1
    )  # a renewal is not a new visit
    day = time.strftime("%Y-%m-%d", time.gmtime(T0))
    assert store.redis.hgetall(PoolKeys(1).visits(day)) == {"google|organic": "1"}


def _hammer(url: str, worker: int, count: int, numbers: list[str], out) -> None:
    client = redis_lib.Redis.from_url(url, decode_responses=True)
    store = PoolStore(client)
    got = []
    for i in range(count):
        res = store.lease(
            7,
            f"w{worker}-s{i}",
            numbers=numbers,
            lease_seconds=3600,
            policy="original",
            now=T0 + i * 0.001,
        )
        got.append((f"w{worker}-s{i}", res.status, res.number))
    out.put(got)


def test_concurrent_leases_never_double_book(redis_url, redis_client):
    """4 processes × 500 distinct sessions against 50 numbers: no number held twice."""
    numbers = tracking_numbers(50)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(redis_url, w, 500, numbers, out)) for w in range(4)]
    for p in procs:
        p.start()
    results = [row for _ in procs for row in out.get(timeout=120)]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len(results) == 2000
    granted = [number for _, status, number in results if status == "new"]
    assert len(granted) == 50
    assert len(set(granted)) == 50, Counter(granted).most_common(3)
    assert sum(1 for _, status, _ in results if status == "original") == 1950
    assert PoolStore(redis_client).stats(7)["exhausted"] == "1950"
    holders = redis_client.hgetall(PoolKeys(7).holders)
    assert sorted(holders.values()) == sorted(numbers)


def test_a_number_taken_out_of_the_pool_is_never_shared_only_renewed(store):
    """A retiring number leaves the lease set: on exhaustion another visitor shares a
    number still in the pool, never it; its own holder keeps renewing it."""
    numbers = tracking_numbers(2)
    a = lease(store, "holder-a", numbers=numbers, now=T0)
    b = lease(store, "holder-b", numbers=numbers, now=T0 + 5)
    assert {a.number, b.number} == set(numbers)
    staying = [b.number]  # a's number retires: the pool's list no longer has it
    for i in range(5):
        c = lease(store, f"late-{i}", numbers=staying, now=T0 + 10 + i)
        assert (c.status, c.number) == ("shared", b.number)
    again = lease(store, "holder-a", numbers=staying, now=T0 + 30)
    assert (again.status, again.number) == ("renewed", a.number)
    assert not store.redis.sismember(PoolKeys(1).numbers, a.number)
    # Once its lease ends it does not come back to the free set either.
    later = lease(store, "after", numbers=staying, now=T0 + 30 + 61)
    assert later.number == b.number
    assert store.redis.zscore(PoolKeys(1).free, a.number) is None
