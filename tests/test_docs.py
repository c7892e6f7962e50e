"""The README stays true: every setting and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from server import DEFAULTS
from server.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
# Flask's own settings that create_app fills in; not Ringtrail's to document.
FLASK_OWN = {"TESTING", "MAX_CONTENT_LENGTH"}


def test_every_setting_is_in_the_configuration_table():
    documented = set(re.findall(r"`RINGTRAIL_([A-Z_]+)`", README))
    missing = {k for k in DEFAULTS if k not in FLASK_OWN} - documented
    assert not missing, f"README lacks RINGTRAIL_{sorted(missing)}"


def test_every_command_is_documented():
    missing = [
        name
        for name in main.commands
        if f"ringtrail {name}" not in README and name not in ("run", "shell", "routes")
    ]  # Flask's own
    assert not missing, f"README lacks commands: {missing}"
