"""Running Ringtrail: the demo, the web app, the worker, migrations and the spool.

``ringtrail demo`` and ``ringtrail serve`` stay the parent of what they start and
supervise it (:class:`Supervisor`): the embedded Redis and the demo's worker are started
again when they die, and every child gets a parent-death signal, so nothing outlives
them, even after SIGKILL. Every process started here creates its files 0600 (umask 077,
set by the ``ringtrail`` command).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import click

from ringtrail import instance_folder, settings
from ringtrail.cli.app import AppGroup, Refused, with_app
from ringtrail.storage.embedded import EmbeddedRedis, bound_to_parent

DEMO_APP = "ringtrail.demo:create_demo_app()"
APP = "ringtrail:create_app()"
GUNICORN_CONFIG = "python:ringtrail.cli.gunicorn_config"
RESTART_DELAY = 1.0  # seconds before a dead child is started again
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"

log = logging.getLogger(__name__)


def _embedded_env(port: int | None = None) -> tuple[dict[str, str], EmbeddedRedis | None]:
    """Environment for child processes, with the embedded Redis started here if needed
    (returned, to supervise), and the metrics folder they share.

    The parent owns the embedded server so gunicorn workers and the RQ worker share one,
    and it names the instance folder for them all, so they agree on it.
    """
    env = dict(os.environ)
    env["RINGTRAIL_INSTANCE_PATH"] = instance_folder()
    if port and "RINGTRAIL_PUBLIC_URL" not in env:
        env["RINGTRAIL_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    embedded = None
    if not env.get("RINGTRAIL_REDIS_URL"):
        embedded = EmbeddedRedis(env["RINGTRAIL_INSTANCE_PATH"])
        env["RINGTRAIL_REDIS_URL"] = embedded.start()
    env[METRICS_ENV] = _metrics_folder(env)
    os.environ.update(env)
    return env, embedded


def _metrics_folder(env: dict[str, str]) -> str:
    """The folder gunicorn's workers write their metrics to, so that ``/metrics`` on any
    of them sums them all (prometheus-client's multiprocess mode): the instance folder's
    ``metrics/`` (0700), or ``PROMETHEUS_MULTIPROC_DIR`` if set. Emptied here: the
    figures of processes of an earlier run must not be summed with ours."""
    folder = env.get(METRICS_ENV) or os.path.join(env["RINGTRAIL_INSTANCE_PATH"], "metrics")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.unlink(os.path.join(folder, name))
    return folder


def _migrate(seed: bool = False) -> tuple[str, dict | None]:
    """Bring the schema up to date, move queued jobs to their current paths, and seed the
    demo if asked; returns what was done and the demo's description."""
    from ringtrail import create_app
    from ringtrail.demo.seed import seed_demo
    from ringtrail.storage.sql import get_db

    app = create_app()
    try:
        with app.app_context():
            done = upgrade_everything()
            return done, seed_demo(get_db(), app.config["PUBLIC_URL"]) if seed else None
    finally:
        app.extensions["ringtrail"]["engine"].dispose()


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


def _migrate_until_done(stop: threading.Event) -> None:
    """Retry the migrations with a growing delay until the database answers, saying so
    each time: the web app meanwhile routes calls from its snapshot on disk."""
    delay = 1.0
    while not stop.is_set():
        try:
            done, _ = _migrate()
        except Exception as exc:
            reason = str(exc).splitlines()[0][:200]
            click.echo(f"migrations waiting for the database ({reason}); retry in {delay:.0f} s")
            stop.wait(delay)
            delay = min(delay * 2, 30.0)
            continue
        click.echo(f"migrations: {done}")
        return


def _gunicorn(app: str, bind: str, workers: int, threads: int) -> list[str]:
    """gunicorn's command line; the access log format (no client address) and the
    spool's replayer in each worker come from :mod:`ringtrail.cli.gunicorn_config`."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        GUNICORN_CONFIG,
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
        app,
    ]


class Supervisor:
    """Runs child processes until one that is not restarted ends or we are told to stop;
    restarts the others (and the embedded Redis) when they die."""

    def __init__(self, env: dict[str, str], embedded: EmbeddedRedis | None = None):
        self.env = env
        self.embedded = embedded
        self.children: dict[str, tuple[list[str], bool]] = {}
        self.procs: dict[str, subprocess.Popen] = {}

    def add(self, name: str, command: list[str], *, restart: bool = False) -> None:
        """A child to run; with ``restart`` it is started again whenever it ends."""
        self.children[name] = (command, restart)

    def _start(self, name: str) -> None:
        command, _ = self.children[name]
        self.procs[name] = subprocess.Popen(
            command,
            env=self.env,
            preexec_fn=bound_to_parent(os.getpid()),  # noqa: PLW1509
        )

    def run(self) -> int:
        """Supervise until done; returns the exit code."""
        for name in self.children:
            self._start(name)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            while True:
                if self.embedded is not None and self.embedded.ensure():
                    click.echo("embedded Redis restarted", err=True)
                for name, proc in list(self.procs.items()):
                    if proc.poll() is None:
                        continue
                    if not self.children[name][1]:
                        return proc.returncode
                    click.echo(f"{name} exited ({proc.returncode}); restarting it", err=True)
                    time.sleep(RESTART_DELAY)
                    self._start(name)
                time.sleep(0.5)
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop every child, then the embedded Redis."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self.embedded is not None:
            self.embedded.stop()


@click.command()
@click.option("--port", default=5000, show_default=True, help="Port on 127.0.0.1.")
def demo(port: int) -> None:
    """Run everything embedded, with demo data, on 127.0.0.1:PORT."""
    env, embedded = _embedded_env(port)
    _, info = _migrate(seed=True)
    click.echo(f"Ringtrail demo: open http://127.0.0.1:{port}/demo")
    click.echo(json.dumps(info, indent=2))
    supervisor = Supervisor(env, embedded)
    supervisor.add("web", _gunicorn(DEMO_APP, f"127.0.0.1:{port}", 2, 4))
    supervisor.add("worker", [sys.executable, "-m", "ringtrail", "worker"], restart=True)
    sys.exit(supervisor.run())


@click.command()
def serve() -> None:
    """Run the web app under gunicorn, configured by RINGTRAIL_* variables.

    Starts even while the database is down: calls are routed from the snapshot on disk,
    and the migrations are retried until the database answers."""
    env, embedded = _embedded_env()
    stop = threading.Event()
    try:
        click.echo(_migrate()[0])
    except Exception as exc:
        click.echo(f"database unavailable ({str(exc).splitlines()[0][:200]}): starting anyway")
        threading.Thread(target=_migrate_until_done, args=(stop,), daemon=True).start()
    bind = settings.from_env("BIND", env)
    workers = int(settings.from_env("WORKERS", env) or 2 * (os.cpu_count() or 1) + 1)
    threads = int(settings.from_env("THREADS", env))
    supervisor = Supervisor(env, embedded)
    supervisor.add("web", _gunicorn(APP, bind, workers, threads))
    try:
        sys.exit(supervisor.run())
    finally:
        stop.set()


@click.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_app
def worker(burst: bool) -> None:
    """Run an RQ worker (with its scheduler and periodic jobs) inside the app context."""
    from flask import current_app

    from ringtrail.calls import replayer
    from ringtrail.calls.intake import move, replay
    from ringtrail.outbound import delivery, messages, summaries
    from ringtrail.outbound.platforms import send as uploads_send
    from ringtrail.privacy import retention
    from ringtrail.reports import autosizer, counters
    from ringtrail.storage.clients import get_queue, worker_connection
    from ringtrail.storage.jobs import move_job_paths
    from ringtrail.storage.worker import Runner

    queue = get_queue()
    try:
        move_job_paths(queue)  # jobs queued by an older release run under their new paths
        replay()  # a single-node install shares the spool folder with the web process
    except Exception as exc:  # the queue may still be away; the replayer tries again
        click.echo(f"spool replay skipped: {exc}", err=True)
    url = current_app.config["QUEUE_REDIS_URL"]
    runner = Runner(
        queue.name,
        lambda **kwargs: worker_connection(url, **kwargs),
        [
            counters.PERIODIC,
            retention.PERIODIC,
            autosizer.PERIODIC,
            messages.PERIODIC,
            summaries.PERIODIC,
            delivery.PERIODIC,
            uploads_send.PERIODIC,
        ],
        movers=[move],
    )
    if not burst:
        replayer.start(current_app._get_current_object(), resume=True)
    runner.run(burst=burst)


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
    """Queue the spooled call events the queue does not hold (the web processes and the
    worker also do this by themselves every few seconds)."""
    from ringtrail.calls.intake import get_spool, replay

    count = replay()
    click.echo(f"queued {count}; {len(get_spool())} in the spool until their records are in")
