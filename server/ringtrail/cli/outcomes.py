"""Outcome subcommands of ``ringtrail``: set a call's outcome, and manage each client's
tags, automation rules and block list.

They validate with the API's schemas and act through the same services
(``calls/outcomes.py``, ``accounts/automation.py``), audited as actor "cli".
"""

from __future__ import annotations

import json
from typing import Any

import click

from ringtrail.accounts import automation
from ringtrail.accounts.auth import cli_principal
from ringtrail.accounts.tenancy import get_or_404
from ringtrail.calls import outcomes
from ringtrail.cli.app import AppGroup
from ringtrail.storage.models import BlockedCaller, Call, Client, ClientTag, Rule
from ringtrail.storage.sql import get_db
from ringtrail.terms import LEAD_STATUSES
from ringtrail.web.schemas import BlockIn, CallPatch, RuleIn, TagIn, TagOut

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, default=str))
        return
    for row in data if isinstance(data, list) else [data]:
        click.echo("  ".join(f"{k}={v}" for k, v in row.items()))


# -- call -------------------------------------------------------------------------------

call = AppGroup("call", help="A call's outcome: tags, lead status, value, notes.")


@call.command("set")
@click.argument("call_id", type=int)
@click.option("--tag", "tags", multiple=True, help="Set exactly these tags; repeat for more.")
@click.option("--add-tag", "add_tags", multiple=True, help="Add a tag; repeat for more.")
@click.option("--remove-tag", "remove_tags", multiple=True, help="Remove a tag.")
@click.option("--clear-tags", is_flag=True, help="Remove every tag.")
@click.option("--lead-status", type=click.Choice(LEAD_STATUSES), default=None)
@click.option("--value", "value_minor", type=int, default=None, help="In cents (minor units).")
@click.option("--currency", default=None, help="Three letters, with --value.")
@click.option("--clear-value", is_flag=True)
@click.option("--note", default=None, help="Add a note, signed 'cli'.")
@json_option
def call_set(call_id, tags, add_tags, remove_tags, clear_tags, lead_status, value_minor,
             currency, clear_value, note, as_json) -> None:  # fmt: skip
    """Set a call's outcome (rules never overwrite it); prints the outcome."""
    body: dict[str, Any] = {}
    if tags or clear_tags:
        body["tags"] = list(tags)
    if add_tags:
        body["add_tags"] = list(add_tags)
    if remove_tags:
        body["remove_tags"] = list(remove_tags)
    if lead_status:
        body["lead_status"] = lead_status
    if clear_value:
        body["value"] = None
    elif value_minor is not None or currency is not None:
        body["value"] = {"amount_minor": value_minor, "currency": currency}
    if note is not None:
        body["note"] = note
    data = CallPatch().load(body)
    db, p = get_db(), cli_principal()
    record = get_or_404(Call, call_id, p)
    outcomes.apply(db, record, {k: v for k, v in data.items() if k != "note"}, p)
    if data.get("note"):
        outcomes.add_note(db, record, data["note"], p)
    db.commit()
    _print({"id": record.id, **outcomes.outcome_of(record)}, as_json)


@call.command("history")
@click.argument("call_id", type=int)
@json_option
def call_history(call_id, as_json) -> None:
    """Every change to a call's outcome and notes: who, when, old -> new."""
    record = get_or_404(Call, call_id, cli_principal())
    rows = [
        {"at": e.created_at.isoformat(), "actor": e.actor, "action": e.action, "details": e.details}
        for e in outcomes.history(get_db(), record)
    ]
    _print(rows, as_json)


# -- tag --------------------------------------------------------------------------------

tag = AppGroup("tag", help="A client's tag vocabulary.")


@tag.command("add")
@click.option("--client", "client_id", type=int, required=True)
@click.option("--name", required=True)
@json_option
def tag_add(client_id, name, as_json) -> None:
    """Add a tag to a client's vocabulary."""
    data = TagIn().load({"name": name})
    client = get_or_404(Client, client_id, cli_principal())
    created = automation.create_tag(get_db(), cli_principal(), client, data["name"])
    _print(TagOut().dump(created), as_json)


@tag.command("list")
@click.option("--client", "client_id", type=int, required=True)
@json_option
def tag_list(client_id, as_json) -> None:
    """List a client's tags."""
    client = get_or_404(Client, client_id, cli_principal())
    _print(TagOut(many=True).dump(automation.tags_of(get_db(), client)), as_json)


@tag.command("remove")
@click.argument("tag_id", type=int)
def tag_remove(tag_id) -> None:
    """Remove a tag from the vocabulary and from every call."""
    automation.delete_tag(get_db(), cli_principal(), get_or_404(ClientTag, tag_id, cli_principal()))


# -- rule -------------------------------------------------------------------------------

rule = AppGroup("rule", help="A client's automation rules, applied when a call completes.")


def _pair(text: str) -> tuple[str, Any]:
    kind, sep, raw = text.partition("=")
    if not sep:
        raise click.BadParameter(f"{text!r}: write KIND=VALUE")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return kind.strip(), value


def _action(text: str) -> dict[str, Any]:
    kind, value = _pair(text)
    if kind == "add_tag":
        return {"kind": kind, "tag": str(value)}
    if kind == "set_lead_status":
        return {"kind": kind, "lead_status": str(value)}
    if kind == "set_value":
        amount, _, currency = str(value).partition(":")
        if not amount.isdigit():
            raise click.BadParameter("set_value=CENTS:CUR, e.g. set_value=12500:USD")
        return {"kind": kind, "amount_minor": int(amount), "currency": currency}
    return {"kind": kind}


@rule.command("add")
@click.option("--client", "client_id", type=int, required=True)
@click.option("--name", default="")
@click.option("--position", type=int, default=None, help="Order (lower first); default last.")
@click.option(
    "--when", "conditions", multiple=True, help="KIND=VALUE, e.g. min_duration=60, answered=true."
)
@click.option(
    "--then",
    "actions",
    multiple=True,
    required=True,
    help="add_tag=NAME, set_lead_status=STATUS or set_value=CENTS:CUR.",
)
@json_option
def rule_add(client_id, name, position, conditions, actions, as_json) -> None:
    """Add a rule: every --when must hold; then every --then applies."""
    body = {
        "name": name,
        "conditions": [dict(zip(("kind", "value"), _pair(c), strict=True)) for c in conditions],
        "actions": [_action(a) for a in actions],
    }
    if position is not None:
        body["position"] = position
    data = RuleIn().load(body)
    client = get_or_404(Client, client_id, cli_principal())
    created = automation.create_rule(get_db(), cli_principal(), client, data)
    _print(automation.describe_rule(created), as_json)


@rule.command("list")
@click.option("--client", "client_id", type=int, required=True)
@json_option
def rule_list(client_id, as_json) -> None:
    """List a client's rules, in the order they run."""
    client = get_or_404(Client, client_id, cli_principal())
    _print([automation.describe_rule(r) for r in automation.rules_of(get_db(), client)], as_json)


@rule.command("remove")
@click.argument("rule_id", type=int)
def rule_remove(rule_id) -> None:
    """Delete a rule (what it set on calls stays)."""
    automation.delete_rule(get_db(), cli_principal(), get_or_404(Rule, rule_id, cli_principal()))


# -- block ------------------------------------------------------------------------------

block = AppGroup("block", help="A client's blocked callers: refused, recorded as spam.")


@block.command("add")
@click.option("--client", "client_id", type=int, required=True)
@click.option("--number", default=None, help="The caller's number, any format.")
@click.option("--call", "call_id", type=int, default=None, help="Block the caller of this call.")
@click.option("--reason", default="")
@json_option
def block_add(client_id, number, call_id, reason, as_json) -> None:
    """Block a caller by number, or as the caller of a call (works in HIPAA mode)."""
    body = {"reason": reason}
    if number is not None:
        body["number"] = number
    if call_id is not None:
        body["call_id"] = call_id
    data = BlockIn().load(body)
    db, p = get_db(), cli_principal()
    client = get_or_404(Client, client_id, p)
    if "call_id" in data:
        record = get_or_404(Call, data["call_id"], p)
        if record.client_id != client.id:
            raise click.BadParameter("that call is not one of this client's")
        created = automation.block_caller_of(db, p, record, data["reason"])
    else:
        created = automation.block_number(db, p, client, data["number"], data["reason"])
    _print(automation.describe_block(created), as_json)


@block.command("list")
@click.option("--client", "client_id", type=int, required=True)
@json_option
def block_list(client_id, as_json) -> None:
    """List a client's blocked callers."""
    client = get_or_404(Client, client_id, cli_principal())
    _print([automation.describe_block(b) for b in automation.blocks_of(get_db(), client)], as_json)


@block.command("remove")
@click.argument("block_id", type=int)
def block_remove(block_id) -> None:
    """Unblock a caller: their next call connects."""
    found = get_or_404(BlockedCaller, block_id, cli_principal())
    automation.unblock(get_db(), cli_principal(), found)


COMMANDS = (call, tag, rule, block)
