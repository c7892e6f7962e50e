"""Call outcomes through the admin API: tags from the client's vocabulary, lead status,
value and notes, one call or many, with history; tags, rules and block lists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ringtrail.accounts import automation
from ringtrail.accounts.auth import cli_principal, user_principal
from ringtrail.calls import outcomes
from ringtrail.errors import Forbidden
from ringtrail.storage.models import BlockedCaller, Call
from tests.helpers import add_call, bearer, make_site, make_user, new_key

WHEN = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


@pytest.fixture
def tenant(app, db):
    setup = make_site(db, numbers=2)
    setup.extra["key"] = new_key(app, setup.agency.id)
    for name in ("hot lead", "booked"):
        automation.create_tag(db, cli_principal(), setup.client, name)
    setup.extra["call"] = add_call(db, setup, WHEN, caller_hash="a" * 64).id
    return setup


@pytest.fixture
def api(client, tenant):
    def call(method: str, path: str, body=None, key=None):
        kw = {"json": body} if body is not None else {}
        return client.open(
            "/api/v1" + path, method=method, headers=bearer(key or tenant.extra["key"]), **kw
        )

    return call


def test_patch_sets_the_outcome_and_keeps_its_history(api, tenant):
    cid = tenant.extra["call"]
    res = api(
        "PATCH",
        f"/calls/{cid}",
        {
            "tags": ["Hot Lead"],
            "lead_status": "qualified",
            "value": {"amount_minor": 25000, "currency": "usd"},
            "note": "Wants a quote by Friday",
        },
    )
    assert res.status_code == 200, res.get_json()
    outcome = res.get_json()["outcome"]
    assert outcome["tags"] == ["hot lead"]
    assert outcome["lead_status"] == "qualified"
    assert outcome["value"] == {"amount_minor": 25000, "currency": "USD"}
    assert outcome["sources"] == {"tags": "manual", "lead_status": "manual", "value": "manual"}
    assert [n["body"] for n in outcome["notes"]] == ["Wants a quote by Friday"]
    assert outcome["notes"][0]["author"].startswith("rt_")
    res = api("PATCH", f"/calls/{cid}", {"add_tags": ["booked"], "remove_tags": ["hot lead"]})
    assert res.get_json()["outcome"]["tags"] == ["booked"]
    history = api("GET", f"/calls/{cid}/history").get_json()["items"]
    changes = [h["details"].get("changes") for h in history if h["action"] == "outcome"]
    assert changes[0]["lead_status"] == ["new", "qualified"]
    assert changes[0]["value"] == [None, "25000 USD"]
    assert changes[1]["tags"] == [["hot lead"], ["booked"]]
    assert {h["actor_type"] for h in history} == {"key"}
    assert [h["action"] for h in history].count("note") == 1


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"tags": ["unknown"]}, 422, "unknown tag"),
        ({"lead_status": "maybe"}, 422, "lead_status"),
        ({"value": {"amount_minor": 10}}, 422, "currency"),
        ({"value": {"amount_minor": -1, "currency": "USD"}}, 422, "amount_minor"),
        ({"tags": ["booked"], "add_tags": ["booked"]}, 422, "not both"),
        ({}, 422, "at least one"),
        ({"colour": "red"}, 422, "colour"),
        ({"value": {"currency": "USD"}}, 422, "amount_minor"),
    ],
)
def test_bad_outcomes_are_refused_with_a_reason(api, tenant, body, status, reason):
    res = api("PATCH", f"/calls/{tenant.extra['call']}", body)
    assert res.status_code == status
    assert reason in str(res.get_json())


def test_bulk_sets_every_call_or_none(api, tenant, db):
    second = add_call(db, tenant, WHEN).id
    first = tenant.extra["call"]
    res = api("POST", "/calls/outcomes", {"call_ids": [first, second], "lead_status": "spam"})
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["changed"] == [first, second]
    db.expire_all()
    assert {c.lead_status for c in db.scalars(select(Call)).all()} == {"spam"}
    res = api("POST", "/calls/outcomes", {"lead_status": "spam"})
    assert res.status_code == 422 and "call_ids" in str(res.get_json())
    # One id of no call: nothing changes.
    res = api("POST", "/calls/outcomes", {"call_ids": [first, 999999], "lead_status": "customer"})
    assert res.status_code == 404
    db.expire_all()
    assert db.get(Call, first).lead_status == "spam"


def test_report_only_users_read_outcomes_but_cannot_change_them(db, tenant):
    user = make_user(db, tenant, role="report_only", client=tenant.client)
    call = db.get(Call, tenant.extra["call"])
    with pytest.raises(Forbidden, match="report-only"):
        outcomes.apply(db, call, {"lead_status": "qualified"}, user_principal(user))
    with pytest.raises(Forbidden, match="report-only"):
        outcomes.add_note(db, call, "hi", user_principal(user))
    assert outcomes.outcome_of(call)["lead_status"] == "new"


def test_tags_rules_and_blocks_through_the_api(api, tenant, db):
    client_id = tenant.client.id
    res = api("POST", f"/clients/{client_id}/tags", {"name": "Hot  lead"})
    assert res.status_code == 409
    res = api("POST", f"/clients/{client_id}/tags", {"name": "Callback"})
    assert res.status_code == 201
    tag = res.get_json()
    names = [t["name"] for t in api("GET", f"/clients/{client_id}/tags").get_json()["items"]]
    assert names == ["booked", "Callback", "hot lead"]
    rule = {
        "name": "long calls are leads",
        "conditions": [{"kind": "min_duration", "value": 60}, {"kind": "answered", "value": True}],
        "actions": [{"kind": "add_tag", "tag": "callback"}],
    }
    res = api("POST", f"/clients/{client_id}/rules", rule)
    assert res.status_code == 201, res.get_json()
    rule_id = res.get_json()["id"]
    res = api("PATCH", f"/rules/{rule_id}", {"enabled": False})
    assert res.get_json()["enabled"] is False
    bad = {"actions": [{"kind": "set_value", "amount_minor": 5}]}
    assert api("POST", f"/clients/{client_id}/rules", bad).status_code == 422
    assert api("DELETE", f"/tags/{tag['id']}").status_code == 204
    res = api(
        "POST", f"/clients/{client_id}/blocks", {"number": "(212) 555-0199", "reason": "robocalls"}
    )
    assert res.status_code == 201, res.get_json()
    block = res.get_json()
    assert block["number"] == "+12125550199"
    assert api("POST", f"/clients/{client_id}/blocks", {"number": "2125550199"}).status_code == 409
    res = api("POST", f"/clients/{client_id}/blocks", {"call_id": tenant.extra["call"]})
    assert res.status_code == 201, res.get_json()
    assert api("GET", f"/clients/{client_id}/blocks").get_json()["total"] == 2
    assert api("DELETE", f"/blocks/{block['id']}").status_code == 204
    assert api("DELETE", f"/rules/{rule_id}").status_code == 204


def test_a_hipaa_client_keeps_only_the_hash_of_a_blocked_number(db, tenant):
    tenant.client.hipaa = True
    db.commit()
    block = automation.block_number(db, cli_principal(), tenant.client, "+12125550199")
    row = db.get(BlockedCaller, block.id)
    assert row.number is None and len(row.caller_hash) == 64
    assert "555" not in str(automation.describe_block(row))


def test_erasing_a_caller_forgets_a_blocked_number_and_keeps_the_block(db, tenant):
    from ringtrail.privacy import erasure

    block = automation.block_number(db, cli_principal(), tenant.client, "+12125550199")
    assert block.number == "+12125550199"
    erasure.erase(db, cli_principal(), erasure.caller_subject("(212) 555-0199"))
    db.expire_all()
    row = db.get(BlockedCaller, block.id)
    assert row.number is None and row.caller_hash == block.caller_hash
