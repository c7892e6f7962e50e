"""Erlang-B sizing against the published table in FACTS.md."""

from __future__ import annotations

import pytest

from ringtrail.reports.sizing import erlang_b, numbers_needed, recommend


@pytest.mark.parametrize(
    ("load", "numbers"),
    [(5, 11), (7.5, 15), (10, 18), (20, 30), (50, 64), (100, 117), (500, 527)],
)
def test_numbers_for_one_percent_overflow(load, numbers):
    assert numbers_needed(load, 0.01) == numbers
    assert erlang_b(numbers, load) <= 0.01 < erlang_b(numbers - 1, load)


def test_sizing_at_the_mean_concurrency_overflows_a_lot():
    # FACTS.md: sized at the mean concurrency, 8 to 28 % of visitors overflow.
    for load in (6, 10, 20, 50, 80):
        assert 0.08 <= erlang_b(load, load) <= 0.28


def test_recommend_uses_arrival_rate_times_lease_time():
    # 120 visitors an hour holding 30 minutes each is an offered load of 60.
    assert recommend(120, 1800) == numbers_needed(60)


@pytest.mark.parametrize(("servers", "load"), [(-1, 1), (1, -1)])
def test_bad_arguments(servers, load):
    with pytest.raises(ValueError):
        erlang_b(servers, load)
