"""The running app as domain code may see it: its settings and its shared clients.

Domain packages never import Flask (an import-linter contract says so): they may not read
the request, the session or ``g``, nor call ``abort()``. What they need of the app, the
configuration and the long-lived objects kept in ``app.extensions``, comes through here.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_app_context

from ringtrail.settings import BY_NAME


def setting(name: str) -> Any:
    """A declared setting's value in the running app (KeyError for an undeclared one)."""
    if name not in BY_NAME:
        raise KeyError(f"RINGTRAIL_{name} is not declared in ringtrail/settings.py")
    return current_app.config[name]


def state() -> dict[str, Any]:
    """The app's shared objects: clients, the routing cache, the engine."""
    return current_app.extensions["ringtrail"]


def instance_path() -> str:
    """The instance folder: SQLite, the embedded Redis, the routing snapshot, the spool."""
    return current_app.instance_path


def running_app() -> Flask:
    """The app itself, for a thread that must open an app context of its own."""
    return current_app._get_current_object()


def has_app() -> bool:
    """Whether code runs inside the app (a report read by a bare script does not)."""
    return has_app_context()
