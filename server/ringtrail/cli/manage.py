"""Management subcommands of ``ringtrail``: agencies, clients, sites, pools, numbers, keys, users.

They validate with the API's schemas and change things through ``configuration.py``, so a
script gets exactly what the API and the dashboard would do, audit entries included
(as actor "cli"). Every command takes ``--json``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click
from marshmallow import Schema
from sqlalchemy import select

from ringtrail import settings
from ringtrail.accounts import access, configuration
from ringtrail.accounts.auth import cli_principal
from ringtrail.accounts.numbers_import import ImportRejected, describe_errors, import_numbers
from ringtrail.accounts.tenancy import get_or_404
from ringtrail.cli.app import AppGroup, Refused, with_app
from ringtrail.privacy import erasure
from ringtrail.storage.models import Agency, ApiKey, Client, Pool, Site, TrackingNumber, User
from ringtrail.storage.sql import get_db
from ringtrail.terms import EXHAUSTION_POLICIES, NUMBER_ROLES, ROLES
from ringtrail.web.schemas import (
    AgencyIn,
    AgencyOut,
    AgencyPatch,
    ClientIn,
    ClientOut,
    KeyIn,
    KeyOut,
    NumberIn,
    NumberOut,
    PoolIn,
    PoolOut,
    PoolPatch,
    SiteIn,
    SiteOut,
    UserIn,
    UserOut,
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _load(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    return schema.load({k: v for k, v in data.items() if v is not None})


def _emit(schema: Schema, objects: Any, as_json: bool, many: bool = False) -> None:
    data = schema.dump(objects, many=many)
    if as_json:
        click.echo(json.dumps(data))
        return
    for row in data if many else [data]:
        click.echo("  ".join(f"{k}={v}" for k, v in row.items()))


def _pool_rows(pools: list[Pool]) -> list[dict[str, Any]]:
    db = get_db()
    out = PoolOut(exclude=("numbers",))
    return [{**out.dump(p), "numbers": configuration.pool_number_count(db, p.id)} for p in pools]


# -- agency -----------------------------------------------------------------------------

agency = AppGroup("agency", help="Agencies: the top of the tree.")


@agency.command("create")
@click.option("--name", required=True)
@json_option
def agency_create(name: str, as_json: bool) -> None:
    """Create an agency."""
    created = access.create_agency(get_db(), cli_principal(), _load(AgencyIn(), {"name": name}))
    _emit(AgencyOut(), created, as_json)


@agency.command("list")
@json_option
def agency_list(as_json: bool) -> None:
    """List agencies."""
    _emit(AgencyOut(), get_db().scalars(select(Agency).order_by(Agency.id)).all(), as_json, True)


@agency.command("set")
@click.argument("agency_id", type=int)
@click.option(
    "--default-forward-number",
    required=True,
    help='Where calls to numbers Ringtrail does not route go (E.164); "" clears it.',
)
@json_option
def agency_set(agency_id: int, default_forward_number: str, as_json: bool) -> None:
    """Change an agency's default forward number."""
    data = AgencyPatch().load({"default_forward_number": default_forward_number or None})
    updated = configuration.update_agency(get_db(), cli_principal(), data, agency_id)
    _emit(AgencyOut(), updated, as_json)


# -- client -----------------------------------------------------------------------------

client = AppGroup("client", help="Clients of an agency.")


@client.command("create")
@click.option("--agency", "agency_id", type=int, required=True)
@click.option("--name", required=True)
@click.option("--business-number", required=True)
@click.option("--timezone", default=None)
@click.option("--record-calls/--no-record-calls", default=None)
@json_option
def client_create(agency_id, name, business_number, timezone, record_calls, as_json) -> None:
    """Create a client."""
    data = _load(
        ClientIn(),
        {
            "name": name,
            "business_number": business_number,
            "timezone": timezone,
            "record_calls": record_calls,
        },
    )
    _emit(
        ClientOut(),
        configuration.create_client(get_db(), cli_principal(), data, agency_id),
        as_json,
    )


@client.command("list")
@click.option("--agency", "agency_id", type=int, default=None)
@json_option
def client_list(agency_id, as_json) -> None:
    """List clients (of one agency)."""
    stmt = select(Client).order_by(Client.id)
    if agency_id:
        stmt = stmt.where(Client.agency_id == agency_id)
    _emit(ClientOut(), get_db().scalars(stmt).all(), as_json, True)


# -- site -------------------------------------------------------------------------------

site = AppGroup("site", help="Sites of a client.")


@site.command("create")
@click.option("--client", "client_id", type=int, required=True)
@click.option("--name", required=True)
@click.option("--origin", "origins", multiple=True, help="Allowed origin; repeat for more.")
@click.option("--consent", type=click.Choice(["auto", "required"]), default=None)
@click.option(
    "--share-subdomains/--host-only",
    default=None,
    help="Share the visit across the subdomains of the origins' registrable domain.",
)
@json_option
def site_create(client_id, name, origins, consent, share_subdomains, as_json) -> None:
    """Create a site; prints its public key."""
    data = _load(
        SiteIn(),
        {
            "client_id": client_id,
            "name": name,
            "allowed_origins": list(origins),
            "consent_mode": consent,
            "share_subdomains": share_subdomains,
        },
    )
    _emit(SiteOut(), configuration.create_site(get_db(), cli_principal(), data), as_json)


@site.command("list")
@click.option("--client", "client_id", type=int, default=None)
@json_option
def site_list(client_id, as_json) -> None:
    """List sites (of one client)."""
    stmt = select(Site).order_by(Site.id)
    if client_id:
        stmt = stmt.where(Site.client_id == client_id)
    _emit(SiteOut(), get_db().scalars(stmt).all(), as_json, True)


# -- pool -------------------------------------------------------------------------------

pool = AppGroup("pool", help="Number pools of a site.")


def _pool_options(func: Callable) -> Callable:
    for option in reversed(
        [
            click.option("--name", default=None),
            click.option("--business-number", default=None),
            click.option("--lease-seconds", type=int, default=None),
            click.option("--match-window", "match_window_seconds", type=int, default=None),
            click.option(
                "--rest",
                "rest_seconds",
                type=int,
                default=None,
                help="Seconds a released number rests before reuse (default: the match window).",
            ),
            click.option(
                "--vanity",
                "vanity_texts",
                multiple=True,
                default=None,
                help="A text that stands for the business number (239-400-FREE); repeat for"
                " more. pool set: replaces the list; --vanity '' clears it.",
            ),
            click.option(
                "--policy",
                "exhaustion_policy",
                type=click.Choice(EXHAUSTION_POLICIES),
                default=None,
            ),
        ]
    ):
        func = option(func)
    return func


def _vanity(settings: dict[str, Any]) -> dict[str, Any]:
    """The pool options with --vanity as a list: none given leaves the texts as they are,
    --vanity '' clears them."""
    texts = settings.get("vanity_texts")
    return settings | {"vanity_texts": [t for t in texts if t] if texts else None}


@pool.command("create")
@click.option("--site", "site_id", type=int, required=True)
@_pool_options
@json_option
def pool_create(site_id, as_json, **settings) -> None:
    """Create an empty pool."""
    data = _load(PoolIn(), {"site_id": site_id, **_vanity(settings)})
    created = configuration.create_pool(get_db(), cli_principal(), data)
    rows = _pool_rows([created])
    click.echo(
        json.dumps(rows[0]) if as_json else "  ".join(f"{k}={v}" for k, v in rows[0].items())
    )


@pool.command("set")
@click.argument("pool_id", type=int)
@_pool_options
@json_option
def pool_set(pool_id, as_json, **settings) -> None:
    """Change a pool's settings (lease time, match window, policy...)."""
    data = _load(PoolPatch(), _vanity(settings))
    changed = configuration.update_pool(
        get_db(), cli_principal(), get_or_404(Pool, pool_id, cli_principal()), data
    )
    rows = _pool_rows([changed])
    click.echo(
        json.dumps(rows[0]) if as_json else "  ".join(f"{k}={v}" for k, v in rows[0].items())
    )


@pool.command("list")
@click.option("--site", "site_id", type=int, default=None)
@json_option
def pool_list(site_id, as_json) -> None:
    """List pools (of one site)."""
    stmt = select(Pool).order_by(Pool.id)
    if site_id:
        stmt = stmt.where(Pool.site_id == site_id)
    rows = _pool_rows(get_db().scalars(stmt).all())
    if as_json:
        click.echo(json.dumps(rows))
    else:
        for row in rows:
            click.echo("  ".join(f"{k}={v}" for k, v in row.items()))


@pool.command("autosizing")
@click.argument("pool_id", type=int)
@click.option("--enable/--disable", "enabled", default=None, help="Turn autosizing on or off.")
@click.option(
    "--dry-run-mode/--live",
    "dry_run",
    default=None,
    help="Only list what the job would do for this pool, or act.",
)
@click.option("--target-overflow", type=float, default=None, help="Share of peak visitors.")
@click.option("--min", "min_numbers", type=int, default=None, help="Fewest numbers.")
@click.option("--max", "max_numbers", type=int, default=None, help="Most numbers.")
@click.option("--monthly-cap", default=None, help='Spending cap a month ("250 USD"; "none").')
@click.option("--cooldown-hours", type=float, default=None, help="Before surplus retires.")
@json_option
def pool_autosizing(pool_id, monthly_cap, cooldown_hours, as_json, **settings) -> None:
    """Show or change a pool's autosizing settings."""
    from ringtrail.accounts import pool_autosize
    from ringtrail.reports.autosizing import Price

    data = {k: v for k, v in settings.items() if v is not None}
    if monthly_cap is not None:
        if monthly_cap.strip().lower() == "none":
            data["monthly_cap_minor"] = None
        else:
            try:
                cap = Price.parse(monthly_cap)
            except ValueError as exc:
                raise Refused(str(exc)) from None
            data["monthly_cap_minor"], data["currency"] = cap.minor, cap.currency
    if cooldown_hours is not None:
        data["cooldown_seconds"] = round(cooldown_hours * 3600)
    principal = cli_principal()
    target = get_or_404(Pool, pool_id, principal)
    db = get_db()
    row = (
        pool_autosize.update(db, principal, target, data)
        if data
        else pool_autosize.settings_of(db, target)
    )
    out = pool_autosize.describe(row)
    click.echo(
        json.dumps(out)
        if as_json
        else "  ".join(f"{k}={v}" for k, v in out.items() if k != "last_plan")
    )


@pool.command("autosize")
@click.option("--dry-run", is_flag=True, help="List what the job would do; change nothing.")
@click.option("--pool", "pool_id", type=int, default=None, help="Only this pool.")
@json_option
def pool_autosize_run(dry_run, pool_id, as_json) -> None:
    """Run the autosizing job now (every pool with autosizing on, or one)."""
    from ringtrail.reports import autosizer
    from ringtrail.tracking.pool import get_pools

    if pool_id is not None:
        get_or_404(Pool, pool_id, cli_principal())
    outcomes = autosizer.run(get_db(), get_pools(), dry_run=dry_run, pool_id=pool_id)
    if as_json:
        click.echo(json.dumps([o.__dict__ for o in outcomes]))
        return
    if not outcomes:
        click.echo("no pool has autosizing on" if pool_id is None else "autosizing is off")
    for o in outcomes:
        line = f"pool {o.pool_id}: {o.plan['reason']} -> {o.done}"
        if o.numbers:
            line += " (" + ", ".join(o.numbers) + ")"
        if o.released:
            line += f"; released {', '.join(o.released)}"
        click.echo(line)


# A second name, as the issue spells it: ``ringtrail pools autosize``.
pools_alias = AppGroup("pools", help="Run the autosizing job (as `pool autosize`).")
pools_alias.add_command(pool_autosize_run, "autosize")


# -- number -----------------------------------------------------------------------------

number = AppGroup("number", help="Tracking numbers of a pool.")


@number.command("add")
@click.option("--pool", "pool_id", type=int, required=True)
@click.argument("value")
@click.option("--role", type=click.Choice(NUMBER_ROLES), default=None)
@click.option("--source", default=None)
@json_option
def number_add(pool_id, value, role, source, as_json) -> None:
    """Add one number (any format; stored as E.164)."""
    data = _load(NumberIn(), {"pool_id": pool_id, "number": value, "role": role, "source": source})
    _emit(NumberOut(), configuration.add_number(get_db(), cli_principal(), data), as_json)


@number.command("import")
@click.option("--pool", "pool_id", type=int, required=True)
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--region", default="US", show_default=True)
@json_option
def number_import(pool_id, csv_file, region, as_json) -> None:
    """Import numbers from a CSV file: every row, or none."""
    target = get_or_404(Pool, pool_id, cli_principal())
    try:
        result = import_numbers(get_db(), cli_principal(), target, csv_file.read(), region)
    except ImportRejected as exc:
        if as_json:
            click.echo(json.dumps({"error": str(exc), "rows": describe_errors(exc.rows)}))
        else:
            for row in exc.rows:
                click.echo(f"row {row.row}: {row.error}", err=True)
        raise Refused(exc.reason) from None
    out = {"imported": result.imported, "unchanged": result.unchanged, "numbers": result.numbers}
    click.echo(
        json.dumps(out) if as_json else f"imported {result.imported}, unchanged {result.unchanged}"
    )


@number.command("list")
@click.option("--pool", "pool_id", type=int, default=None)
@json_option
def number_list(pool_id, as_json) -> None:
    """List numbers (of one pool)."""
    stmt = select(TrackingNumber).order_by(TrackingNumber.id)
    if pool_id:
        stmt = stmt.where(TrackingNumber.pool_id == pool_id)
    _emit(NumberOut(), get_db().scalars(stmt).all(), as_json, True)


# -- key --------------------------------------------------------------------------------

key = AppGroup("key", help="API keys (shown once, stored as a hash).")


@key.command("create")
@click.option("--agency", "agency_id", type=int, required=True)
@click.option("--name", required=True)
@click.option("--client", "client_id", type=int, default=None, help="Scope to one client.")
@json_option
def key_create(agency_id, name, client_id, as_json) -> None:
    """Create an API key and print it, this once."""
    data = _load(KeyIn(), {"name": name, "client_id": client_id})
    created, raw = access.create_key(get_db(), cli_principal(), data, agency_id)
    out = {**KeyOut().dump(created), "key": raw}
    if as_json:
        click.echo(json.dumps(out))
    else:
        click.echo(f"key {created.id} ({created.prefix}...): {raw}")
        click.echo("Store it now: it cannot be shown again.", err=True)


@key.command("list")
@click.option("--agency", "agency_id", type=int, default=None)
@json_option
def key_list(agency_id, as_json) -> None:
    """List API keys (prefixes only)."""
    stmt = select(ApiKey).order_by(ApiKey.id)
    if agency_id:
        stmt = stmt.where(ApiKey.agency_id == agency_id)
    _emit(KeyOut(), get_db().scalars(stmt).all(), as_json, True)


@key.command("revoke")
@click.argument("key_id", type=int)
@json_option
def key_revoke(key_id, as_json) -> None:
    """Revoke a key, with immediate effect."""
    p = cli_principal()
    _emit(KeyOut(), access.revoke_key(get_db(), p, get_or_404(ApiKey, key_id, p)), as_json)


# -- user -------------------------------------------------------------------------------

user = AppGroup("user", help="Dashboard users.")


@user.command("create")
@click.option("--agency", "agency_id", type=int, required=True)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--client", "client_id", type=int, default=None)
@click.option("--name", default=None)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
@json_option
def user_create(agency_id, email, role, client_id, name, password_stdin, as_json) -> None:
    """Create a dashboard user (the first agency admin, for one).

    The password is never an argument (it would be in the shell's history and in every
    process listing): it is prompted for, or read from standard input with
    --password-stdin, or from RINGTRAIL_NEW_USER_PASSWORD.
    """
    password = _new_password(password_stdin)
    data = _load(
        UserIn(),
        {"email": email, "role": role, "client_id": client_id, "name": name, "password": password},
    )
    _emit(UserOut(), access.create_user(get_db(), cli_principal(), data, agency_id), as_json)


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise Refused("no password on standard input", 2)
        return password
    # As set, not JSON-decoded like other settings: a password is text.
    given = os.environ.get(settings.BY_NAME["NEW_USER_PASSWORD"].env)
    if given:
        return given
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command("list")
@click.option("--agency", "agency_id", type=int, default=None)
@json_option
def user_list(agency_id, as_json) -> None:
    """List users."""
    stmt = select(User).order_by(User.id)
    if agency_id:
        stmt = stmt.where(User.agency_id == agency_id)
    _emit(UserOut(), get_db().scalars(stmt).all(), as_json, True)


# -- erase ------------------------------------------------------------------------------


@click.command("erase")
@click.option("--caller", default=None, help="The caller's number, any format.")
@click.option("--session", "session_id", default=None, help="A visitor session id.")
@json_option
@with_app
def erase(caller, session_id, as_json) -> None:
    """Erase a caller or a visitor session in every agency; prints one receipt per agency.

    Exits with status 1 if the carrier could not delete everything (run it again).
    """

    if (caller is None) == (session_id is None):
        raise click.UsageError("give exactly one of --caller or --session")
    subject = (
        erasure.caller_subject(caller)
        if caller is not None
        else erasure.session_subject(session_id)
    )
    receipts = [erasure.summary(r) for r in erasure.erase(get_db(), cli_principal(), subject)]
    if as_json:
        click.echo(json.dumps(receipts, default=str))
    for r in receipts if not as_json else []:
        counts = " ".join(f"{k}={v}" for k, v in r["counts"].items() if v)
        state = "complete" if r["complete"] else "INCOMPLETE"
        click.echo(f"receipt {r['id']} agency={r['agency_id']} {state} {counts or 'nothing found'}")
    if not all(r["complete"] for r in receipts):
        raise Refused("the carrier could not delete everything; run it again", exit_code=4)


COMMANDS = (agency, client, site, pool, pools_alias, number, key, user, erase)
