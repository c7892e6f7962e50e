"""The seam for what follows a call: listeners hear each start, completion and update
once, inside the change's transaction, and a failing listener never costs the record."""

from __future__ import annotations

import dataclasses
import time

import pytest
from sqlalchemy import text

from ringtrail.accounts.auth import cli_principal
from ringtrail.calls import hooks, outcomes
from ringtrail.calls.events import CallEvent, RouteFacts
from ringtrail.calls.records import apply_event
from ringtrail.calls.rules import on_completed
from ringtrail.storage.models import Call
from ringtrail.tracking.pool import get_pools
from ringtrail.tracking.visits import get_visits
from tests.helpers import make_site


@pytest.fixture
def heard():
    got: list[tuple[int, str, str | None]] = []

    def listener(db, call, kind, details):
        got.append((call.id, kind, details.get("what")))

    def broken(db, call, kind, details):
        db.execute(text("SELECT no_such_column FROM calls"))  # aborts a PostgreSQL transaction

    hooks.register("test-heard", listener)
    hooks.register("test-broken", broken)
    yield got
    hooks._listeners.pop("test-heard", None)
    hooks._listeners.pop("test-broken", None)


def voice(setup, sid: str) -> CallEvent:
    route = RouteFacts(
        "pool", setup.pool.id, setup.site.id, setup.client.id, 3600, agency_id=setup.agency.id
    )
    event = CallEvent.voice(
        provider="twilio",
        call_sid=sid,
        received_at=time.time(),
        to=setup.numbers[0],
        caller="+12125550143",
        route=route,
        hipaa=False,
        agency_id=setup.agency.id,
    )
    return dataclasses.replace(event, clock=time.time())


@pytest.mark.postgres
def test_a_call_is_heard_starting_once_completing_once_and_each_update(app, db, heard):
    setup = make_site(db, numbers=1)
    event = voice(setup, f"CA{time.time_ns()}")
    call = apply_event(db, event, get_pools(), get_visits())
    db.commit()
    apply_event(db, event, get_pools(), get_visits())  # the webhook, delivered again
    db.commit()
    assert heard == [(call.id, "started", None)]

    outcomes.apply(db, call, {"lead_status": "qualified"}, cli_principal(), source="manual")
    db.commit()
    assert heard[-1] == (call.id, "updated", "outcome")

    call.status = "completed"
    assert on_completed(db, call) == 0
    assert on_completed(db, call) == 0  # the job, run twice
    db.commit()
    assert [k for _, k, _ in heard] == ["started", "updated", "completed"]
    assert db.get(Call, call.id).lead_status == "qualified"  # the broken listener cost nothing


def test_an_unknown_kind_is_refused(app, db):
    setup = make_site(db, numbers=1)
    call = apply_event(db, voice(setup, f"CA{time.time_ns()}"), get_pools(), get_visits())
    with pytest.raises(ValueError, match="unknown call change"):
        hooks.emit(db, call, "finished")
