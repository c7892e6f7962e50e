"""The attribution simulator, on real Redis with injected time."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from ringtrail.cli import main
from ringtrail.reports.simulation import Traffic, simulate
from ringtrail.reports.sizing import recommend

SMALL = Traffic(
    peak_arrivals_per_hour=40, call_share=0.5, mean_pages=3, mean_page_seconds=60, days=1, seed=11
)


def test_recommended_size_attributes_calls_in_the_lease_window(redis_client):
    """The pool-health recommendation gives ≥ 99 % correct attribution within the lease."""
    lease = 600
    size = recommend(SMALL.peak_arrivals_per_hour, SMALL.hold_seconds(lease))
    started = time.perf_counter()
    result = simulate(redis_client, SMALL, numbers=size, lease_seconds=lease)
    assert time.perf_counter() - started < 30  # a simulated day, no sleeping
    assert sum(result.in_window.values()) >= 100  # enough calls to mean something
    assert result.share("correct", window_only=True) >= 0.99, result.row()
    assert not redis_client.keys("ringtrail:{pool:*")  # the run cleans up after itself


def test_undersized_pools_lose_attribution(redis_client):
    lease = 600
    size = recommend(SMALL.peak_arrivals_per_hour, SMALL.hold_seconds(lease))
    small = simulate(redis_client, SMALL, numbers=max(2, size // 4), lease_seconds=lease)
    assert small.share("correct") < 0.8
    assert small.share("ambiguous") > 0.1


def test_loss_system_matches_erlang_b(redis_client):
    lease = 600
    load = SMALL.offered_load(lease)
    result = simulate(
        redis_client, SMALL, numbers=int(load), lease_seconds=lease, policy="original"
    )
    row = result.row()
    # The peak window averages a little under the peak rate, so observed ≤ predicted,
    # but the same order of magnitude.
    assert 0.4 * row["peak_overflow_erlang_b"] <= row["peak_overflow_observed"]
    assert row["peak_overflow_observed"] <= 1.2 * row["peak_overflow_erlang_b"]


def test_simulate_command_writes_a_table_and_a_plot(redis_url, redis_client, tmp_path):
    out = tmp_path / "sim"
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--sizes",
            "4,12",
            "--leases",
            "600",
            "--peak",
            "20",
            "--days",
            "0.6",
            "--out",
            str(out),
            "--redis-url",
            redis_url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "recommended for 10 min leases" in result.output
    data = json.loads((tmp_path / "sim.json").read_text())
    assert {(r["numbers"], r["allocation"]) for r in data["runs"]} == {
        (4, "lru"),
        (4, "random"),
        (12, "lru"),
        (12, "random"),
    }
    svg = (tmp_path / "sim.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
