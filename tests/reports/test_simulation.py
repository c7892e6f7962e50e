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
