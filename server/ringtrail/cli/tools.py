"""Tools for measuring Ringtrail: the attribution simulator and the benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import click

from ringtrail.reports.simulation import OUTCOMES, Traffic, svg_plot
from ringtrail.reports.simulation import simulate as run
from ringtrail.reports.sizing import recommend
from ringtrail.storage.clients import make_redis, start_embedded_redis


@click.command()
@click.option(
    "--sizes",
    default="5,10,20,30,45,60,90",
    show_default=True,
    help="Pool sizes to try, comma-separated.",
)
@click.option(
    "--leases",
    default="900,1800",
    show_default=True,
    help="Lease times in seconds, comma-separated.",
)
@click.option("--peak", default=60.0, show_default=True, help="Peak visitors per hour.")
@click.option("--days", default=3.0, show_default=True, help="Simulated days per run.")
@click.option(
    "--out",
    default="bench/results/simulation",
    show_default=True,
    help="Path prefix for the .json table and the .svg plot.",
)
@click.option("--redis-url", default=None, help="A Redis to use (default: embedded).")
def simulate(
    sizes: str, leases: str, peak: float, days: float, out: str, redis_url: str | None
) -> None:
    """Measure attribution accuracy on synthetic traffic, for a grid of pools."""

    keep: dict = {}
    url = redis_url or start_embedded_redis(tempfile.mkdtemp(prefix="ringtrail-sim-"), keep)
    client = make_redis(url, None, retries=True)
    traffic = Traffic(peak_arrivals_per_hour=peak, days=days)
    results, erlang = [], []
    for lease in [int(x) for x in leases.split(",")]:
        for size in [int(x) for x in sizes.split(",")]:
            for allocation in ("lru", "random"):
                results.append(
                    run(client, traffic, numbers=size, lease_seconds=lease, allocation=allocation)
                )
            # A pure loss system (no sharing on exhaustion) is what Erlang-B describes.
            erlang.append(
                run(client, traffic, numbers=size, lease_seconds=lease, policy="original")
            )
    header = (
        f"{'lease':>6}{'numbers':>8}{'alloc':>7}{'calls':>7}"
        + "".join(f"{o:>10}" for o in OUTCOMES)
        + f"{'in window':>10}{'overflow':>9}{'Erlang-B':>9}"
    )
    click.echo(header)
    by_key = {(r.lease_seconds, r.numbers): r for r in erlang}
    for r in results:
        row = r.row()
        loss = by_key[(r.lease_seconds, r.numbers)].row()
        click.echo(
            f"{r.lease_seconds // 60:>5}m{r.numbers:>8}{r.allocation:>7}{row['calls']:>7}"
            + "".join(f"{row[o]:>10.1%}" for o in OUTCOMES)
            + f"{row['correct_in_lease_window']:>10.1%}"
            + f"{loss['peak_overflow_observed']:>9.1%}{loss['peak_overflow_erlang_b']:>9.1%}"
        )
    for lease in sorted({r.lease_seconds for r in results}):
        size = recommend(peak, traffic.hold_seconds(lease))
        click.echo(f"recommended for {lease // 60} min leases at 1 % overflow: {size} numbers")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(f"{out}.json", "w") as fh:
        json.dump(
            {
                "traffic": traffic.__dict__,
                "runs": [r.row() for r in results],
                "loss_system": [r.row() for r in erlang],
            },
            fh,
            indent=2,
        )
    svg_plot(results, f"{out}.svg")
    click.echo(f"wrote {out}.json and {out}.svg")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Run every benchmark and print one table (bench/run.py; needs the source tree)."""
    script = os.path.join("bench", "run.py")
    if not os.path.exists(script):
        raise click.ClickException(
            "ringtrail bench runs bench/run.py: start it from a Ringtrail source checkout"
        )
    sys.exit(subprocess.call([sys.executable, script, *args]))
