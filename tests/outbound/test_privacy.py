"""Webhook bodies and privacy: a visitor's erasure reaches the bodies Ringtrail keeps,
and a caller's erasure takes the deliveries with the calls."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from ringtrail.accounts.auth import cli_principal
from ringtrail.calls import hooks
from ringtrail.privacy import erasure
from ringtrail.storage.models import WebhookDelivery
from tests.helpers import add_call, make_site
from tests.outbound.conftest import endpoint_for

VISIT = {"landing_url": "https://shop.example/quote?gclid=abc", "campaign": "spring"}


def _call_with_delivery(db, receivers, stand_in):
    setup = make_site(db, numbers=1)
    stand_in.accounts[setup.account_sid] = setup.token  # the carrier erases its call log
    endpoint_for(db, setup, receivers())
    call = add_call(db, setup, datetime(2026, 11, 30, 15, tzinfo=UTC), visit=VISIT)
    call.session_id = call.visit.session_id  # attributed to that visit
    hooks.emit(db, call, hooks.COMPLETED)
    db.commit()
    (row,) = db.scalars(select(WebhookDelivery)).all()
    assert "shop.example/quote" in row.body
    return call, row


def test_erasing_a_visit_takes_it_out_of_kept_webhook_bodies(app, db, receivers, stand_in):
    call, row = _call_with_delivery(db, receivers, stand_in)
    message_id = row.message_id
    erasure.erase(db, cli_principal(), erasure.session_subject(call.visit.session_id))
    db.expire_all()
    row = db.get(WebhookDelivery, row.id)
    assert "shop.example" not in row.body and "spring" not in row.body
    assert row.message_id == message_id  # the same message, sent without the visit


def test_erasing_a_caller_takes_the_deliveries_of_their_calls(app, db, receivers, stand_in):
    call, _ = _call_with_delivery(db, receivers, stand_in)
    erasure.erase(db, cli_principal(), erasure.caller_subject(call.caller_number))
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
