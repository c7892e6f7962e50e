"""``ringtrail notifications``: who is told about calls, each client's Slack URL and
summary hour, and the outbox (what waits to be sent, sending it now, a test e-mail).

They validate with the API's schemas and act through the same service
(``outbound/preferences.py``), audited as actor "cli".
"""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import select

from ringtrail.accounts.auth import cli_principal
from ringtrail.accounts.tenancy import get_or_404
from ringtrail.cli.app import AppGroup, Refused
from ringtrail.outbound import messages, preferences, summaries
from ringtrail.storage.models import Client, User
from ringtrail.storage.sql import get_db
from ringtrail.web.schemas import ClientNotificationsPatch, NotificationsPatch

notifications = AppGroup(
    "notifications", help="Who is told about calls, Slack URLs, summaries and the outbox."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, default=str))
        return
    for row in data if isinstance(data, list) else [data]:
        click.echo("  ".join(f"{k}={v}" for k, v in row.items()))


def _user(who: str) -> User:
    db = get_db()
    user = db.scalar(select(User).where(User.email == who.strip().lower()))
    if user is None and who.isdigit():
        user = db.get(User, int(who))
    if user is None:
        raise Refused(f"no user {who!r} (give an e-mail address or an id)", 3)
    return user


@notifications.command("show")
@click.option("--user", "who", required=True, help="The user's e-mail address or id.")
@json_option
def show(who: str, as_json: bool) -> None:
    """What a user is told about, per client they may be told about."""
    _print(preferences.preferences_of(get_db(), _user(who)), as_json)


def _switches(command):
    for name in reversed(preferences.FIELDS):
        flag = name.replace("_", "-")
        command = click.option(
            f"--{flag}/--no-{flag}", name, default=None, help=preferences.WORDS[name]
        )(command)
    return command


@notifications.command("set")
@click.option("--user", "who", required=True, help="The user's e-mail address or id.")
@click.option("--client", "client_id", type=int, required=True, help="The client's id.")
@_switches
@json_option
def set_(who: str, client_id: int, as_json: bool, **switches: bool | None) -> None:
    """Change what a user is told about a client (--missed-calls, --no-new-calls, ...)."""
    body = {k: v for k, v in switches.items() if v is not None}
    data = NotificationsPatch().load(body)
    db, p = get_db(), cli_principal()
    out = preferences.set_preferences(db, p, _user(who), get_or_404(Client, client_id, p), data)
    db.commit()
    _print(out, as_json)


@notifications.command("clear")
@click.option("--user", "who", required=True, help="The user's e-mail address or id.")
@click.option("--client", "client_id", type=int, required=True, help="The client's id.")
def clear(who: str, client_id: int) -> None:
    """Tell a user nothing more about a client."""
    db, p = get_db(), cli_principal()
    preferences.clear_preferences(db, p, _user(who), get_or_404(Client, client_id, p))
    db.commit()
    click.echo("cleared")


@notifications.command("client")
@click.argument("client_id", type=int)
@click.option("--slack-url", default=None, help="The client's Slack incoming-webhook URL.")
@click.option("--remove-slack", is_flag=True, help="Remove the client's Slack URL.")
@click.option("--summary-hour", type=int, default=None, help="0-23, the client's time.")
@json_option
def client_settings(client_id, slack_url, remove_slack, summary_hour, as_json) -> None:
    """Show or change a client's Slack URL (stored sealed, never shown) and summary hour."""
    db, p = get_db(), cli_principal()
    client = get_or_404(Client, client_id, p)
    body: dict[str, Any] = {}
    if remove_slack:
        body["slack_webhook_url"] = None
    elif slack_url is not None:
        body["slack_webhook_url"] = slack_url
    if summary_hour is not None:
        body["summary_hour"] = summary_hour
    if body:
        out = preferences.set_client_settings(db, p, client, ClientNotificationsPatch().load(body))
        db.commit()
    else:
        out = preferences.client_settings(db, client)
    _print(out | {"email_enabled": messages.mail_enabled()}, as_json)


@notifications.command("outbox")
@json_option
def outbox(as_json: bool) -> None:
    """How many messages are queued, sent, failed and expired, and whether e-mail is on."""
    counts = messages.counts_by_status(get_db(), None)
    _print(counts | {"email_enabled": messages.mail_enabled()}, as_json)


@notifications.command("send")
@json_option
def send(as_json: bool) -> None:
    """Send the messages that are due now (the worker does this every minute)."""
    _print(messages.send_due(get_db()), as_json)


@notifications.command("summaries")
@json_option
def send_summaries(as_json: bool) -> None:
    """Queue the daily and weekly summaries that are due now (the worker does it hourly)."""
    _print(summaries.queue_due(get_db()), as_json)


@notifications.command("test")
@click.option("--to", "to", required=True, help="The address to send a test e-mail to.")
def test_mail(to: str) -> None:
    """Send a test e-mail now, through RINGTRAIL_SMTP_URL, and say how it went."""
    if not messages.mail_enabled():
        raise Refused(messages.MAIL_OFF)
    db = get_db()
    message = messages.queue_email(
        db, [to], "Ringtrail test e-mail", "This is a test of Ringtrail's e-mail.\n"
    )
    db.commit()
    messages.send_due(db)
    db.refresh(message)
    if message.status != messages.SENT:
        raise Refused(f"not sent ({message.status}): {message.last_error}")
    click.echo(f"sent to {to}")


COMMANDS = (notifications,)
