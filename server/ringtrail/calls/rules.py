"""Automation rules: when a call completes, each of its client's rules whose conditions all
hold sets part of the call's outcome.

- Rules run once per call, in the job that completes the call record
  (:func:`on_completed`); a conditional UPDATE of ``Call.rules_ran_at`` makes a job that
  runs twice, or two jobs racing, run them once.
- They run in ``position`` order (then id). Tags accumulate; a later rule's lead status
  or value replaces an earlier rule's.
- A field a person set (``outcome_sources`` "manual", or "block") is never touched.
- A rule that cannot be read (a tag deleted since, a malformed condition) is skipped and
  logged: a broken rule never holds up a call's record.

Conditions and actions are the words of ``terms.RULE_CONDITIONS`` and ``RULE_ACTIONS``;
:func:`holds` decides one condition against a call's :class:`Facts`, so the table of
conditions is testable without a call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ringtrail.calls import outcomes
from ringtrail.hours import open_now
from ringtrail.storage.models import Call, Client, Rule
from ringtrail.terms import LEAD_STATUSES

log = logging.getLogger(__name__)

# Final call statuses: the call is over, its record complete.
FINAL = ("completed", "busy", "no-answer", "failed", "canceled")


@dataclass(frozen=True)
class Facts:
    """What a rule can ask of a completed call."""

    duration: int = 0
    answered: bool = False
    first_time_caller: bool = False
    source: str = ""
    medium: str = ""
    campaign: str = ""
    keyword: str = ""
    landing_page: str = ""
    tracking_number: str = ""
    inside_hours: bool = True
    caller_state: str = ""


def _same(a: Any, b: str) -> bool:
    return str(a or "").strip().lower() == (b or "").strip().lower()


CONDITIONS: dict[str, Callable[[Any, Facts], bool]] = {
    "min_duration": lambda v, f: f.duration >= int(v),
    "answered": lambda v, f: f.answered is bool(v),
    "first_time_caller": lambda v, f: f.first_time_caller is bool(v),
    "source": lambda v, f: _same(v, f.source),
    "medium": lambda v, f: _same(v, f.medium),
    "campaign": lambda v, f: _same(v, f.campaign),
    "keyword": lambda v, f: _same(v, f.keyword),
    "landing_page": lambda v, f: bool(v) and str(v).strip().lower() in f.landing_page.lower(),
    "tracking_number": lambda v, f: str(v) == f.tracking_number,
    "business_hours": lambda v, f: f.inside_hours is (v == "inside"),
    "caller_state": lambda v, f: _same(v, f.caller_state),
}


def holds(condition: dict[str, Any], facts: Facts) -> bool:
    """Whether one condition ({"kind", "value"}) holds for the call; KeyError or
    ValueError for one that cannot be read."""
    return CONDITIONS[condition["kind"]](condition["value"], facts)


def change_of(actions: list[dict[str, Any]]) -> dict[str, Any]:
    """The outcome change a rule's actions make (for :func:`outcomes.apply`)."""
    change: dict[str, Any] = {}
    for action in actions:
        kind = action["kind"]
        if kind == "add_tag":
            change.setdefault("add_tags", []).append(action["tag"])
        elif kind == "set_lead_status":
            change["lead_status"] = action["lead_status"]
        elif kind == "set_value":
            change["value"] = outcomes.Value(int(action["amount_minor"]), action["currency"])
        else:
            raise ValueError(f"unknown action {kind!r}")
    return change


def facts_of(db: Session, call: Call) -> Facts:
    """The facts of a call, read once for all its client's rules."""
    visit = call.visit
    client = db.get(Client, call.client_id) if call.client_id is not None else None
    started = call.started_at or datetime.now(UTC)
    inside = True
    if client is not None:
        inside = open_now(client.business_hours, client.timezone or "UTC", started.timestamp())
    return Facts(
        duration=int(call.duration_seconds or call.talk_seconds or 0),
        answered=bool(call.answered),
        first_time_caller=_first_time(db, call),
        source=call.source or "",
        medium=call.medium or "",
        campaign=visit.campaign if visit else "",
        keyword=visit.term if visit else "",
        landing_page=visit.landing_url if visit else "",
        tracking_number=call.tracking_number or "",
        inside_hours=inside,
        caller_state=call.caller_state or "",
    )


def _first_time(db: Session, call: Call) -> bool:
    """No earlier call of this caller (by keyed hash) to this client; a withheld caller
    id is never a first-time caller (it cannot be told apart)."""
    if not call.caller_hash or call.client_id is None:
        return False
    earlier = select(Call.id).where(
        Call.client_id == call.client_id,
        Call.caller_hash == call.caller_hash,
        Call.id != call.id,
    )
    if call.started_at is not None:
        earlier = earlier.where(Call.started_at < call.started_at)
    return db.scalar(earlier.limit(1)) is None


def rules_of(db: Session, client_id: int) -> list[Rule]:
    """The client's rules, in the order they run."""
    return list(
        db.scalars(
            select(Rule).where(Rule.client_id == client_id).order_by(Rule.position, Rule.id)
        ).all()
    )


def on_completed(db: Session, call: Call) -> int:
    """Run the client's rules on a completed call, once; the number of rules that applied.

    Then :func:`outcomes.changed` ("completed"), once, the seam for what follows a call.
    """
    if call.status not in FINAL or call.rules_ran_at is not None:
        return 0
    now = datetime.now(UTC)
    claimed = db.execute(
        update(Call)
        .where(Call.id == call.id, Call.rules_ran_at.is_(None))
        .values(rules_ran_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return 0  # another run of this job, or another job, has it
    call.rules_ran_at = now
    applied = 0
    if call.client_id is not None and not call.blocked:
        facts = facts_of(db, call)
        for rule in rules_of(db, call.client_id):
            if rule.enabled and _apply_rule(db, call, rule, facts):
                applied += 1
    outcomes.changed(db, call, "completed")
    return applied


def _apply_rule(db: Session, call: Call, rule: Rule, facts: Facts) -> bool:
    try:
        if not all(holds(c, facts) for c in rule.conditions or []):
            return False
        change = change_of(rule.actions or [])
        _check(db, call, change)
    except Exception as exc:  # a rule that cannot run is skipped, never the call's record
        log.warning("rules: rule %s skipped on call %s: %s", rule.id, call.id, exc)
        return False
    actor = outcomes.RuleActor(rule.id, f"rule {rule.id}: {rule.name}"[:254])
    outcomes.apply(db, call, change, actor, source="rule")
    return True


def _check(db: Session, call: Call, change: dict[str, Any]) -> None:
    """ValueError unless every part of the change can be made (checked before any is, so
    a rule applies whole or not at all, without a savepoint)."""
    vocabulary = outcomes.client_tags(db, call.client_id)
    for name in change.get("add_tags", []):
        if str(name).strip().lower() not in vocabulary:
            raise ValueError(f"tag {name!r} is no longer in the client's tags")
    if "lead_status" in change and change["lead_status"] not in LEAD_STATUSES:
        raise ValueError(f"unknown lead status {change['lead_status']!r}")
    value = change.get("value")
    if value is not None and (value.amount_minor < 0 or len(value.currency) != 3):
        raise ValueError("a value needs an amount of 0 or more and a currency")
