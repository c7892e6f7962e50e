"""The stores: SQL (models, migrations, sessions) and Redis (clients, Lua scripts, jobs)."""

from __future__ import annotations

from importlib import resources


def lua(name: str) -> str:
    """The text of one Lua script in ``storage/lua`` (each opens with its KEYS/ARGV contract)."""
    return resources.files(__name__).joinpath("lua", name).read_text()
