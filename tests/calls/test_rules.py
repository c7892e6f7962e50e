"""Automation rules: each condition and each action, the order they run in, once per call,
and never over a person's change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ringtrail.accounts import automation
from ringtrail.accounts.auth import cli_principal
from ringtrail.calls import outcomes
from ringtrail.calls.rules import Facts, holds, on_completed
from ringtrail.storage.models import AuditEntry, Call, Rule
from tests.helpers import add_call, make_site

# Monday 2026-11-30, 15:00 UTC = 10:00 in New York (inside 09:00-17:00); 03:00 UTC = 22:00.
INSIDE = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
OUTSIDE = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
BASE = Facts(
    duration=95,
    answered=True,
    first_time_caller=True,
    source="google",
    medium="cpc",
    campaign="Spring Sale",
    keyword="emergency plumber",
    landing_page="https://shop.example/plumbing/emergency?gclid=x",
    tracking_number="+16282000000",
    inside_hours=True,
    caller_state="NY",
)

CONDITIONS = [
    # kind, value, facts that hold, facts that do not
    ("min_duration", 90, {}, {"duration": 89}),
    ("min_duration", 95, {}, {"duration": 0}),
    ("answered", True, {}, {"answered": False}),
    ("answered", False, {"answered": False}, {}),
    ("first_time_caller", True, {}, {"first_time_caller": False}),
    ("first_time_caller", False, {"first_time_caller": False}, {}),
    ("source", "Google", {}, {"source": "bing"}),
    ("medium", "cpc", {}, {"medium": "organic"}),
    ("campaign", "spring sale", {}, {"campaign": "Fall"}),
    ("keyword", "Emergency Plumber", {}, {"keyword": "plumber"}),
    ("landing_page", "/plumbing/", {}, {"landing_page": "https://shop.example/heating"}),
    ("tracking_number", "+16282000000", {}, {"tracking_number": "+16282000001"}),
    ("business_hours", "inside", {}, {"inside_hours": False}),
    ("business_hours", "outside", {"inside_hours": False}, {}),
    ("caller_state", "ny", {}, {"caller_state": "CA"}),
]


@pytest.mark.parametrize(("kind", "value", "yes", "no"), CONDITIONS)
def test_each_condition_holds_or_not(kind, value, yes, no):
    from dataclasses import replace

    assert holds({"kind": kind, "value": value}, replace(BASE, **yes)) is True
    assert holds({"kind": kind, "value": value}, replace(BASE, **no)) is False


def _client(db):
    setup = make_site(db, numbers=2)
    setup.client.business_hours = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed")}
    setup.client.timezone = "America/New_York"
    db.commit()
    for name in ("hot lead", "after hours", "long call"):
        automation.create_tag(db, cli_principal(), setup.client, name)
    return setup


def _rule(db, setup, conditions, actions, **kw):
    return automation.create_rule(
        db, cli_principal(), setup.client, {"conditions": conditions, "actions": actions, **kw}
    )


def _completed(db, setup, started=INSIDE, **kw):
    call = add_call(db, setup, started, **kw)
    call.status = "completed"
    call.duration_seconds = kw.get("talk") or 60
    call.caller_state = "NY"
    db.commit()
    return call


ACTIONS = [
    ({"kind": "add_tag", "tag": "hot lead"}, lambda c: c.tag_names == ["hot lead"]),
    (
        {"kind": "set_lead_status", "lead_status": "qualified"},
        lambda c: c.lead_status == "qualified",
    ),
    (
        {"kind": "set_value", "amount_minor": 12500, "currency": "usd"},
        lambda c: (c.value_minor, c.currency) == (12500, "USD"),
    ),
]


@pytest.mark.parametrize(("action", "done"), ACTIONS)
def test_each_action_sets_its_part_and_is_audited_with_its_rule(db, action, done):
    setup = _client(db)
    rule = _rule(db, setup, [{"kind": "answered", "value": True}], [action], name="r")
    call = _completed(db, setup)
    assert on_completed(db, call) == 1
    db.commit()
    assert done(db.get(Call, call.id))
    entry = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "call")).one()
    assert entry.actor_type == "rule" and entry.actor_id == rule.id
    assert entry.details["source"] == "rule"


@pytest.mark.parametrize(
    ("started", "tagged"), [(INSIDE, []), (OUTSIDE, ["after hours"])], ids=["in", "out"]
)
def test_business_hours_read_in_the_clients_time_zone(db, started, tagged):
    setup = _client(db)
    _rule(
        db,
        setup,
        [{"kind": "business_hours", "value": "outside"}],
        [{"kind": "add_tag", "tag": "after hours"}],
    )
    call = _completed(db, setup, started=started)
    on_completed(db, call)
    db.commit()
    assert db.get(Call, call.id).tag_names == tagged


def test_first_time_caller_is_by_the_callers_hash(db):
    setup = _client(db)
    _rule(
        db,
        setup,
        [{"kind": "first_time_caller", "value": True}],
        [{"kind": "set_lead_status", "lead_status": "qualified"}],
    )
    first = _completed(db, setup, caller_hash="h" * 64)
    again = _completed(db, setup, started=OUTSIDE, caller_hash="h" * 64)
    for call in (first, again):
        on_completed(db, call)
    db.commit()
    assert db.get(Call, first.id).lead_status == "qualified"
    assert db.get(Call, again.id).lead_status == "new"


def test_rules_run_in_order_later_ones_win_and_tags_add_up(db):
    setup = _client(db)
    _rule(
        db,
        setup,
        [],
        [
            {"kind": "set_lead_status", "lead_status": "customer"},
            {"kind": "add_tag", "tag": "long call"},
        ],
        position=5,
    )
    _rule(
        db,
        setup,
        [{"kind": "min_duration", "value": 30}],
        [
            {"kind": "set_lead_status", "lead_status": "qualified"},
            {"kind": "add_tag", "tag": "hot lead"},
        ],
        position=1,
    )
    call = _completed(db, setup)
    assert on_completed(db, call) == 2
    db.commit()
    call = db.get(Call, call.id)
    assert call.lead_status == "customer"  # position 5 ran after position 1
    assert call.tag_names == ["hot lead", "long call"]


def test_rules_run_once_even_when_the_job_runs_again(db):
    from ringtrail.storage.sql import new_session

    setup = _client(db)
    _rule(db, setup, [], [{"kind": "add_tag", "tag": "hot lead"}])
    call = _completed(db, setup)
    with new_session() as other:
        stale = other.get(Call, call.id)  # a second job read the call before the first ran
        assert stale.rules_ran_at is None
        assert on_completed(db, call) == 1
        db.commit()
        # A person removes the tag; then the second job goes on with what it read.
        outcomes.apply(db, call, {"tags": []}, cli_principal())
        db.commit()
        assert on_completed(other, stale) == 0  # the conditional UPDATE finds it claimed
        other.commit()
    db.expire_all()
    assert db.get(Call, call.id).tag_names == []
    assert on_completed(db, db.get(Call, call.id)) == 0  # and a rerun of the first


def test_a_rule_never_overwrites_a_persons_change(db):
    setup = _client(db)
    _rule(
        db,
        setup,
        [],
        [
            {"kind": "set_lead_status", "lead_status": "spam"},
            {"kind": "set_value", "amount_minor": 1, "currency": "USD"},
            {"kind": "add_tag", "tag": "hot lead"},
        ],
    )
    call = add_call(db, setup, INSIDE)  # still ringing: rules wait for completion
    outcomes.apply(
        db,
        call,
        {"lead_status": "customer", "value": {"amount_minor": 90000, "currency": "EUR"}},
        cli_principal(),
    )
    db.commit()
    call.status = "completed"
    db.commit()
    assert on_completed(db, call) == 1
    db.commit()
    call = db.get(Call, call.id)
    assert (call.lead_status, call.value_minor, call.currency) == ("customer", 90000, "EUR")
    assert call.tag_names == ["hot lead"]  # tags were never set by a person
    assert call.outcome_sources == {"tags": "rule", "lead_status": "manual", "value": "manual"}


def test_a_rule_whose_tag_was_deleted_is_skipped_and_the_rest_run(db):
    setup = _client(db)
    _rule(db, setup, [], [{"kind": "add_tag", "tag": "hot lead"}], position=0)
    _rule(db, setup, [], [{"kind": "set_lead_status", "lead_status": "qualified"}], position=1)
    tag = next(t for t in automation.tags_of(db, setup.client) if t.name == "hot lead")
    automation.delete_tag(db, cli_principal(), tag)
    call = _completed(db, setup)
    assert on_completed(db, call) == 1
    db.commit()
    call = db.get(Call, call.id)
    assert call.tag_names == [] and call.lead_status == "qualified"


@pytest.mark.parametrize(
    ("conditions", "actions", "reason"),
    [
        (
            [{"kind": "min_duration", "value": -1}],
            [{"kind": "add_tag", "tag": "hot lead"}],
            "seconds",
        ),
        (
            [{"kind": "answered", "value": "yes"}],
            [{"kind": "add_tag", "tag": "hot lead"}],
            "true or false",
        ),
        (
            [{"kind": "business_hours", "value": "late"}],
            [{"kind": "add_tag", "tag": "hot lead"}],
            "inside",
        ),
        (
            [{"kind": "caller_state", "value": "ZZ"}],
            [{"kind": "add_tag", "tag": "hot lead"}],
            "state",
        ),
        (
            [{"kind": "tracking_number", "value": "12"}],
            [{"kind": "add_tag", "tag": "hot lead"}],
            "phone",
        ),
        ([], [{"kind": "add_tag", "tag": "nope"}], "not one of the client's tags"),
        ([], [], "at least one action"),
    ],
)
def test_a_rule_that_cannot_run_is_refused_with_its_reason(db, conditions, actions, reason):
    from ringtrail.errors import Unprocessable

    setup = _client(db)
    with pytest.raises(Unprocessable, match=reason):
        _rule(db, setup, conditions, actions)
    assert db.scalars(select(Rule)).all() == []
