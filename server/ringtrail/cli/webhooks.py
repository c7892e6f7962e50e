"""``ringtrail webhooks``: webhook endpoints and their delivery logs, from the command line.

Input is validated with the API's schemas and every change goes through the same
services (``outbound/webhooks.py``, ``outbound/events.py``), audited as actor "cli". A
resend from here is sent at once, in this process, and its result printed.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ringtrail.accounts.auth import cli_principal
from ringtrail.accounts.tenancy import get_or_404
from ringtrail.cli.app import AppGroup
from ringtrail.outbound import delivery, events, webhooks
from ringtrail.outbound.payloads import EVENTS
from ringtrail.storage.models import WebhookDelivery, WebhookEndpoint
from ringtrail.storage.sql import get_db
from ringtrail.web.webhook_schemas import DeliveryOut, EndpointIn, EndpointOut, EndpointPatch

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
ENDPOINT_COLUMNS = ("id", "client_id", "state", "events", "url", "state_reason")
DELIVERY_COLUMNS = ("id", "event", "call_id", "status", "attempts", "response_code",
                    "latency_ms", "next_attempt_at", "message_id", "error")  # fmt: skip


def _print(rows: list[dict[str, Any]], columns: tuple[str, ...], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    for row in rows:
        click.echo("  ".join(f"{k}={row.get(k)}" for k in columns if k in row))


def _endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return EndpointOut().dump(endpoint)


def _delivery(row: WebhookDelivery) -> dict[str, Any]:
    return DeliveryOut().dump(row)


def _get(endpoint_id: int) -> WebhookEndpoint:
    return get_or_404(WebhookEndpoint, endpoint_id, cli_principal())


group = AppGroup("webhooks", help="Webhook endpoints: signed call events, and their logs.")


@group.command("list")
@click.option("--client", "client_id", type=int, default=None, help="One client's only.")
@json_option
def list_endpoints(client_id: int | None, as_json: bool) -> None:
    """Every endpoint, with its state."""
    rows = get_db().scalars(webhooks.endpoints_query(cli_principal(), client_id)).all()
    _print([_endpoint(e) for e in rows], ENDPOINT_COLUMNS, as_json)


@group.command("create")
@click.argument("url")
@click.option("--agency", "agency_id", type=int, default=None, help="The agency's own.")
@click.option("--client", "client_id", type=int, default=None, help="One client's calls.")
@click.option("--event", "events_", multiple=True, type=click.Choice(EVENTS), help="Repeat.")
@click.option("--description", default="")
@click.option("--include-caller-number", is_flag=True, help="Never in HIPAA mode.")
@json_option
def create(url, agency_id, client_id, events_, description, include_caller_number, as_json):
    """Make an endpoint; prints it with its secret (shown this once)."""
    body: dict[str, Any] = {"url": url, "description": description, "client_id": client_id}
    if events_:
        body["events"] = list(events_)
    if include_caller_number:
        body["include_caller_number"] = True
    data = EndpointIn().load(body)
    endpoint, secret = webhooks.create(get_db(), cli_principal(), data, agency_id)
    _print([_endpoint(endpoint) | {"secret": secret}], (*ENDPOINT_COLUMNS, "secret"), as_json)


def _patch(endpoint_id: int, body: dict[str, Any], as_json: bool) -> None:
    data = EndpointPatch().load(body)
    endpoint = webhooks.update(get_db(), cli_principal(), _get(endpoint_id), data)
    _print([_endpoint(endpoint)], ENDPOINT_COLUMNS, as_json)


@group.command("enable")
@click.argument("endpoint_id", type=int)
@json_option
def enable(endpoint_id: int, as_json: bool) -> None:
    """Enable (resume) an endpoint: what waited is sent, in order."""
    _patch(endpoint_id, {"enabled": True}, as_json)


@group.command("disable")
@click.argument("endpoint_id", type=int)
@json_option
def disable(endpoint_id: int, as_json: bool) -> None:
    """Disable an endpoint: nothing new is queued for it."""
    _patch(endpoint_id, {"enabled": False}, as_json)


@group.command("rotate")
@click.argument("endpoint_id", type=int)
def rotate(endpoint_id: int) -> None:
    """A new secret (printed this once); the previous one signs beside it for a while."""
    endpoint = _get(endpoint_id)
    secret = webhooks.rotate(get_db(), cli_principal(), endpoint)
    click.echo(f"secret={secret}  previous_secret_until={endpoint.previous_secret_until}")


@group.command("delete")
@click.argument("endpoint_id", type=int)
def delete(endpoint_id: int) -> None:
    """Delete an endpoint and its delivery log."""
    webhooks.delete(get_db(), cli_principal(), _get(endpoint_id))
    click.echo(f"deleted endpoint {endpoint_id}")


@group.command("deliveries")
@click.argument("endpoint_id", type=int)
@click.option("--status", type=click.Choice(delivery.STATUSES), default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=50)
@json_option
def deliveries(endpoint_id: int, status: str | None, limit: int, as_json: bool) -> None:
    """The endpoint's delivery log, newest first."""
    stmt = events.deliveries_query(_get(endpoint_id), status).limit(limit)
    _print([_delivery(r) for r in get_db().scalars(stmt)], DELIVERY_COLUMNS, as_json)


@group.command("resend")
@click.argument("delivery_id", type=int)
@json_option
def resend(delivery_id: int, as_json: bool) -> None:
    """Send a delivery again now (same webhook-id), whatever its endpoint's state."""
    db = get_db()
    row = get_or_404(WebhookDelivery, delivery_id, cli_principal())
    events.resend(db, cli_principal(), row, queue=False)
    delivery.attempt(db, delivery_id, manual=True)  # at once, in this process
    db.refresh(row)
    _print([_delivery(row)], DELIVERY_COLUMNS, as_json)


@group.command("test")
@click.argument("endpoint_id", type=int)
@json_option
def test(endpoint_id: int, as_json: bool) -> None:
    """Send a webhook.test event now and print how it went."""
    db = get_db()
    row = events.test_event(db, cli_principal(), _get(endpoint_id), queue=False)
    delivery.attempt(db, row.id, manual=True)
    db.refresh(row)
    _print([_delivery(row)], DELIVERY_COLUMNS, as_json)


COMMANDS = (group,)
