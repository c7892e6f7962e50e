"""Ringtrail: self-hosted call tracking by dynamic number insertion.

:func:`create_app` is the only way in. ``ringtrail demo`` adds the demo's pages with
:func:`ringtrail.demo.create_demo_app`; no other app has them.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from flask import Flask

from ringtrail.settings import APP_DEFAULTS

MAX_UPLOAD_BYTES = 1024 * 1024  # the largest body any route reads (a CSV import)


def instance_folder(test_config: dict[str, Any] | None = None) -> str:
    """The instance folder: the test's, ``RINGTRAIL_INSTANCE_PATH``, else ``./instance``."""
    chosen = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("RINGTRAIL_INSTANCE_PATH")
    return os.path.abspath(chosen or "instance")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Ringtrail application: defaults, then ``RINGTRAIL_*``, then ``test_config``."""
    app = Flask(
        __name__,
        instance_path=instance_folder(test_config),
        instance_relative_config=True,
        static_folder=str(resources.files("ringtrail.static")),
        static_url_path="/static",
        template_folder="web/templates",
    )
    app.config.update(APP_DEFAULTS)
    app.config.from_prefixed_env("RINGTRAIL")
    if test_config:
        app.config.update(test_config)
    app.config["INSTANCE_PATH"] = app.instance_path
    app.json.sort_keys = False

    _private_folder(app.instance_path)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    if not app.config["SPOOL_DIR"]:
        app.config["SPOOL_DIR"] = os.path.join(app.instance_path, "spool")
    app.config["MAX_CONTENT_LENGTH"] = app.config.get("MAX_CONTENT_LENGTH") or MAX_UPLOAD_BYTES

    from ringtrail import web
    from ringtrail.storage import clients, sql

    clients.init_app(app)
    sql.init_app(app)
    web.init_app(app)
    return app


def _private_folder(path: str) -> None:
    """Make the instance folder ours alone (0700): it holds the database, Redis's files,
    the spool and the secret key. A folder an older release made 0755 is tightened."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)


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
