"""Blocked callers: refused with <Reject>, recorded as spam; every other caller connects,
and so does a blocked one when the block list cannot be trusted."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from ringtrail.accounts import automation
from ringtrail.accounts.auth import cli_principal
from ringtrail.storage.models import Call
from ringtrail.storage.sql import get_db
from ringtrail.tracking import directory
from ringtrail.tracking.directory import get_directory
from tests.helpers import BUSINESS, call_params, make_site, run_jobs, twilio_post

VOICE = "/telephony/twilio/voice"
STATUS = "/telephony/twilio/status"
BLOCKED = "+12125550143"
OTHER = "+12125550144"


@pytest.fixture
def setup(app):
    with app.app_context():
        setup = make_site(get_db(), numbers=2)
        automation.block_number(get_db(), cli_principal(), setup.client, "(212) 555-0143", "spam")
        return setup


def _answer(res) -> ET.Element:
    assert res.status_code == 200, res.get_data(as_text=True)
    return ET.fromstring(res.get_data(as_text=True))  # noqa: S314 (our own answer)


def test_a_blocked_caller_is_rejected_and_recorded_as_spam(app, client, setup):
    params = call_params(setup, setup.numbers[0], caller=BLOCKED)
    root = _answer(twilio_post(client, VOICE, params, setup.token))
    assert [c.tag for c in root] == ["Reject"] and root[0].get("reason") == "busy"
    status = dict(params, CallStatus="busy", CallDuration="0")
    assert twilio_post(client, STATUS, status, setup.token).status_code == 204
    run_jobs(app)
    with app.app_context():
        call = get_db().scalars(select(Call)).one()
        assert call.blocked is True and call.lead_status == "spam"
        assert call.route_kind == "blocked" and call.status == "busy"
        assert call.outcome_sources == {"lead_status": "block"}
        assert call.forwarded_to == ""


def test_other_callers_and_other_clients_connect(app, client, setup):
    root = _answer(
        twilio_post(client, VOICE, call_params(setup, setup.numbers[0], caller=OTHER), setup.token)
    )
    assert root.find("Dial") is not None and root.find("Dial").findtext("Number") == BUSINESS
    with app.app_context():
        other = make_site(get_db(), numbers=1, number_start=40)
    params = call_params(other, other.numbers[0], caller=BLOCKED)
    root = _answer(twilio_post(client, VOICE, params, other.token))
    assert root.find("Dial") is not None  # blocked by one client only


def test_unblocking_reaches_the_webhook_at_once(app, client, setup):
    with app.app_context():
        db = get_db()
        block = automation.blocks_of(db, db.merge(setup.client))[0]
        automation.unblock(db, cli_principal(), block)
    root = _answer(
        twilio_post(
            client, VOICE, call_params(setup, setup.numbers[0], caller=BLOCKED), setup.token
        )
    )
    assert root.find("Dial") is not None


def test_a_block_list_that_cannot_be_trusted_connects_the_call(app, client, setup):
    """A routing table not known current (the database and the channel away) may hold a
    block since lifted: the call connects, unrecorded, as every degraded call does."""
    with app.app_context():
        directory = get_directory()
        snapshot = directory.get()
        assert snapshot.blocked  # the block reached the cached directory
        snapshot.loaded_at = 1.0  # as if it could not be confirmed for a long time
        directory.current_for = 0.0
        try:
            params = call_params(setup, setup.numbers[0], caller=BLOCKED)
            root = _answer(twilio_post(client, VOICE, params, setup.token))
        finally:
            directory.current_for = 5.0
    assert root.find("Dial") is not None


def test_a_broken_block_list_connects_the_call(app, client, setup, monkeypatch):
    loaded = directory.load

    def broken(session):
        snapshot = loaded(session)
        snapshot.blocked = None  # unreadable: reading it raises
        return snapshot

    monkeypatch.setattr(directory, "load", broken)
    params = call_params(setup, setup.numbers[0], caller=BLOCKED)
    root = _answer(twilio_post(client, VOICE, params, setup.token))
    assert root.find("Dial") is not None
