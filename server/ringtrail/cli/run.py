"""Running Ringtrail: the demo, the web app, the worker, migrations and the spool."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import click

from ringtrail import instance_folder, settings
from ringtrail.cli.app import AppGroup, Refused, with_app
from ringtrail.storage.clients import start_embedded_redis

DEMO_APP = "ringtrail.demo:create_demo_app()"
APP = "ringtrail:create_app()"


def _embedded_env(port: int | None = None) -> dict[str, str]:
    """Environment for child processes, with the embedded Redis started here if needed.

    The parent owns the embedded server so gunicorn workers and the RQ worker share one,
    and it names the instance folder for them all, so they agree on it.
    """
    env = dict(os.environ)
    env["RINGTRAIL_INSTANCE_PATH"] = instance_folder()
    if port and "RINGTRAIL_PUBLIC_URL" not in env:
        env["RINGTRAIL_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    if not env.get("RINGTRAIL_REDIS_URL"):
        keep: dict = {}
        env["RINGTRAIL_REDIS_URL"] = start_embedded_redis(env["RINGTRAIL_INSTANCE_PATH"], keep)
        _embedded_env.keep = keep  # type: ignore[attr-defined]  # keep the server alive
    os.environ.update(env)
    return env


def _migrate(seed: bool = False) -> dict | None:
    """Bring the schema up to date, move queued jobs to their current paths, and seed the
    demo if asked; returns the demo's description."""
    from ringtrail import create_app
    from ringtrail.demo.seed import seed_demo
    from ringtrail.storage.sql import get_db

    app = create_app()
    with app.app_context():
        upgrade_everything()
        if seed:
            return seed_demo(get_db(), app.config["PUBLIC_URL"])
    return None


def upgrade_everything() -> str:
    """Apply the Alembic migrations, seal secrets stored in clear by an older release,
    then point queued jobs at moved job paths (an upgrade loses no call). Returns what
    was done, for people."""
    from ringtrail.accounts.sealing import seal_clear
    from ringtrail.storage.clients import get_queue
    from ringtrail.storage.jobs import move_job_paths
    from ringtrail.storage.sql import get_db, upgrade

    upgrade()
    sealed = seal_clear(get_db())  # tokens an older release stored in clear
    done = "database is up to date" + (f"; {sealed} secret(s) sealed" if sealed else "")
    try:
        moved = move_job_paths(get_queue())
    except Exception as exc:  # the schema is done; the jobs wait for the next run
        return f"{done}; queued jobs not checked ({exc}): run it again"
    return done + (f"; {moved} queued job(s) moved" if moved else "")


def _gunicorn(app: str, bind: str, workers: int, threads: int) -> list[str]:
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
        app,
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


@click.command()
@click.option("--port", default=5000, show_default=True, help="Port on 127.0.0.1.")
def demo(port: int) -> None:
    """Run everything embedded, with demo data, on 127.0.0.1:PORT."""
    env = _embedded_env(port)
    info = _migrate(seed=True)
    click.echo(f"Ringtrail demo: open http://127.0.0.1:{port}/demo")
    click.echo(json.dumps(info, indent=2))
    worker_cmd = [sys.executable, "-m", "ringtrail", "worker"]
    web = _gunicorn(DEMO_APP, f"127.0.0.1:{port}", 2, 4)
    sys.exit(_run_children([web, worker_cmd], env))


@click.command()
def serve() -> None:
    """Run the web app under gunicorn, configured by RINGTRAIL_* variables."""
    env = _embedded_env()
    click.echo(_migrate())
    bind = settings.from_env("BIND", env)
    workers = int(settings.from_env("WORKERS", env) or 2 * (os.cpu_count() or 1) + 1)
    threads = int(settings.from_env("THREADS", env))
    cmd = _gunicorn(APP, bind, workers, threads)
    if getattr(_embedded_env, "keep", None):
        sys.exit(_run_children([cmd], env))  # we own the embedded Redis: stay its parent
    os.execve(sys.executable, cmd, env)  # noqa: S606 (replace ourselves with gunicorn)


@click.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_app
def worker(burst: bool) -> None:
    """Run an RQ worker (with its scheduler) inside the app context."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from ringtrail.calls.intake import replay
    from ringtrail.privacy import retention
    from ringtrail.reports.counters import schedule_flush
    from ringtrail.storage.clients import get_queue, worker_connection
    from ringtrail.storage.jobs import move_job_paths

    queue = get_queue()
    try:
        move_job_paths(queue)  # jobs queued by an older release run under their new paths
        replay()  # a single-node install shares the spool folder with the web process
    except Exception as exc:  # the queue may still be away; the web process retries too
        click.echo(f"spool replay skipped: {exc}", err=True)
    schedule_flush()
    retention.schedule()  # recordings, calls, snapshots
    w = SimpleWorker([queue.name], connection=worker_connection(), serializer=JSONSerializer)
    w.work(burst=burst, with_scheduler=True)


@click.command("seed-demo")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@with_app
def seed_demo_command(as_json: bool) -> None:
    """Create the demo agency, site and pool (idempotent) and describe them."""
    from flask import current_app

    from ringtrail.demo.seed import seed_demo
    from ringtrail.storage.sql import get_db, upgrade

    upgrade()
    info = seed_demo(get_db(), current_app.config["PUBLIC_URL"])
    if as_json:
        click.echo(json.dumps(info))
    else:
        for key, value in info.items():
            click.echo(f"{key}: {value}")


@click.command("migrate")
@with_app
def migrate() -> None:
    """Bring the database schema up to date (Alembic), seal carrier tokens stored in
    clear, and move queued jobs whose job path changed between releases."""
    click.echo(upgrade_everything())


secrets_group = AppGroup("secrets", help="Secrets stored sealed: carrier tokens, 2FA seeds.")


@secrets_group.command("rotate")
def secrets_rotate() -> None:
    """Seal every stored secret again with the newest key of RINGTRAIL_ENCRYPTION_KEYS."""
    from ringtrail.accounts.sealing import rotate
    from ringtrail.crypto import SecretUnreadable
    from ringtrail.storage.sql import get_db

    try:
        count = rotate(get_db())
    except SecretUnreadable:
        raise Refused(
            "a stored secret opens with none of RINGTRAIL_ENCRYPTION_KEYS: keep the old key "
            "listed after the new one until the rotation is done"
        ) from None
    click.echo(f"{count} secret(s) sealed with the newest key")


@click.command("replay-spool")
@with_app
def replay_spool() -> None:
    """Queue the call events spooled to disk during an outage."""
    from ringtrail.calls.intake import get_spool, replay

    count = replay()
    click.echo(f"replayed {count}; {len(get_spool())} still spooled")
