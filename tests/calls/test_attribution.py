"""The six attribution bugs of issue 13, each reproduced as reported, through the real
lease script on real Redis and :func:`attribute`: a one-number pool, 15-minute leases and
a 60-minute match window."""

from __future__ import annotations

import time

import pytest

from ringtrail.calls.attribution import (
    PRESENT_SECONDS,
    EarlierCall,
    attribute,
    candidates,
    repeat_of,
)
from ringtrail.tracking.pool import LeaseRecord, PoolStore
from tests.helpers import tracking_numbers

T0 = 1_800_000_000.0
LEASE = 900
WINDOW = 3600
[NUMBER] = tracking_numbers(1, start=300)


@pytest.fixture
def store(redis_client):
    return PoolStore(redis_client)


def lease(store, session, at, *, policy="reuse_oldest", rest=WINDOW, history=WINDOW + 86400):
    """A page view (or heartbeat) of ``session`` at T0 + ``at`` on the one-number pool."""
    return store.lease(
        1,
        session,
        numbers=[NUMBER],
        lease_seconds=LEASE,
        policy=policy,
        rest_seconds=rest,
        history_seconds=history,
        now=T0 + at,
    )


def judge(store, at):
    """Attribute a call at T0 + ``at`` to the pool's number, from what Redis remembers."""
    return attribute(store.records(1, NUMBER), T0 + at, WINDOW)


def test_bug1_a_number_is_not_re_leased_within_the_match_window(store):
    """A leases at 0, B asks at 1000, A calls at 1100: never `exact → B`."""
    assert lease(store, "A", 0).status == "new"
    got = lease(store, "B", 1000)
    # The number rests until 900 + 3600: B finds no rested number, and the exhaustion
    # policy shares it, so both could have called.
    assert (got.status, got.shared) == ("shared", True)
    found = judge(store, 1100)
    assert found.confidence == "ambiguous"
    assert set(found.candidates) == {"A", "B"}
    # Under the "original" policy B gets no number at all, and A's call is A's.
    store.forget(1)
    lease(store, "A", 0, policy="original")
    assert lease(store, "B", 1000, policy="original").status == "original"
    assert (judge(store, 1100).confidence, judge(store, 1100).session) == ("late", "A")
    # After the rest, B would get the number alone.
    assert lease(store, "C", 900 + WINDOW, policy="original").status == "new"


def test_bug2_late_only_for_the_one_visitor_who_could_have_called(store):
    """A 0–900, B 1000–1900, A calls at 2000: not `late → B`."""
    lease(store, "A", 0)
    lease(store, "B", 1000)  # shared: the number still rests
    found = judge(store, 2000)
    assert found.confidence == "ambiguous"
    assert found.candidates == ("B", "A")  # the most recently active first
    # Once A's window is over, only B could call: late → B.
    later = judge(store, 900 + WINDOW + 1)
    assert (later.confidence, later.session) == ("late", "B")


def test_bug3_one_boundary_rule_for_the_script_and_the_attribution(store):
    """At a lease's end, lease.lua takes it for expired and attribute() for not live.
    (A one-minute lease, so that its visitor is still present at its very end.)"""
    store.lease(1, "A", numbers=[NUMBER], lease_seconds=60, rest_seconds=0, now=T0)
    [record] = store.records(1, NUMBER)
    assert (record.end, record.last) == (T0 + 60, T0)
    assert record.live(T0 + 60 - 0.001) and not record.live(T0 + 60)
    assert judge(store, 60 - 0.001).confidence == "exact"
    assert (judge(store, 60).confidence, judge(store, 60).session) == ("late", "A")
    # The script agrees: at that very second the number is free for another visitor.
    got = store.lease(1, "B", numbers=[NUMBER], lease_seconds=60, rest_seconds=0, now=T0 + 60)
    assert got.status == "new"


def test_exact_needs_the_visitor_on_the_page(store):
    """A live lease whose visitor has been idle for more than two heartbeats is `late`:
    a stranger dialling the number then is likelier than on a page in use."""
    lease(store, "A", 0)
    lease(store, "A", 60)  # a heartbeat: the visitor is active until 60
    assert judge(store, 60 + PRESENT_SECONDS).confidence == "exact"
    idle = judge(store, 61 + PRESENT_SECONDS)
    assert (idle.confidence, idle.session) == ("late", "A")


def test_bug4_history_is_pruned_relative_to_the_call_not_its_processing(store):
    """A call at 1000 is `late → A` whether processed at once or at 7000, after two later
    leases (a spool replay, a queue backlog)."""
    lease(store, "A", 0)
    at_once = judge(store, 1000)
    assert (at_once.confidence, at_once.session) == ("late", "A")
    lease(store, "B", 900 + WINDOW)  # the number has rested: B gets it alone
    lease(store, "C", 900 + WINDOW + 100)  # exhausted: C shares it
    lease(store, "D", 7000)  # processing happens now: the lease script prunes history
    replayed = judge(store, 1000)
    assert (replayed.confidence, replayed.session) == ("late", "A")


def test_bug5_the_shared_flag_covers_only_the_time_it_was_shared(store):
    """After B shares A's number for one minute, A's calls are ambiguous only while B
    could still call."""
    for at in range(0, 9000, 60):  # A stays active throughout
        lease(store, "A", at)
        if at in (120, 180):
            assert lease(store, "B", at).number == NUMBER  # B shares it for a minute
    during = judge(store, 500)
    assert (during.confidence, set(during.candidates)) == ("ambiguous", {"A", "B"})
    b_gone = 180 + LEASE + WINDOW  # B's lease ended at 180 + 900; its window too
    after = judge(store, b_gone + 60)
    assert (after.confidence, after.session) == ("exact", "A")


@pytest.mark.parametrize("policy", ["original", "overflow"])
def test_bug6_exhaustion_is_counted_once_per_visitor(store, policy):
    """Two visitors and ten requests: one new lease, one exhaustion (not ten)."""
    assert lease(store, "A", 0, policy=policy).status == "new"
    answers = {lease(store, "B", 10 + 30 * i, policy=policy).status for i in range(9)}
    assert answers == {policy}
    stats = store.stats(1)
    assert (stats["leases"], stats["exhausted"]) == ("1", "1")
    day, hour = time.strftime("%Y-%m-%d %H", time.gmtime(T0)).split()
    hours = store.hours(1, day)
    assert (hours[f"new:{hour}"], hours[f"exhausted:{hour}"]) == (1, 1)


def test_a_spooled_call_is_judged_with_a_tolerance():
    """A call read on a web node's clock 3 s fast still finds the lease live at its end."""
    records = [LeaseRecord("A", 0, 100, False), LeaseRecord("B", 5000, 5100, False)]
    assert attribute(records, 102, WINDOW).confidence == "late"
    assert attribute(records, 102, WINDOW, tolerance=5).confidence == "exact"
    # The tolerance widens who could have called too: at the edge of A's window.
    edge = 100 + WINDOW + 2
    assert [r.session for r in candidates(records, edge, WINDOW)] == []
    assert [r.session for r in candidates(records, edge, WINDOW, tolerance=5)] == ["A"]


def test_repeat_callers_match_the_same_number_or_the_pool_when_nobody_else_could():
    day = 86400.0
    earlier = [
        EarlierCall(1, 0.0, "+1555", 7),
        EarlierCall(2, 2 * day, "+1666", 7),
        EarlierCall(3, 3 * day, "+1777", 8),
    ]
    t = 4 * day
    exact = attribute([LeaseRecord("Z", t - 10, t + 10, False)], t, WINDOW)
    none = attribute([], t, WINDOW)
    # The same number again: a redial, whoever holds the number now.
    assert repeat_of(exact, earlier, number="+1555", pool_id=7, t=t, window=30 * day).id == 1
    # Another number of the same pool: only when the leases name nobody.
    assert repeat_of(exact, earlier, number="+1999", pool_id=7, t=t, window=30 * day) is None
    assert repeat_of(none, earlier, number="+1999", pool_id=7, t=t, window=30 * day).id == 2
    # Outside the window, or another pool: not a repeat.
    assert repeat_of(none, earlier, number="+1555", pool_id=7, t=t, window=day) is None
    assert repeat_of(none, earlier, number="+1999", pool_id=9, t=t, window=30 * day) is None
