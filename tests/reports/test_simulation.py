"""The attribution simulator, on real Redis with injected time (kept small: the README's
figures come from long runs of `ringtrail simulate`)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from ringtrail.cli import main
from ringtrail.cli.tools import estimate
from ringtrail.reports.accuracy import share, summary, wilson
from ringtrail.reports.simulation import Traffic, replay, scenario

SMALL = Traffic(
    peak_arrivals_per_hour=40,
    call_share=0.3,
    bots_per_hour=4,
    burst_visitors=0,
    days=1,
    seed=11,
)


@pytest.fixture(scope="module")
def plan():
    return scenario(SMALL)


def test_the_recommended_size_attributes_calls_in_the_lease_right(redis_client, plan):
    """The size the dashboard's estimate recommends gives ≥ 99 % right within the lease,
    and the run cleans up after itself."""
    lease = 600
    pilot = replay(redis_client, plan, numbers=300, lease_seconds=lease)
    size = estimate(pilot.hours, lease, 3600)["recommended"]
    result = replay(redis_client, plan, numbers=size, lease_seconds=lease)
    s = summary([result.row()])
    assert s["right_within"].total >= 80
    assert s["right_within"].value >= 0.99, s["right_within"].text()
    assert s["exact_wrong_visitor"].hits == 0
    assert s["table"]["exact"]["right"] > 0 and s["table"]["none"]["no visit"] > 0
    assert not redis_client.keys("ringtrail:{pool:*")


def test_an_undersized_pool_shares_numbers_and_loses_certainty(redis_client, plan):
    small = summary([replay(redis_client, plan, numbers=4, lease_seconds=600).row()])
    assert small["peak_overflow"].value > 0.3
    assert small["table"]["ambiguous"]["right"] + small["table"]["ambiguous"]["wrong"] > 10


def test_with_one_clock_a_skewed_web_node_changes_nothing(redis_client):
    """Leases and calls on Redis's clock: the same calls, the same labels, whatever the
    web nodes' clocks say. On the nodes' own clocks (the old way) it does matter."""
    base = dataclasses.replace(SMALL, clock_skew_seconds=0.0)
    off = dataclasses.replace(SMALL, clock_skew_seconds=300.0)
    runs = {
        (one, skew.clock_skew_seconds): replay(
            redis_client,
            scenario(dataclasses.replace(skew, one_clock=one)),
            numbers=30,
            lease_seconds=60,
            match_window=120,
        ).table
        for one in (True, False)
        for skew in (base, off)
    }
    assert runs[(True, 0.0)] == runs[(True, 300.0)]
    assert runs[(False, 0.0)] != runs[(False, 300.0)]


@pytest.mark.parametrize(
    ("hits", "total", "low", "high"),
    [(0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (50, 100, 0.4038, 0.5962)],
)
def test_wilson_intervals(hits, total, low, high):
    lo, hi = wilson(hits, total)
    assert (round(lo, 4), round(hi, 4)) == (low, high)
    pooled = share([(hits, total), (hits, total)])
    assert pooled.total == 2 * total and pooled.seeds == (hits / total, hits / total)


def test_simulate_command_writes_results_and_a_plot(redis_url, tmp_path):
    out = tmp_path / "sim"
    args = ["simulate", "--sizes", "6,20", "--leases", "300", "--peak", "20", "--days", "0.5"]
    args += ["--seeds", "2", "--bots", "2", "--burst", "0", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--redis-url", redis_url])
    assert result.exit_code == 0, result.output
    assert "5 min leases:" in result.output and "recommended" in result.output
    assert "label × truth" in result.output
    data = json.loads((tmp_path / "sim.json").read_text())
    assert {(s["numbers"], s["allocation"]) for s in data["summaries"]} == {
        (6, "lru"),
        (6, "random"),
        (20, "lru"),
        (20, "random"),
    }
    assert len(data["runs"]) == 8 and {r["seed"] for r in data["runs"]} == {7, 8}
    assert set(data["summaries"][0]["right_within"]) >= {"share", "wilson95", "seeds"}
    svg = (tmp_path / "sim.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == 2


def test_a_ramp_grows_the_traffic_from_its_start_day():
    ramped = dataclasses.replace(SMALL, ramp=2.0, ramp_days=2.0, ramp_from=1.0, days=4)
    day = 86_400.0
    start = 14 * day  # the simulator's epoch
    assert ramped.growth(start + 0.5 * day) == 1.0
    assert ramped.growth(start + 2 * day) == pytest.approx(1.5)
    assert ramped.growth(start + 3.5 * day) == 2.0
    assert SMALL.growth(start + 3 * day) == 1.0
    flat = scenario(dataclasses.replace(ramped, ramp=1.0))
    grown = scenario(ramped)

    def on_day(s, d):
        return sum(
            1
            for t, _, kind, payload in s.events
            if kind == "lease"
            and payload[3]
            and payload[0] >= 0
            and start + d * day <= t < start + (d + 1) * day
        )

    assert on_day(grown, 0) == pytest.approx(on_day(flat, 0), rel=0.25)
    assert on_day(grown, 3) > 1.6 * on_day(flat, 3)


def test_an_auto_sized_pool_follows_a_ramp_a_fixed_one_does_not(redis_client):
    from ringtrail.reports.autosizing import Limits
    from ringtrail.reports.simulation import Autosize

    ramped = dataclasses.replace(SMALL, ramp=3.0, ramp_days=1.0, ramp_from=1.0, days=3)
    plan = scenario(ramped)
    pilot = replay(
        redis_client, scenario(dataclasses.replace(SMALL, days=1)), numbers=300, lease_seconds=600
    )
    size = estimate(pilot.hours, 600, 3600)["recommended"]
    fixed = replay(redis_client, plan, numbers=size, lease_seconds=600)
    auto = replay(
        redis_client,
        plan,
        numbers=size,
        lease_seconds=600,
        autosize=Autosize(Limits(max_numbers=10_000, cooldown_seconds=86_400)),
    )
    assert auto.sizes[0] >= size and auto.sizes[-1] > 2 * size and auto.bought > size
    assert fixed.sizes == [] and fixed.row()["autosize"] is False
    auto_s, fixed_s = summary([auto.row()]), summary([fixed.row()])
    # The planner acts each midnight, so it trails a steep ramp by a day; it still halves it.
    assert auto_s["peak_overflow"].value < fixed_s["peak_overflow"].value * 0.6
    assert auto_s["right_within"].value >= 0.99, auto_s["right_within"].text()
    # Shared numbers make the fixed pool's answers guesses (ambiguous) far more often.
    assert auto_s["sure_within"].value > fixed_s["sure_within"].value + 0.05
    assert not redis_client.keys("ringtrail:{pool:*")


def test_an_auto_sized_pool_retires_surplus_and_releases_it_later(redis_client):
    from ringtrail.reports.autosizing import Limits
    from ringtrail.reports.simulation import Autosize

    falling = dataclasses.replace(SMALL, ramp=0.2, ramp_days=0.5, ramp_from=1.0, days=3)
    result = replay(
        redis_client,
        scenario(falling),
        numbers=200,
        lease_seconds=600,
        autosize=Autosize(Limits(max_numbers=10_000, cooldown_seconds=0)),
    )
    assert result.retired > 100 and 0 < result.released <= result.retired
    assert result.sizes[-1] < 100
    assert summary([result.row()])["right_within"].value >= 0.99
