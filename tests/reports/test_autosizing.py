"""The autosizing planner: buy up to the maximum and the cap, retire only after the
cool-down, nothing otherwise; each with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ringtrail.reports import sizing
from ringtrail.reports.autosizing import BUY, NOTHING, RETIRE, Limits, Observed, Price, plan

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
USD = Price(115, "USD")
# 60 arrivals an hour holding a number 30 min + a 60 min rest: 90 Erlangs.
BUSY = Observed(peak_arrivals=60, hold_seconds=5400, size=10)


def test_price_parses_amount_and_currency():
    assert Price.parse("1.15 USD") == Price(115, "USD")
    assert Price.parse("2 eur") == Price(200, "EUR")
    assert Price.parse(1.15) == Price(115, "USD")
    assert Price.parse("0.5") == Price(50, "USD")
    for bad in ("", "abc", "1.155 USD", "-1 USD", "1 DOLLARS"):
        with pytest.raises(ValueError, match="not a price"):
            Price.parse(bad)
    assert USD.text(3) == "3.45 USD"


def test_too_small_a_pool_buys_what_erlang_b_recommends():
    made = plan(BUSY, Limits(max_numbers=500), USD, now=NOW)
    want = sizing.recommend(60, 5400, 0.01)
    assert made.recommended == want == made.target
    assert (made.action, made.count) == (BUY, want - 10)
    assert made.reason.startswith(f"buy {want - 10}:")


def test_the_target_overflow_changes_the_recommendation():
    strict = plan(BUSY, Limits(target_overflow=0.001, max_numbers=500), USD, now=NOW)
    loose = plan(BUSY, Limits(target_overflow=0.05, max_numbers=500), USD, now=NOW)
    assert strict.recommended > loose.recommended
    assert strict.count > loose.count


def test_buying_stops_at_the_maximum():
    made = plan(BUSY, Limits(max_numbers=40), USD, now=NOW)
    assert (made.action, made.count, made.target) == (BUY, 30, 40)
    assert "kept within 1–40" in made.reason


def test_buying_stops_at_the_cap_counting_retiring_numbers():
    # 23.00 USD pays for 20 numbers at 1.15; 10 leasable + 4 retiring leave room for 6.
    observed = Observed(60, 5400, size=10, retiring=4)
    made = plan(observed, Limits(max_numbers=500, monthly_cap_minor=2300), USD, now=NOW)
    assert (made.action, made.count) == (BUY, 6)
    assert "pays for 20" in made.reason
    full = plan(
        Observed(60, 5400, size=16, retiring=4),
        Limits(max_numbers=500, monthly_cap_minor=2300),
        USD,
        now=NOW,
    )
    assert (full.action, full.count) == (NOTHING, 0)
    assert "pays for 20" in full.reason


def test_a_cap_in_another_currency_buys_nothing():
    made = plan(BUSY, Limits(monthly_cap_minor=10**6, currency="EUR"), USD, now=NOW)
    assert (made.action, made.count) == (NOTHING, 0)
    assert "in EUR" in made.reason


def test_the_minimum_applies_without_traffic():
    made = plan(Observed(0, 5400, size=0), Limits(min_numbers=3), USD, now=NOW)
    assert (made.action, made.count, made.target) == (BUY, 3, 3)


def test_a_pool_of_the_right_size_does_nothing_and_forgets_its_surplus():
    want = sizing.recommend(60, 5400, 0.01)
    observed = Observed(60, 5400, size=want)
    made = plan(observed, Limits(max_numbers=500), USD, now=NOW, surplus_since=NOW)
    assert (made.action, made.count, made.surplus_since) == (NOTHING, 0, None)
    assert "meet the target" in made.reason


def test_surplus_retires_only_after_the_cool_down():
    want = sizing.recommend(60, 5400, 0.01)
    observed = Observed(60, 5400, size=want + 7)
    limits = Limits(max_numbers=500, cooldown_seconds=86400)
    first = plan(observed, limits, USD, now=NOW)
    assert (first.action, first.count, first.surplus_since) == (NOTHING, 0, NOW)
    assert "7 surplus" in first.reason
    almost = plan(
        observed, limits, USD, now=NOW + timedelta(hours=23, minutes=59), surplus_since=NOW
    )
    assert (almost.action, almost.surplus_since) == (NOTHING, NOW)
    done = plan(observed, limits, USD, now=NOW + timedelta(days=1), surplus_since=NOW)
    assert (done.action, done.count) == (RETIRE, 7)


def test_the_minimum_keeps_numbers_from_retiring():
    made = plan(
        Observed(0, 5400, size=5),
        Limits(min_numbers=5, cooldown_seconds=0),
        USD,
        now=NOW,
    )
    assert made.action == NOTHING


def test_a_lowered_maximum_retires_the_excess_after_the_cool_down():
    made = plan(
        Observed(60, 5400, size=50),
        Limits(max_numbers=40, cooldown_seconds=3600),
        USD,
        now=NOW,
        surplus_since=NOW - timedelta(hours=2),
    )
    assert (made.action, made.count) == (RETIRE, 10)
    assert made.to_json()["surplus_since"] == (NOW - timedelta(hours=2)).isoformat()
