"""The command's shape: Ringtrail's subcommands only, refusals as messages and exit codes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ringtrail import errors
from ringtrail.cli import main
from ringtrail.cli.app import exit_code_of
from tests.helpers import make_site


def test_help_lists_ringtrails_commands_only():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line}
    assert listed == set(main.commands)
    assert {"demo", "serve", "worker", "migrate", "pool", "erase"} <= listed
    for flask_own in ("run", "shell", "routes", "--app", "--env-file"):
        assert flask_own not in result.output.split()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.Invalid("x"), 1),
        (errors.Unprocessable("x"), 1),
        (errors.Conflict("x"), 1),
        (errors.Forbidden("x"), 1),
        (errors.NotFound("x"), 3),
        (errors.Unavailable("x"), 4),
    ],
)
def test_each_refusal_has_an_exit_code(error, code):
    assert exit_code_of(error) == code


def test_refusals_are_one_line_with_their_exit_code(app, db):
    setup = make_site(db)
    runner = app.test_cli_runner()
    missing = runner.invoke(main, ["pool", "set", "999999", "--lease-seconds", "600"])
    assert missing.exit_code == 3 and missing.output.strip() == "Error: no such pool"
    invalid = runner.invoke(main, ["pool", "set", str(setup.pool.id), "--lease-seconds", "5"])
    assert invalid.exit_code == 1 and invalid.output.startswith("Error: lease_seconds:")
    taken = runner.invoke(main, ["number", "add", "--pool", str(setup.pool.id), setup.numbers[0]])
    assert taken.exit_code == 1 and "already in pool" in taken.output
    assert "Traceback" not in missing.output + invalid.output + taken.output
