"""The ``ringtrail`` command: Ringtrail's own subcommands, and nothing else (Flask's ``run``,
``shell`` and ``routes`` are not offered).

- ``run.py``: demo, serve, worker, seed-demo, migrate, replay-spool, secrets rotate;
- ``manage.py``: agencies, clients, sites, pools, numbers, keys, users, erasure;
- ``outcomes.py``: call outcomes, tags, automation rules, block lists;
- ``notifications.py``: notification preferences, Slack URLs, summaries, the outbox;
- ``tools.py``: the attribution simulator and the benchmarks;
- ``app.py``: the app context and how refusals become messages and exit codes.
"""

from __future__ import annotations

import os

import click

from ringtrail.cli import carrier, manage, notifications, outcomes, run, tools
from ringtrail.cli.app import Group


@click.group(cls=Group)
def main() -> None:
    """Ringtrail: self-hosted call tracking by dynamic number insertion."""
    # Every file Ringtrail's processes create holds data or secrets: readable by us only.
    os.umask(0o077)


for _command in (
    run.demo,
    run.serve,
    run.worker,
    run.seed_demo_command,
    run.migrate,
    run.replay_spool,
    run.secrets_group,
    tools.simulate,
    tools.bench,
    *manage.COMMANDS,
    *carrier.COMMANDS,
    *outcomes.COMMANDS,
    *notifications.COMMANDS,
):
    main.add_command(_command)
