"""The layers are declared (import-linter contracts in pyproject.toml) and kept."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept():
    """No cycles; each package imports only those below it; nothing below web imports
    Flask or werkzeug, so nothing there can read the request or call abort()."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_every_package_is_in_the_layers():
    """A new package must be placed in the layers, or the contract would not see it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    layered = {name.strip() for layer in layers for name in layer.split("|")}
    package = ROOT / "server" / "ringtrail"
    modules = {f"ringtrail.{p.name}" for p in package.iterdir() if (p / "__init__.py").exists()}
    modules |= {
        f"ringtrail.{p.stem}"
        for p in package.glob("*.py")
        if p.stem not in ("__init__", "__main__")
    }
    assert modules == layered
