"""The ``ringtrail`` command: demo, serve, worker, migrations and the spool."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup

from ringtrail import create_app


def _app(_info=None):
    return create_app()


@click.group(cls=FlaskGroup, create_app=_app, add_version_option=False)
def main() -> None:
    """Ringtrail: self-hosted call tracking by dynamic number insertion."""


def _embedded_env(port: int | None = None) -> dict[str, str]:
    """Environment for child processes, with the embedded Redis started here if needed.

    The parent owns the embedded server so gunicorn workers and the RQ worker share one.
    """
    env = dict(os.environ)
    if port and "RINGTRAIL_PUBLIC_URL" not in env:
        env["RINGTRAIL_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    if not env.get("RINGTRAIL_REDIS_URL"):
        from flask import Flask

        from ringtrail.storage.clients import start_embedded_redis

        state: dict = {}
        instance = os.environ.get("RINGTRAIL_INSTANCE_PATH") or Flask("ringtrail").instance_path
        env["RINGTRAIL_REDIS_URL"] = start_embedded_redis(instance, state)
        _embedded_env.keep = state  # type: ignore[attr-defined]  # keep the server alive
    os.environ.update(env)
    return env


def _migrate_and_seed(seed: bool) -> dict | None:
    from ringtrail.demo import seed_demo
    from ringtrail.storage.sql import get_db, upgrade

    app = create_app()
    with app.app_context():
        upgrade()
        if seed:
            return seed_demo(get_db(), app.config["PUBLIC_URL"])
    return None


def _gunicorn(bind: str, workers: int, threads: int, env: dict[str, str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "30",
        "--graceful-timeout",
        "10",
        "--access-logfile",
        "-",
        "ringtrail:create_app()",
    ]


def _run_children(commands: list[list[str]], env: dict[str, str]) -> int:
    """Run the processes until one ends or we are interrupted, then stop them all."""
    procs = [subprocess.Popen(cmd, env=env) for cmd in commands]
    try:
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while True:
            for proc in procs:
                if proc.poll() is not None:
                    return proc.returncode
            try:
                procs[0].wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@main.command(with_appcontext=False)
@click.option("--port", default=5000, show_default=True, help="Port on 127.0.0.1.")
def demo(port: int) -> None:
    """Run everything embedded, with demo data, on 127.0.0.1:PORT."""
    env = _embedded_env(port)
    info = _migrate_and_seed(seed=True)
    click.echo(f"Ringtrail demo: open http://127.0.0.1:{port}/demo")
    click.echo(json.dumps(info, indent=2))
    worker = [sys.executable, "-m", "ringtrail", "worker"]
    web = _gunicorn(f"127.0.0.1:{port}", 2, 4, env)
    sys.exit(_run_children([web, worker], env))


@main.command(with_appcontext=False)
def serve() -> None:
    """Run the web app under gunicorn, configured by RINGTRAIL_* variables."""
    env = _embedded_env()
    _migrate_and_seed(seed=False)
    bind = env.get("RINGTRAIL_BIND", "127.0.0.1:8000")
    workers = int(env.get("RINGTRAIL_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
    threads = int(env.get("RINGTRAIL_THREADS", "4"))
    cmd = _gunicorn(bind, workers, threads, env)
    if "RINGTRAIL_REDIS_URL" in os.environ and getattr(_embedded_env, "keep", None):
        sys.exit(_run_children([cmd], env))  # we own the embedded Redis: stay its parent
    os.execve(sys.executable, cmd, env)  # noqa: S606 (replace ourselves with gunicorn)


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker (with its scheduler) inside the app context."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from ringtrail.calls.intake import replay
    from ringtrail.storage.clients import get_queue

    try:
        replay()  # a single-node install shares the spool folder with the web process
    except Exception as exc:  # the queue may still be away; the web process retries too
        click.echo(f"spool replay skipped: {exc}", err=True)
    from ringtrail.reports.counters import schedule_flush

    queue = get_queue()
    schedule_flush()
    from ringtrail.privacy import retention

    retention.schedule()  # recordings, calls, snapshots
    # The worker may wait on slow jobs; its own connection uses normal timeouts.
    import redis

    conn = redis.Redis.from_url(current_app.config["QUEUE_REDIS_URL"])
    w = SimpleWorker([queue.name], connection=conn, serializer=JSONSerializer)
    w.work(burst=burst, with_scheduler=True)


@main.command("seed-demo")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def seed_demo_command(as_json: bool) -> None:
    """Create the demo agency, site and pool (idempotent) and describe them."""
    from ringtrail.demo import seed_demo
    from ringtrail.storage.sql import get_db, upgrade

    upgrade()
    info = seed_demo(get_db(), current_app.config["PUBLIC_URL"])
    if as_json:
        click.echo(json.dumps(info))
    else:
        for key, value in info.items():
            click.echo(f"{key}: {value}")


@main.command("migrate")
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from ringtrail.storage.sql import upgrade

    upgrade()
    click.echo("database is up to date")


@main.command("replay-spool")
def replay_spool() -> None:
    """Queue the call events spooled to disk during an outage."""
    from ringtrail.calls.intake import get_spool, replay

    count = replay()
    click.echo(f"replayed {count}; {len(get_spool())} still spooled")


@main.command(with_appcontext=False)
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
    import tempfile

    import redis

    from ringtrail.reports.simulation import OUTCOMES, Traffic, svg_plot
    from ringtrail.reports.simulation import simulate as run
    from ringtrail.reports.sizing import recommend
    from ringtrail.storage.clients import start_embedded_redis

    keep: dict = {}
    url = redis_url or start_embedded_redis(tempfile.mkdtemp(prefix="ringtrail-sim-"), keep)
    client = redis.Redis.from_url(url, decode_responses=True)
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


@main.command(with_appcontext=False, context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Run every benchmark and print one table (bench/run.py; needs the source tree)."""
    script = os.path.join("bench", "run.py")
    if not os.path.exists(script):
        raise click.ClickException(
            "ringtrail bench runs bench/run.py: start it from a Ringtrail source checkout"
        )
    sys.exit(subprocess.call([sys.executable, script, *args]))


def _register_management() -> None:
    from ringtrail.cli.manage import register

    register(main)


_register_management()

if __name__ == "__main__":
    main()
