"""Tools for measuring Ringtrail: the attribution simulator and the benchmarks."""

from __future__ import annotations

import calendar
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time

import click

from ringtrail.reports import accuracy
from ringtrail.reports.simulation import (
    DAY,
    EPOCH,
    Autosize,
    Traffic,
    estimate,
    replay,
    scenario,
    svg_plot,
)
from ringtrail.storage.clients import make_redis, start_embedded_redis

PILOT_NUMBERS = 800  # big enough that only a burst exhausts it: the load as it comes


@click.command()
@click.option("--leases", default="900,1800", show_default=True, help="Lease seconds.")
@click.option(
    "--sizes",
    default="auto",
    show_default=True,
    help="Pool sizes, comma-separated; auto: ¾, 1 and 1¼ of the recommended size; "
    "recommended: that size only.",
)
@click.option("--seeds", default=3, show_default=True, help="Seeds (independent traffic).")
@click.option("--days", default=30.0, show_default=True, help="Simulated days per run.")
@click.option("--peak", default=60.0, show_default=True, help="Peak visitors per hour.")
@click.option("--allocations", default="lru,random", show_default=True)
@click.option("--rest", type=int, default=None, help="Rest seconds (default: match window).")
@click.option("--window", default=3600, show_default=True, help="Match window seconds.")
@click.option(
    "--clock",
    type=click.Choice(["redis", "nodes"]),
    default="redis",
    show_default=True,
    help="redis: one clock; nodes: each web node's own (the old way).",
)
@click.option("--skew", default=30.0, show_default=True, help="One web node's clock error, s.")
@click.option("--separate-tabs", is_flag=True, help="Each tab its own visit (the old snippet).")
@click.option("--on-intent", is_flag=True, help="Lease only once the visitor shows intent.")
@click.option("--bots", default=15.0, show_default=True, help="Undetected bots per hour.")
@click.option("--burst", default=500, show_default=True, help="Visitors in a campaign burst.")
@click.option(
    "--ramp",
    default=None,
    help="Traffic ramp FACTOR:DAYS (2:7: traffic doubles over 7 days), from --ramp-from.",
)
@click.option("--ramp-from", default=7.0, show_default=True, help="Day the ramp starts.")
@click.option(
    "--autosize",
    is_flag=True,
    help="Also replay each size as an auto-sized pool (the planner each midnight).",
)
@click.option(
    "--out",
    default="bench/results/simulation",
    show_default=True,
    help="Path prefix for the .json results and the .svg plot.",
)
@click.option("--redis-url", default=None, help="A Redis to use (default: embedded).")
def simulate(
    leases,
    sizes,
    seeds,
    days,
    peak,
    allocations,
    rest,
    window,
    clock,
    skew,
    separate_tabs,
    on_intent,
    bots,
    burst,
    ramp,
    ramp_from,
    autosize,
    out,
    redis_url,
) -> None:
    """Measure attribution accuracy on realistic synthetic traffic, through the real lease
    script and attribution, over several seeds, with 95 % Wilson intervals."""
    keep: dict = {}
    url = redis_url or start_embedded_redis(tempfile.mkdtemp(prefix="ringtrail-sim-"), keep)
    client = make_redis(url, None, retries=True)
    base = Traffic(
        peak_arrivals_per_hour=peak,
        days=days,
        one_clock=clock == "redis",
        clock_skew_seconds=skew,
        tabs_share_a_visit=not separate_tabs,
        on_intent=on_intent,
        bots_per_hour=bots,
        burst_visitors=burst,
        **_ramp(ramp, ramp_from),
    )
    plans = [scenario(dataclasses.replace(base, seed=base.seed + i)) for i in range(seeds)]
    rest_for = window if rest is None else rest
    started = time.time()
    report: dict = {
        "traffic": dataclasses.asdict(base),
        "seeds": seeds,
        "estimates": {},
        "runs": [],
        "summaries": [],
    }
    for lease in [int(x) for x in leases.split(",")]:
        pilot = replay(
            client,
            plans[0],
            numbers=PILOT_NUMBERS,
            lease_seconds=lease,
            match_window=window,
            rest_seconds=rest_for,
        )
        # With a ramp, the size is the one the days before it recommend (sized for the start).
        start_days = {
            day: h
            for day, h in pilot.hours.items()
            if not ramp or calendar.timegm(time.strptime(day, "%Y-%m-%d")) < EPOCH + ramp_from * DAY
        }
        est = estimate(start_days, lease, rest_for)
        report["estimates"][str(lease)] = est
        rec = est["recommended"]
        click.echo(
            f"{lease // 60} min leases: {est['peak_arrivals']:.0f} arrivals in the busiest hour "
            f"on 90 % of days, kept {est['kept_seconds']:.0f} s + rest {rest_for} s: "
            f"recommended {rec} numbers ({rec - est['without_rest']} for the rest)"
        )
        if sizes == "auto":
            chosen = sorted({max(1, round(rec * 0.75)), rec, round(rec * 1.25)})
        elif sizes == "recommended":
            chosen = [rec]
        else:
            chosen = [int(x) for x in sizes.split(",")]
        modes = [None, Autosize()] if autosize else [None]
        for size in chosen:
            for allocation in allocations.split(","):
                for sizer in modes:
                    rows = []
                    for plan in plans:
                        result = replay(
                            client,
                            plan,
                            numbers=size,
                            lease_seconds=lease,
                            match_window=window,
                            rest_seconds=rest_for,
                            allocation=allocation,
                            autosize=sizer,
                        )
                        rows.append(result.row())
                    report["runs"] += rows
                    summary = accuracy.summary(rows)
                    report["summaries"].append(
                        {
                            "lease_seconds": lease,
                            "numbers": size,
                            "allocation": allocation,
                            "recommended": size == rec,
                            "autosize": sizer is not None,
                            **accuracy.jsonable(summary),
                        }
                    )
                    mode = ""
                    if autosize:
                        mode = ", auto-sized from there" if sizer else ", fixed"
                    _echo(lease, size, allocation + mode, size == rec, summary)
                    if sizer is not None:
                        _echo_sizes(rows)
    report["seconds"] = round(time.time() - started, 1)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(f"{out}.json", "w") as fh:
        json.dump(report, fh, indent=1)
    svg_plot(
        [dict(s, right_within=s["right_within"]["share"] or 0) for s in report["summaries"]],
        f"{out}.svg",
    )
    click.echo(f"wrote {out}.json and {out}.svg in {report['seconds']} s")


def _ramp(ramp: str | None, ramp_from: float) -> dict:
    """Traffic's ramp fields from ``FACTOR:DAYS``."""
    if not ramp:
        return {}
    factor, _, days = ramp.partition(":")
    try:
        out = {"ramp": float(factor), "ramp_days": float(days or 7), "ramp_from": ramp_from}
    except ValueError:
        raise click.BadParameter("say FACTOR:DAYS, for example 2:7", param_hint="--ramp") from None
    if out["ramp"] <= 0 or out["ramp_days"] <= 0 or ramp_from < 0:
        raise click.BadParameter("the factor and the days must be positive", param_hint="--ramp")
    return out


def _echo_sizes(rows: list[dict]) -> None:
    for row in rows:
        click.echo(
            f"  auto-sized, seed {row['seed']}: numbers by day "
            + " ".join(str(n) for n in row["sizes"])
            + f"; bought {row['bought']}, retired {row['retired']}, released {row['released']}"
        )


def _echo(lease: int, size: int, allocation: str, recommended: bool, s: dict) -> None:
    mark = " (recommended)" if recommended else ""
    click.echo(f"\n{lease // 60} min, {size} numbers{mark}, {allocation}:")
    for name, label in (
        ("right_within", "right visitor, calls within the lease"),
        ("sure_within", "right and sure (exact, late, repeat), calls within the lease"),
        ("right_all_visitor_calls", "right visitor, all calls from visitors"),
        ("exact_wrong_visitor", "exact but another visitor"),
        ("exact_no_visit", "exact but the caller never visited"),
        ("late_wrong", "late but wrong"),
        ("no_visit_certain", "callers with no visit labelled exact or late"),
        ("redials_right", "redials attributed right (callers with a caller id)"),
        ("withheld_redials_right", "redials from withheld numbers attributed right"),
        ("written_down_wrong", "numbers called days later, given to someone else"),
        ("peak_overflow", "visitors at the peak who got no number of their own"),
    ):
        click.echo(f"  {label}: {s[name].text(2)}")
    if s["worst_week"]:
        w = s["worst_week"]
        click.echo(
            f"  worst week (seed {w['seed']}, week {w['week']}): {w['right_within'].text(2)}"
        )
    click.echo(
        "  label × truth: "
        + "; ".join(
            f"{label} " + "/".join(str(n) for n in truths.values())
            for label, truths in s["table"].items()
            if any(truths.values())
        )
        + "  (right/wrong/missed/no visit)"
    )


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
