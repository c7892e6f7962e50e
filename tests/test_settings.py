"""Every RINGTRAIL_* setting is declared once, with its default; nothing reads another."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ringtrail import settings
from ringtrail.context import setting

PACKAGE = Path(__file__).resolve().parent.parent / "server" / "ringtrail"
# Flask's own configuration, which Ringtrail sets or reads but does not declare.
FLASK_OWN = {
    "TESTING",
    "MAX_CONTENT_LENGTH",
    "PERMANENT_SESSION_LIFETIME",
    "WTF_CSRF_SSL_STRICT",
    "SESSION_COOKIE_SECURE",
}


def test_every_setting_the_code_reads_is_declared():
    source = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))
    read = set(re.findall(r"""config(?:\.get\(|\[)["']([A-Z_]+)["']""", source))
    read |= set(re.findall(r"""setting\(["']([A-Z_]+)["']\)""", source))
    read |= set(re.findall(r"""from_env\(["']([A-Z_]+)["']""", source))
    assert read, "the search found nothing: the pattern is stale"
    undeclared = read - set(settings.BY_NAME) - FLASK_OWN
    assert not undeclared, f"read but not declared in settings.py: {sorted(undeclared)}"


def test_every_app_setting_has_its_default_in_a_new_app(app):
    for s in settings.SETTINGS:
        if s.scope == "app":
            assert s.name in app.config, s.name


def test_an_undeclared_setting_is_a_bug(app):
    with app.app_context(), pytest.raises(KeyError, match="not declared"):
        setting("NO_SUCH_THING")


@pytest.mark.parametrize(
    ("raw", "value"), [(None, "127.0.0.1:8000"), ('"0.0.0.0:80"', "0.0.0.0:80"), ("x:1", "x:1")]
)
def test_command_settings_read_the_environment_as_json(raw, value):
    env = {} if raw is None else {"RINGTRAIL_BIND": raw}
    assert settings.from_env("BIND", env) == value
    assert settings.from_env("THREADS", {"RINGTRAIL_THREADS": "8"}) == 8
