"""A number's lease history on real Redis: appended as text, pruned by age and count,
read in the JSON form older versions wrote (an upgrade loses no live visit's history),
and erased in either form."""

from __future__ import annotations

import json

import pytest

from ringtrail.calls.attribution import attribute
from ringtrail.tracking.pool import LeaseRecord, PoolKeys, PoolStore
from tests.helpers import tracking_numbers

T0 = 1_800_000_000.0
NUMBERS = tracking_numbers(1)
NUMBER = NUMBERS[0]


@pytest.fixture
def store(redis_client):
    return PoolStore(redis_client)


def turn(store, session: str, at: float, *, history: int = 3600 + 86400) -> str | None:
    """``session`` takes the pool's one number at ``at`` for 10 s (ending the last
    holder's lease, which goes to the history)."""
    got = store.lease(
        1,
        session,
        numbers=NUMBERS,
        lease_seconds=10,
        now=at,
        rest_seconds=0,
        history_seconds=history,
    )
    return got.number


def raw_history(store) -> str | None:
    return store.redis.hget(PoolKeys(1).history, NUMBER)


def test_ended_leases_are_appended_as_lines_oldest_first(store):
    for i in range(4):
        assert turn(store, f"s{i}", T0 + 20 * i) == NUMBER
    assert raw_history(store) == (
        "3\n"
        f"s0 {T0:.0f} {T0 + 10:.0f} 0 {T0:.0f}\n"
        f"s1 {T0 + 20:.0f} {T0 + 30:.0f} 0 {T0 + 20:.0f}\n"
        f"s2 {T0 + 40:.0f} {T0 + 50:.0f} 0 {T0 + 40:.0f}\n"
    )
    records = store.records(1, NUMBER)
    assert [r.session for r in records] == ["s3", "s2", "s1", "s0"]  # live, then newest first
    assert records[1] == LeaseRecord("s2", T0 + 40, T0 + 50, False, T0 + 40)


def test_fractions_of_a_second_are_kept_as_the_lease_had_them(store):
    turn(store, "a", T0 + 0.125)
    store.lease(1, "a", numbers=NUMBERS, lease_seconds=10, now=T0 + 3.5, rest_seconds=0)
    turn(store, "b", T0 + 20.25)
    [_, ended] = store.records(1, NUMBER)
    assert ended == LeaseRecord("a", T0 + 0.125, T0 + 13.5, False, T0 + 3.5)


def test_history_keeps_the_newest_64_and_forgets_by_age(store):
    for i in range(70):
        turn(store, f"s{i}", T0 + 20 * i)
    records = store.records(1, NUMBER)
    assert [r.session for r in records] == [f"s{i}" for i in range(69, 4, -1)]  # 1 live + 64
    assert raw_history(store).startswith("64\n")
    # Much later, with a history window of 100 s: only the lease that just ended stays.
    later = T0 + 20 * 70 + 5_000
    turn(store, "late", later, history=100)
    assert [r.session for r in store.records(1, NUMBER)] == ["late"]
    assert raw_history(store) is None
    turn(store, "later", later + 20, history=100)
    assert raw_history(store) == f"1\nlate {later:.0f} {later + 10:.0f} 0 {later:.0f}\n"


# What an older version wrote: a JSON array, newest first, the oldest entry without
# its visitor's latest activity and with a boolean for "shared".
OLD = [
    ["b", T0 + 20.5, T0 + 30.5, 1, T0 + 25.0],
    ["a", T0, T0 + 10, True],
]


def test_a_history_written_as_json_is_read_and_kept_on_upgrade(store):
    turn(store, "live", T0 + 40)  # a visitor on the page while the upgrade happens
    store.redis.hset(PoolKeys(1).history, NUMBER, json.dumps(OLD))
    before = store.records(1, NUMBER)
    assert before[1:] == [
        LeaseRecord("b", T0 + 20.5, T0 + 30.5, True, T0 + 25.0),
        LeaseRecord("a", T0, T0 + 10, True, None),
    ]
    # A call at T0 + 45 could be the live visitor's, or b's or a's (ended within the window).
    assert attribute(before, T0 + 45, 3600).candidates == ("live", "b", "a")

    turn(store, "next", T0 + 60)  # the live lease ends: the history is rewritten as text
    raw = raw_history(store)
    assert raw.startswith("3\n")
    after = store.records(1, NUMBER)
    assert [r.session for r in after] == ["next", "live", "b", "a"]
    assert after[2:] == before[1:]  # nothing of the old history lost or changed
    assert after[1] == LeaseRecord("live", T0 + 40, T0 + 50, False, T0 + 40)


def test_erasure_replaces_the_session_in_either_form(store):
    other = tracking_numbers(1, start=1)[0]
    k = PoolKeys(1)
    store.redis.hset(k.history, other, json.dumps(OLD))
    for i, session in enumerate(["a", "b", "a", "c"]):
        turn(store, session, T0 + 20 * i)
    assert store.erase_session(1, "a", "erased-1") == 3  # two lines, one JSON entry
    assert [r.session for r in store.records(1, NUMBER)] == ["c", "erased-1", "b", "erased-1"]
    assert [r.session for r in store.records(1, other)] == ["b", "erased-1"]
    assert store.records(1, other)[1] == LeaseRecord("erased-1", T0, T0 + 10, True, None)
    # The lines are still read, appended to and pruned as before.
    turn(store, "d", T0 + 100)
    assert raw_history(store).startswith("4\n")


def test_more_leases_ending_at_once_than_the_cap_keep_the_cap(store):
    # One number shared by 70 visitors (the pool is exhausted): all end together.
    for i in range(70):
        got = store.lease(1, f"v{i}", numbers=NUMBERS, lease_seconds=10, now=T0, rest_seconds=0)
        assert got.number == NUMBER
    turn(store, "next", T0 + 100)
    assert raw_history(store).startswith("64\n")
    records = store.records(1, NUMBER)
    assert len(records) == 65 and records[0].session == "next"
    assert len({r.session for r in records[1:]}) == 64
