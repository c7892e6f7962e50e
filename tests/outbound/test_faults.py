"""Webhook deliveries survive what kills jobs: a worker killed with SIGKILL in the middle
of a request, and Redis restarting empty. Real processes, a real redis-server of the
test's own; the receiver verifies every request and handles each webhook-id once."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import select

from ringtrail import create_app
from ringtrail.outbound import delivery
from ringtrail.storage.clients import get_queue
from ringtrail.storage.models import WebhookDelivery, utcnow
from ringtrail.storage.sql import get_db
from tests.faults import Process, RedisServer, wait_for
from tests.helpers import cli_env, make_site
from tests.outbound.conftest import complete, endpoint_for, start_call

pytestmark = pytest.mark.slow


def _rows(app) -> list[WebhookDelivery]:
    with app.app_context():
        db = get_db()
        try:
            rows = list(db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
            db.expunge_all()
            return rows
        finally:
            db.close()


def test_a_worker_killed_mid_delivery_loses_nothing(app, app_config, db, receivers, tmp_path):
    setup = make_site(db, numbers=1)
    receiver = receivers(answers=["hang"], hang_seconds=4)
    endpoint_for(db, setup, receiver)
    call = start_call(db, setup)  # queues the sending job
    complete(db, call)
    env = dict(os.environ) | cli_env(app_config)
    env |= {"RINGTRAIL_WEBHOOKS_ALLOW_HTTP": "true", "RINGTRAIL_WEBHOOKS_TIMEOUT": "30"}
    worker = Process(["worker", "--burst"], env, tmp_path / "worker.log")
    worker.start()
    try:
        wait_for(receiver.in_flight.is_set, 60, "the worker's request to the receiver")
        worker.kill()  # in the middle of the request: no answer read, nothing recorded
    finally:
        worker.stop()
    first, second = _rows(app)
    assert first.status == "sending" and first.attempts == 0  # claimed, then orphaned
    assert second.status == "pending"  # the call's later event waits behind it
    wait_for(lambda: len(receiver.order) == 1, 10, "the hung request to end")

    # Once the claim's lease is over (timeout + margin), the sweep claims it again.
    with app.app_context():
        delivery.sweep(utcnow() + timedelta(seconds=30 + delivery.LEASE_MARGIN + 1))
    rows = _rows(app)
    assert [r.status for r in rows] == ["delivered", "delivered"]
    ids = [r["id"] for r in receiver.requests]
    assert ids.count(rows[0].message_id) == 2  # sent twice, under the same id
    assert receiver.events() == [
        ("call.started", call.id, None),
        ("call.completed", call.id, None),
    ]
    receiver.assert_each_event_once()


def test_redis_restarting_empty_loses_no_delivery(app_config, redis_client, receivers, tmp_path):
    server = RedisServer(tmp_path)  # the queue's Redis; no AOF: a restart forgets every job
    server.start()
    app = create_app(app_config | {"QUEUE_REDIS_URL": server.url})
    try:
        with app.app_context():
            db = get_db()
            setup = make_site(db, numbers=1)
            receiver = receivers()
            endpoint_for(db, setup, receiver)
            first = start_call(db, setup)
            assert get_queue().count == 1  # its sending job, in Redis only
            server.kill()
            second = start_call(db, setup)  # the queue is down: the call is recorded anyway
            assert second.id is not None
            server.start()
            assert get_queue().count == 0  # the jobs are gone
            delivery.sweep()  # the worker's periodic job, a minute later at most
        assert {(t, c) for t, c, _ in receiver.events()} == {
            ("call.started", first.id),
            ("call.started", second.id),
        }
        receiver.assert_each_event_once()
    finally:
        app.extensions["ringtrail"]["engine"].dispose()
        server.close()
