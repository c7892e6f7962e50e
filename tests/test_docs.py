"""The README stays true: every setting and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ringtrail.cli import main
from ringtrail.settings import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _settings_table() -> set[str]:
    """The settings named in the first column of the README's configuration table."""
    return set(re.findall(r"^\| `RINGTRAIL_([A-Z_]+)` \|", README, flags=re.M))


def test_every_setting_is_in_the_configuration_table():
    missing = {s.name for s in SETTINGS} - _settings_table()
    assert not missing, f"README lacks RINGTRAIL_{sorted(missing)}"


def test_the_configuration_table_names_only_declared_settings():
    declared = {s.name for s in SETTINGS}
    extra = _settings_table() - declared
    assert not extra, f"README documents undeclared settings: RINGTRAIL_{sorted(extra)}"


def _ours(command: click.Command) -> bool:
    """Defined by Ringtrail, not by another package's plugin."""
    if isinstance(command, click.Group):
        return any(_ours(sub) for sub in command.commands.values())
    return bool(command.callback) and command.callback.__module__.startswith("ringtrail.")


def test_every_command_is_documented():
    ours = {name for name, command in main.commands.items() if _ours(command)}
    assert {"demo", "serve", "worker", "seed-demo", "bench", "simulate", "pool"} <= ours
    missing = sorted(name for name in ours if f"ringtrail {name}" not in README)
    assert not missing, f"README lacks commands: {missing}"


def test_the_command_offers_only_ringtrails_own_subcommands():
    """Flask's run, routes and shell, and its --app and --env-file, are not offered."""
    assert set(main.commands) == {name for name, c in main.commands.items() if _ours(c)}
    assert not {"run", "routes", "shell"} & set(main.commands)
    options = {opt for param in main.params for opt in getattr(param, "opts", [])}
    assert not {"--app", "--env-file", "-A", "-e"} & options
