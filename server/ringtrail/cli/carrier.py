"""``ringtrail carrier``: an agency's Twilio account and the numbers bought from it.

The same services as the admin API and the settings pages (``carrier_account.py``,
``carrier_numbers.py``), audited with actor "cli". Secrets are read from a hidden prompt
or, when stdin is not a terminal, from its next line: never from the command line, where
they would land in the shell's history and in every process listing.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click

from ringtrail.accounts import carrier_account, carrier_numbers
from ringtrail.accounts.auth import cli_principal
from ringtrail.accounts.tenancy import get_or_404
from ringtrail.cli.app import AppGroup
from ringtrail.storage.models import Pool, TrackingNumber
from ringtrail.storage.sql import get_db

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
agency_option = click.option("--agency", "agency_id", type=int, required=True)


def read_secret(label: str) -> str:
    """A secret from a hidden prompt, or the next line of stdin when it is not a terminal."""
    if sys.stdin is None or not sys.stdin.isatty():
        line = sys.stdin.readline() if sys.stdin is not None else ""
        return line.strip()
    return click.prompt(label, hide_input=True).strip()


def _emit(rows: list[dict[str, Any]] | dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    for row in rows if isinstance(rows, list) else [rows]:
        click.echo("  ".join(f"{k}={v}" for k, v in row.items()))


carrier = AppGroup("carrier", help="The agency's Twilio account, and numbers from it.")


@carrier.command("connect")
@agency_option
@click.option("--account-sid", required=True, help="AC… (the token is read from stdin)")
@click.option("--api-key-sid", default=None, help="SK… (its secret is read next)")
@json_option
def connect(agency_id: int, account_sid: str, api_key_sid: str | None, as_json: bool) -> None:
    """Connect the account: checked at Twilio, then saved sealed."""
    data = {"account_sid": account_sid, "auth_token": read_secret("Auth token")}
    if api_key_sid:
        data |= {"api_key_sid": api_key_sid, "api_key_secret": read_secret("API key secret")}
    status = carrier_account.connect(get_db(), cli_principal(), data, agency_id)
    _emit(status.as_dict(), as_json)


@carrier.command("show")
@agency_option
@json_option
def show(agency_id: int, as_json: bool) -> None:
    """The account, its secrets masked."""
    _emit(carrier_account.show(get_db(), cli_principal(), agency_id).as_dict(), as_json)


@carrier.command("rotate")
@agency_option
@json_option
def rotate(agency_id: int, as_json: bool) -> None:
    """Use a new auth token (read from stdin); the old one works until finish-rotation."""
    token = read_secret("New auth token")
    status = carrier_account.rotate(get_db(), cli_principal(), token, agency_id)
    _emit(status.as_dict(), as_json)


@carrier.command("finish-rotation")
@agency_option
@json_option
def finish_rotation(agency_id: int, as_json: bool) -> None:
    """Stop accepting the previous auth token."""
    status = carrier_account.finish_rotation(get_db(), cli_principal(), agency_id)
    _emit(status.as_dict(), as_json)


@carrier.command("disconnect")
@agency_option
@json_option
def disconnect(agency_id: int, as_json: bool) -> None:
    """Forget the account's credentials."""
    _emit(carrier_account.disconnect(get_db(), cli_principal(), agency_id).as_dict(), as_json)


@carrier.command("search")
@agency_option
@click.option("--area-code", default=None)
@click.option("--region", default=None, help="two letters: CA")
@click.option("--locality", default=None)
@click.option("--contains", default=None, help="digits, letters or *")
@click.option("--toll-free", is_flag=True)
@click.option("--limit", type=int, default=20)
@json_option
def search(agency_id: int, as_json: bool, **criteria: Any) -> None:
    """Numbers for sale in the account."""
    found = carrier_numbers.search(get_db(), cli_principal(), criteria, agency_id)
    _emit([asdict(n) for n in found], as_json)


@carrier.command("buy")
@click.option("--pool", "pool_id", type=int, required=True)
@click.argument("numbers", nargs=-1, required=True)
@json_option
def buy(pool_id: int, numbers: tuple[str, ...], as_json: bool) -> None:
    """Buy numbers into a pool, their webhooks set to Ringtrail's."""
    p = cli_principal()
    pool = get_or_404(Pool, pool_id, p)
    bought = carrier_numbers.buy(get_db(), p, pool, list(numbers))
    rows = [{"id": n.id, "number": n.number, "pool_id": n.pool_id} for n in bought]
    _emit(rows, as_json)


@carrier.command("release")
@click.option("--number", "number_id", type=int, required=True, help="the number's id")
def release(number_id: int) -> None:
    """Give a number back to Twilio and take it out of its pool."""
    p = cli_principal()
    number = get_or_404(TrackingNumber, number_id, p)
    shown = number.number
    carrier_numbers.release(get_db(), p, number)
    click.echo(f"released {shown}")


@carrier.command("import")
@click.option("--pool", "pool_id", type=int, required=True)
@click.option("--apply", "apply_", is_flag=True, help="do it (without: a dry run)")
@json_option
def import_owned(pool_id: int, apply_: bool, as_json: bool) -> None:
    """Import the numbers the account owns into a pool, pointing them at Ringtrail."""
    p = cli_principal()
    pool = get_or_404(Pool, pool_id, p)
    changes = carrier_numbers.import_owned(get_db(), p, pool, dry_run=not apply_)
    _emit([asdict(c) for c in changes], as_json)
    if not apply_ and not as_json:
        click.echo("dry run: nothing changed; add --apply to do it")


COMMANDS = (carrier,)
