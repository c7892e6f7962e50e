"""Management subcommands of ``ringtrail``: agencies, clients, sites, pools, numbers, keys."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add the management commands to the ``ringtrail`` group."""
