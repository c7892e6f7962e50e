"""The dashboard's outcome forms: a call's page, the call log's bulk form, and a client's
tags, rules and block list; report-only users read and never get a form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ringtrail.accounts import automation
from ringtrail.accounts.auth import cli_principal
from ringtrail.storage.models import BlockedCaller, Call, Rule
from tests.helpers import add_call, log_in, make_site, make_user


@pytest.fixture
def app_config(app_config):
    return app_config | {"WTF_CSRF_ENABLED": False}


@pytest.fixture
def world(db):
    setup = make_site(db, numbers=1)
    for name in ("booked", "hot lead"):
        automation.create_tag(db, cli_principal(), setup.client, name)
    when = datetime.now(UTC) - timedelta(hours=2)
    setup.extra["calls"] = [
        add_call(db, setup, when, caller_hash="b" * 64).id,
        add_call(db, setup, when - timedelta(minutes=5)).id,
    ]
    return setup


def test_an_editor_sets_the_outcome_on_the_calls_page(client, db, world):
    log_in(client, make_user(db, world, "client_manager", world.client))
    cid = world.extra["calls"][0]
    page = client.get(f"/dashboard/calls/{cid}").get_data(as_text=True)
    assert 'id="outcome-form"' in page and 'value="hot lead"' in page
    res = client.post(
        f"/dashboard/calls/{cid}/outcome",
        data={"tag": ["booked"], "lead_status": "customer", "value": "1,250.50", "currency": "usd",
              "note": "Booked for Tuesday"},
    )  # fmt: skip
    assert res.status_code == 302
    db.expire_all()
    call = db.get(Call, cid)
    assert call.tag_names == ["booked"] and call.lead_status == "customer"
    assert (call.value_minor, call.currency) == (125050, "USD")
    page = client.get(f"/dashboard/calls/{cid}").get_data(as_text=True)
    assert "Booked for Tuesday" in page and "1250.50 USD" in page
    assert "lead_status new → customer" in page  # the history
    bad = client.post(f"/dashboard/calls/{cid}/outcome", data={"lead_status": "x", "value": ""})
    assert bad.status_code == 302
    db.expire_all()
    assert db.get(Call, cid).lead_status == "customer"
    res = client.post(f"/dashboard/calls/{cid}/block", data={"reason": "abusive"})
    assert res.status_code == 302
    assert db.scalars(select(BlockedCaller)).one().reason == "abusive"


def test_report_only_users_see_outcomes_without_a_form(client, db, world):
    log_in(client, make_user(db, world, "report_only", world.client))
    cid = world.extra["calls"][0]
    page = client.get(f"/dashboard/calls/{cid}").get_data(as_text=True)
    assert 'id="outcome"' in page and 'id="outcome-form"' not in page
    assert 'id="block-form"' not in page
    assert 'id="bulk-form"' not in client.get("/dashboard/calls").get_data(as_text=True)
    for path, data in (
        (f"/dashboard/calls/{cid}/outcome", {"lead_status": "spam"}),
        (
            "/dashboard/calls/outcomes",
            {"call": [str(cid)], "action": "lead_status", "value": "spam"},
        ),
        (f"/dashboard/settings/clients/{world.client.id}/tags", {"name": "x"}),
    ):
        assert client.post(path, data=data).status_code == 403, path
    db.expire_all()
    assert db.get(Call, cid).lead_status == "new"
    settings = client.get(f"/dashboard/settings/clients/{world.client.id}/outcomes")
    assert settings.status_code == 200 and 'id="tag-form"' not in settings.get_data(as_text=True)


def test_the_call_logs_bulk_form_changes_every_ticked_call(client, db, world):
    log_in(client, make_user(db, world))
    page = client.get("/dashboard/calls").get_data(as_text=True)
    assert 'id="bulk-form"' in page
    ids = [str(i) for i in world.extra["calls"]]
    res = client.post(
        "/dashboard/calls/outcomes",
        data={"call": ids, "action": "add_tag", "value": "hot lead", "next": "/dashboard/calls"},
    )
    assert res.status_code == 302 and res.headers["Location"].endswith("/dashboard/calls")
    db.expire_all()
    assert [db.get(Call, int(i)).tag_names for i in ids] == [["hot lead"], ["hot lead"]]
    client.post(
        "/dashboard/calls/outcomes", data={"call": ids, "action": "add_tag", "value": "nope"}
    )
    db.expire_all()
    assert [db.get(Call, int(i)).tag_names for i in ids] == [["hot lead"], ["hot lead"]]


def test_a_clients_tags_rules_and_blocks_from_the_settings_page(client, db, world):
    log_in(client, make_user(db, world))
    base = f"/dashboard/settings/clients/{world.client.id}"
    assert client.post(f"{base}/tags", data={"name": "Callback"}).status_code == 302
    res = client.post(
        f"{base}/rules",
        data={"name": "long answered", "when_0": "min_duration", "when_value_0": "90",
              "when_1": "answered", "when_value_1": "yes",
              "then_0": "add_tag", "then_value_0": "Callback",
              "then_1": "set_value", "then_value_1": "80.00 EUR"},
    )  # fmt: skip
    assert res.status_code == 302
    rule = db.scalars(select(Rule)).one()
    assert rule.conditions == [
        {"kind": "min_duration", "value": 90},
        {"kind": "answered", "value": True},
    ]
    assert rule.actions[1] == {"kind": "set_value", "amount_minor": 8000, "currency": "EUR"}
    assert client.post(f"{base}/blocks", data={"number": "212-555-0111"}).status_code == 302
    page = client.get(f"{base}/outcomes").get_data(as_text=True)
    assert "Callback" in page and "long answered" in page and "+12125550111" in page
    block = db.scalars(select(BlockedCaller)).one()
    client.post(f"/dashboard/settings/blocks/{block.id}/delete")
    client.post(f"/dashboard/settings/rules/{rule.id}/delete")
    db.expire_all()
    assert db.scalars(select(BlockedCaller)).all() == [] and db.scalars(select(Rule)).all() == []
