"""What the outbound tests share: the SMTP and Slack stand-ins; webhook receivers on
127.0.0.1 (the app allows http:// to them, with a short timeout); calls that go through
the real hooks (a voice event, an outcome, rules)."""

from __future__ import annotations

import dataclasses
import time

import pytest

from ringtrail.accounts.auth import cli_principal
from ringtrail.calls import outcomes
from ringtrail.calls.events import CallEvent, RouteFacts
from ringtrail.calls.records import apply_event
from ringtrail.calls.rules import on_completed
from ringtrail.outbound import webhooks
from ringtrail.storage.models import Call
from ringtrail.tracking.pool import get_pools
from ringtrail.tracking.visits import get_visits
from tests.outbound.receivers import Receiver
from tests.outbound.standins import SmtpServer, start_slack

TIMEOUT = 1.0


@pytest.fixture
def app_config(app_config):
    return app_config | {"WEBHOOKS_ALLOW_HTTP": True, "WEBHOOKS_TIMEOUT": TIMEOUT}


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def endpoint_for(db, setup, receiver: Receiver, *, client=True, **data):
    """An endpoint of the setup's client (or agency) pointed at the receiver, whose
    secret the receiver is given."""
    data = {"url": receiver.url} | data
    if client:
        data["client_id"] = setup.client.id
    endpoint, secret = webhooks.create(db, cli_principal(), data, setup.agency.id)
    receiver.secrets.append(secret)
    return endpoint


def start_call(db, setup, *, caller: str | None = "+12125550143", hipaa: bool = False) -> Call:
    """A call's first voice event applied (call.started), committed."""
    route = RouteFacts(
        "pool", setup.pool.id, setup.site.id, setup.client.id, 3600, agency_id=setup.agency.id
    )
    event = CallEvent.voice(
        provider="twilio",
        call_sid=f"CA{time.time_ns()}",
        received_at=time.time(),
        to=setup.numbers[0],
        caller=caller,
        route=route,
        hipaa=hipaa,
        agency_id=setup.agency.id,
    )
    call = apply_event(db, dataclasses.replace(event, clock=time.time()), get_pools(), get_visits())
    db.commit()
    return call


def qualify(db, call: Call, status: str = "qualified") -> None:
    """A person changes the outcome (call.updated)."""
    outcomes.apply(db, call, {"lead_status": status}, cli_principal(), source="manual")
    db.commit()


def complete(db, call: Call) -> None:
    """The call completes and its rules run (call.completed)."""
    call.status = "completed"
    on_completed(db, call)
    db.commit()


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1 (aiosmtpd), up for the test."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def slack():
    """A Slack incoming-webhook stand-in on 127.0.0.1."""
    state, server = start_slack()
    yield state
    server.shutdown()
    server.server_close()
