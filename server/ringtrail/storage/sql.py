"""The SQL side: engine, per-request sessions and Alembic migrations."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from flask import Flask, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ringtrail.context import state
from ringtrail.storage.channel import ConfigChannel
from ringtrail.storage.models import CONFIG_MODELS, ConfigVersion

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def init_app(app: Flask) -> None:
    """Create the engine from RINGTRAIL_DATABASE_URL (default: SQLite in the instance folder)."""
    url = app.config["DATABASE_URL"]
    if not url:
        url = "sqlite:///" + os.path.join(app.instance_path, "ringtrail.sqlite3")
        app.config["DATABASE_URL"] = url
    state = app.extensions["ringtrail"]
    state["engine"] = make_engine(url, float(app.config["DATABASE_TIMEOUT"]))
    # Each session carries the channel its committed changes are announced on (in its
    # info, not in the listener: SQLAlchemy keeps listeners for good, and the app with them).
    state["sessionmaker"] = sessionmaker(
        state["engine"],
        expire_on_commit=False,
        info={"config_channel": ConfigChannel(state["queue_redis"])},
    )
    event.listen(state["sessionmaker"], "before_flush", _bump_config_version)
    event.listen(state["sessionmaker"], "after_commit", _announce_change)
    event.listen(state["sessionmaker"], "after_rollback", _forget_change)
    app.teardown_appcontext(_close_session)


def make_engine(url: str, timeout: float) -> Engine:
    """An engine that gives up quickly when the database is away."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 5, "check_same_thread": False})
        path = engine.url.database

        @event.listens_for(engine, "do_connect")
        def _private_file(_dialect, _record, _cargs, _cparams):
            # SQLite gives its WAL and shared-memory files the database file's mode.
            if path and path != ":memory:" and not os.path.exists(path):
                with contextlib.suppress(FileNotFoundError, FileExistsError):
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets the web process read while the worker writes.
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_timeout=timeout,
        connect_args={"connect_timeout": max(1, int(timeout))},
    )


def _bump_config_version(session: Session, _context, _instances) -> None:
    """Count every change to configuration, in the same transaction as the change."""
    from sqlalchemy import update

    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, CONFIG_MODELS) for obj in changed):
        session.execute(update(ConfigVersion).values(version=ConfigVersion.version + 1))
        session.info["config_changed"] = True


def _announce_change(session: Session) -> None:
    """Once a configuration change is committed, tell every process (all of them, the
    CLI's and the worker's changes too, since every write goes through here)."""
    if session.info.pop("config_changed", False):
        try:
            session.info["config_channel"].announce()
        except Exception:  # never fail a commit that has happened; the version row tells
            log.exception("config: announcing a change failed")


def _forget_change(session: Session) -> None:
    session.info.pop("config_changed", None)


def get_engine() -> Engine:
    """The app's SQLAlchemy engine."""
    return state()["engine"]


def get_db() -> Session:
    """The SQLAlchemy session for this app context, opened on first use."""
    if "db" not in g:
        g.db = new_session()
    return g.db


def new_session() -> Session:
    """A session of its own, outside the app context's (a write that must stand alone,
    a background thread); the caller closes it."""
    return state()["sessionmaker"]()


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def upgrade(engine: Engine | None = None) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    engine = engine or get_engine()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it (Alembic's batch mode); with foreign keys
            # enforced, dropping the old copy of a referenced table fails. The pragma only
            # takes effect outside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "head")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
