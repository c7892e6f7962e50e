"""Outcome subcommands: a call's outcome, tags, rules and block lists from scripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from ringtrail.storage.models import AuditEntry, BlockedCaller
from tests.cli.test_manage import out, run
from tests.helpers import add_call, make_site


def test_tags_rules_blocks_and_a_calls_outcome_from_the_command_line(app, db):
    setup = make_site(db, numbers=1)
    call = add_call(db, setup, datetime(2026, 11, 30, 15, tzinfo=UTC), caller_hash="c" * 64)
    client = str(setup.client.id)
    tag = out(app, "tag", "add", "--client", client, "--name", "Booked")
    assert tag["name"] == "Booked"
    assert [t["name"] for t in out(app, "tag", "list", "--client", client)] == ["Booked"]
    rule = out(
        app, "rule", "add", "--client", client, "--name", "long",
        "--when", "min_duration=60", "--when", "answered=true",
        "--then", "add_tag=Booked", "--then", "set_value=12500:usd",
    )  # fmt: skip
    assert rule["conditions"] == [
        {"kind": "min_duration", "value": 60},
        {"kind": "answered", "value": True},
    ]
    assert rule["actions"][1] == {"kind": "set_value", "amount_minor": 12500, "currency": "USD"}
    bad = run(app, "rule", "add", "--client", client, "--then", "add_tag=nope", ok=False)
    assert "not one of the client's tags" in bad.output
    outcome = out(
        app, "call", "set", str(call.id), "--add-tag", "booked", "--lead-status", "customer",
        "--value", "99000", "--currency", "EUR", "--note", "Signed the contract",
    )  # fmt: skip
    assert outcome["tags"] == ["Booked"] and outcome["lead_status"] == "customer"
    assert outcome["value"] == {"amount_minor": 99000, "currency": "EUR"}
    assert outcome["notes"][0]["author"] == "cli"
    history = out(app, "call", "history", str(call.id))
    assert [h["action"] for h in history] == ["outcome", "note"]
    assert history[0]["details"]["changes"]["lead_status"] == ["new", "customer"]
    refused = run(
        app, "call", "set", str(call.id), "--lead-status", "customer", "--tag", "x", ok=False
    )
    assert "unknown tag" in refused.output
    block = out(app, "block", "add", "--client", client, "--call", str(call.id))
    assert block["number"] == "+12125550143"  # the client keeps callers' numbers anyway
    assert len(out(app, "block", "list", "--client", client)) == 1
    run(app, "block", "remove", str(block["id"]))
    run(app, "rule", "remove", str(rule["id"]))
    run(app, "tag", "remove", str(tag["id"]))
    db.expire_all()
    assert db.scalars(select(BlockedCaller)).all() == []
    actions = {(e.action, e.object_type) for e in db.scalars(select(AuditEntry)).all()}
    assert {
        ("create", "tag"),
        ("create", "rule"),
        ("create", "block"),
        ("delete", "block"),
    } <= actions
    assert json.dumps(out(app, "tag", "list", "--client", client)) == "[]"
