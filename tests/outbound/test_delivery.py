"""Delivery: every event arrives, signed, once per webhook-id, in order per call, through
receivers that are down, fail, hang or are gone; with injected time for the retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ringtrail.accounts.auth import cli_principal
from ringtrail.calls import outcomes
from ringtrail.outbound import delivery
from ringtrail.storage.models import (
    AuditEntry,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from tests.helpers import make_site, make_user
from tests.outbound.conftest import complete, endpoint_for, qualify, start_call


def rows(db, endpoint_id=None) -> list[WebhookDelivery]:
    db.expire_all()
    stmt = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    return list(db.scalars(stmt))


@pytest.mark.postgres
def test_a_calls_events_arrive_signed_once_and_in_order(app, db, receivers):
    setup = make_site(db, numbers=1)
    receiver = receivers()
    endpoint_for(db, setup, receiver)
    call = start_call(db, setup)
    qualify(db, call)
    complete(db, call)
    assert [d.event for d in rows(db)] == ["call.started", "call.updated", "call.completed"]

    assert delivery.sweep()["attempts"] == 3
    assert receiver.events() == [
        ("call.started", call.id, None),
        ("call.updated", call.id, "outcome"),
        ("call.completed", call.id, None),
    ]
    receiver.assert_each_event_once()
    last = receiver.handled[receiver.order[-1]]["data"]
    assert last["outcome"]["lead_status"] == "qualified"
    assert last["call"]["caller_number"] is None  # not asked for
    assert {"call", "attribution", "outcome", "visit", "changed"} <= set(last)
    assert all(d.status == "delivered" and d.attempts == 1 for d in rows(db))
    assert db.scalar(select(func.count()).select_from(WebhookAttempt)) == 3


@pytest.mark.postgres
def test_a_change_heard_twice_is_one_delivery(app, db, receivers):
    from ringtrail.calls import hooks

    setup = make_site(db, numbers=1)
    endpoint_for(db, setup, receivers())
    call = start_call(db, setup)
    hooks.emit(db, call, hooks.STARTED)  # a job that ran twice
    db.commit()
    assert len(rows(db)) == 1


@pytest.mark.postgres
def test_a_receiver_down_for_hours_gets_everything_when_it_comes_back(app, db, receivers):
    setup = make_site(db, numbers=1)
    receiver = receivers()
    endpoint = endpoint_for(db, setup, receiver)
    receiver.down()
    calls = [start_call(db, setup) for _ in range(2)]
    for call in calls:
        complete(db, call)
    t0 = utcnow()
    # One attempt per run while it fails (the others wait), then backoff: 5 s, 5 min...
    for hours in (0, 1, 3, 6, 10):
        delivery.sweep(t0 + timedelta(hours=hours))
    first = rows(db, endpoint.id)[0]
    assert first.status == "pending" and first.attempts >= 3
    assert first.next_attempt_at > t0 + timedelta(hours=10)
    assert first.error.startswith("could not connect")
    assert rows(db)[1].attempts == 0  # the same call's later event waits for it

    receiver.up()
    later = t0 + timedelta(hours=30)
    delivery.sweep(later)
    got = receiver.events()
    for call in calls:  # in order per call
        assert [e for e in got if e[1] == call.id] == [
            ("call.started", call.id, None),
            ("call.completed", call.id, None),
        ]
    assert len(got) == 4
    receiver.assert_each_event_once()
    db.expire_all()
    assert db.get(WebhookEndpoint, endpoint.id).failing_since is None


def test_500_then_200_is_retried_with_the_same_id(app, db, receivers):
    setup = make_site(db, numbers=1)
    receiver = receivers(answers=[500, 500])
    endpoint_for(db, setup, receiver)
    start_call(db, setup)
    t0 = utcnow()
    delivery.sweep(t0)
    (row,) = rows(db)
    assert (row.status, row.response_code, row.attempts) == ("pending", 500, 1)
    wait = (row.next_attempt_at - t0).total_seconds()
    assert 4 <= wait <= 6  # the first retry: 5 s, with jitter
    delivery.sweep(t0 + timedelta(seconds=3))
    assert rows(db)[0].attempts == 1  # not due yet
    delivery.sweep(t0 + timedelta(seconds=10))
    delivery.sweep(t0 + timedelta(minutes=10))
    (row,) = rows(db)
    assert (row.status, row.response_code, row.attempts) == ("delivered", 200, 3)
    ids = [r["id"] for r in receiver.requests]
    assert len(ids) == 3 and len(set(ids)) == 1 and ids[0] == row.message_id
    receiver.assert_each_event_once()


def test_a_receiver_that_hangs_past_the_timeout_is_tried_again(app, db, receivers):
    setup = make_site(db, numbers=1)
    receiver = receivers(answers=["hang"], hang_seconds=3)
    endpoint_for(db, setup, receiver)
    start_call(db, setup)
    t0 = utcnow()
    delivery.sweep(t0)
    (row,) = rows(db)
    assert row.status == "pending" and row.response_code is None
    assert "no answer within" in row.error and row.latency_ms < 2500
    delivery.sweep(t0 + timedelta(minutes=1))
    assert rows(db)[0].status == "delivered"
    assert len(receiver.order) == 1  # the hung request was answered to no one
    receiver.assert_each_event_once()


def test_410_disables_the_endpoint_and_enabling_it_sends_what_waited(app, db, receivers):
    from ringtrail.accounts.auth import cli_principal
    from ringtrail.outbound import webhooks

    setup = make_site(db, numbers=1)
    receiver = receivers(answers=[410])
    endpoint = endpoint_for(db, setup, receiver)
    call = start_call(db, setup)
    delivery.sweep()
    db.expire_all()
    gone = db.get(WebhookEndpoint, endpoint.id)
    assert gone.state == "disabled" and "410" in gone.state_reason
    complete(db, call)  # a disabled endpoint is not queued for
    assert len(rows(db)) == 1
    webhooks.update(db, cli_principal(), gone, {"enabled": True})
    delivery.sweep()
    assert receiver.events() == [("call.started", call.id, None)]
    receiver.assert_each_event_once()


def test_an_endpoint_failing_for_3_days_is_paused_and_its_admins_told(app, db, receivers, smtp):
    from ringtrail.accounts.auth import cli_principal
    from ringtrail.outbound import messages, notices, webhooks

    app.config["SMTP_URL"] = smtp.url
    setup = make_site(db, numbers=1)
    admin = make_user(db, setup)
    receiver = receivers(answers=[500] * 50)
    endpoint = endpoint_for(db, setup, receiver)
    call = start_call(db, setup)
    t0 = utcnow()
    for hours in range(0, 71, 6):
        delivery.sweep(t0 + timedelta(hours=hours))
    db.expire_all()
    assert db.get(WebhookEndpoint, endpoint.id).state == "enabled"
    assert delivery.sweep(t0 + timedelta(days=3, minutes=1))["paused"] == 1
    db.expire_all()
    paused = db.get(WebhookEndpoint, endpoint.id)
    assert paused.state == "paused" and "failing for 3 days" in paused.state_reason
    assert notices.admins_of(db, paused) == [admin.email]
    messages.send_due(db)
    (mail,) = smtp.inbox  # once, through the durable outbox
    assert mail.recipients == [admin.email] and "paused" in mail.subject
    assert endpoint.url in mail.body
    assert delivery.sweep(t0 + timedelta(days=3, hours=2))["paused"] == 0
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "pause"))
    assert entry.object_id == endpoint.id and entry.agency_id == setup.agency.id
    tried = rows(db)[0].attempts
    delivery.sweep(t0 + timedelta(days=5))
    assert rows(db)[0].attempts == tried and rows(db)[0].status == "pending"  # it waits

    receiver.answers.clear()
    webhooks.update(db, cli_principal(), paused, {"enabled": True})
    delivery.sweep()
    assert receiver.events() == [("call.started", call.id, None)]


def test_a_delivery_is_given_up_after_its_schedule_and_can_be_resent(app, db, receivers):
    setup = make_site(db, numbers=1)
    receiver = receivers(answers=[503] * len(delivery.SCHEDULE) + [503])
    endpoint_for(db, setup, receiver)
    start_call(db, setup)
    at = utcnow()
    for _ in range(len(delivery.SCHEDULE) + 1):
        delivery.sweep(at)
        row = rows(db)[0]
        if row.next_attempt_at is None:
            break
        at = row.next_attempt_at + timedelta(seconds=1)
        # keep the endpoint from pausing (as one success in between would), so that
        # this delivery runs through its whole schedule
        db.get(WebhookEndpoint, row.endpoint_id).failing_since = None
        db.commit()
    row = rows(db)[0]
    assert row.status == "failed" and row.attempts == len(delivery.SCHEDULE) + 1
    total = sum(delivery.SCHEDULE)
    assert total >= 24 * 3600
    assert delivery.resend(db, row) == "delivered"
    assert rows(db)[0].attempts == len(delivery.SCHEDULE) + 2
    assert len({r["id"] for r in receiver.requests}) == 1  # a resend is the same message


def test_backoff_grows_with_jitter_and_ends():
    waits = [delivery.backoff(n) for n in range(1, len(delivery.SCHEDULE) + 1)]
    assert all(b > a for a, b in zip(waits[:6], waits[1:7], strict=True))
    assert 4.5 <= waits[0] <= 5.5
    assert delivery.backoff(len(delivery.SCHEDULE) + 1) is None
    assert sum(delivery.SCHEDULE) >= 24 * 3600


@pytest.mark.postgres
def test_the_log_forgets_what_was_delivered_30_days_ago(app, db, receivers):
    setup = make_site(db, numbers=1)
    receiver = receivers()
    endpoint_for(db, setup, receiver)
    start_call(db, setup)
    t0 = utcnow()
    delivery.sweep(t0)
    assert rows(db)[0].status == "delivered"
    assert delivery.sweep(t0 + timedelta(days=29))["forgotten"] == 0
    assert delivery.sweep(t0 + timedelta(days=31))["forgotten"] == 1
    assert rows(db) == [] and db.scalar(select(func.count()).select_from(WebhookAttempt)) == 0


@pytest.mark.postgres
def test_sweeps_running_at_once_send_each_delivery_once_in_order(app, db, receivers):
    import threading

    setup = make_site(db, numbers=1)
    receiver = receivers()
    endpoint_for(db, setup, receiver)
    calls = [start_call(db, setup) for _ in range(8)]
    for call in calls:
        qualify(db, call)
    errors: list[BaseException] = []

    def run():
        try:
            with app.app_context():
                delivery.sweep()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    delivery.sweep()  # whatever a thread left behind an earlier event it did not wait for
    assert errors == []
    assert len(receiver.requests) == 16  # each delivery sent exactly once
    receiver.assert_each_event_once()
    for call in calls:
        assert [e for e in receiver.events() if e[1] == call.id] == [
            ("call.started", call.id, None),
            ("call.updated", call.id, "outcome"),
        ]


def test_a_recording_is_an_update_and_a_note_is_not(app, db, receivers):
    from ringtrail.accounts.auth import cli_principal
    from ringtrail.calls import hooks, outcomes

    setup = make_site(db, numbers=1)
    receiver = receivers()
    endpoint_for(db, setup, receiver)
    call = start_call(db, setup)
    call.recording_sid = "RE" + "1" * 32
    hooks.emit(db, call, hooks.UPDATED, {"what": "recording"})
    db.commit()
    outcomes.add_note(db, call, "Called back", cli_principal())
    db.commit()
    delivery.sweep()
    assert receiver.events() == [
        ("call.started", call.id, None),
        ("call.updated", call.id, "recording"),
    ]
    (updated,) = [e for e in receiver.handled.values() if e["type"] == "call.updated"]
    assert updated["data"]["call"]["has_recording"] is True
    assert "notes" not in updated["data"]["outcome"]


def test_the_sending_job_is_queued_by_the_commit_not_by_the_listeners_savepoint(app, db, receivers):
    """The hooks listener runs in a savepoint; releasing it is not the commit that makes
    the delivery visible, so the job that sends it is queued only once the change commits
    (and not at all when it is rolled back)."""
    from ringtrail.storage.clients import get_queue

    setup = make_site(db, numbers=1)
    endpoint_for(db, setup, receivers())
    call = start_call(db, setup)
    queue = get_queue()
    queue.empty()
    before = len(rows(db))
    outcomes.apply(db, call, {"lead_status": "qualified"}, cli_principal(), source="manual")
    assert len(rows(db)) == before + 1  # call.updated, written in the listener's savepoint
    assert queue.count == 0  # the savepoint is released, the change not yet committed
    db.rollback()
    assert queue.count == 0 and len(rows(db)) == before  # rolled back: nothing to send
    call = db.get(type(call), call.id)
    outcomes.apply(db, call, {"lead_status": "qualified"}, cli_principal(), source="manual")
    db.commit()
    assert [job.func_name for job in queue.get_jobs()] == ["ringtrail.outbound.delivery.send_due"]
