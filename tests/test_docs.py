"""The README stays true: every setting and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
from ringtrail import DEFAULTS
from ringtrail.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
# Flask's own settings that create_app fills in; not Ringtrail's to document.
FLASK_OWN = {"TESTING", "MAX_CONTENT_LENGTH"}


def test_every_setting_is_in_the_configuration_table():
    documented = set(re.findall(r"`RINGTRAIL_([A-Z_]+)`", README))
    missing = {k for k in DEFAULTS if k not in FLASK_OWN} - documented
    assert not missing, f"README lacks RINGTRAIL_{sorted(missing)}"


def _ours(command: click.Command) -> bool:
    """Defined by Ringtrail, not by Flask (run, shell, routes) or another package's plugin."""
    if isinstance(command, click.Group):
        return any(_ours(sub) for sub in command.commands.values())
    return bool(command.callback) and command.callback.__module__.startswith("ringtrail.")


def test_every_command_is_documented():
    ours = {name for name, command in main.commands.items() if _ours(command)}
    assert {"demo", "serve", "worker", "seed-demo", "bench", "simulate", "pool"} <= ours
    missing = sorted(name for name in ours if f"ringtrail {name}" not in README)
    assert not missing, f"README lacks commands: {missing}"
