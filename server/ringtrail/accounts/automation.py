"""A client's outcome settings, shared by the admin API, the dashboard and the command line:
its tag vocabulary, its automation rules and its block list of callers.

Report-only users read them; agency admins and client managers change them. Every change
is audited. The block list is configuration: a change commits through
``configuration.commit_config``, so it reaches the voice webhook of every process the way
pools and numbers do (the cached directory and its change channel).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ringtrail import hashing, phones
from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.configuration import commit_config, require_editor
from ringtrail.errors import Conflict, Unprocessable
from ringtrail.storage.models import BlockedCaller, Call, Client, ClientTag, Rule
from ringtrail.terms import LEAD_STATUSES, RULE_ACTIONS, RULE_CONDITIONS, TAG_MAX

# -- tags -------------------------------------------------------------------------------


def tags_of(db: Session, client: Client) -> list[ClientTag]:
    """The client's tag vocabulary, by name."""
    return list(
        db.scalars(
            select(ClientTag)
            .where(ClientTag.client_id == client.id)
            .order_by(func.lower(ClientTag.name), ClientTag.id)
        ).all()
    )


def create_tag(db: Session, p: Principal, client: Client, name: str) -> ClientTag:
    """Add a word to the client's tags; 409 if the client has it (ignoring case)."""
    require_editor(p)
    name = " ".join((name or "").split())
    if not name or len(name) > TAG_MAX:
        raise Unprocessable(f"a tag has 1 to {TAG_MAX} characters")
    taken = db.scalar(
        select(ClientTag.id).where(
            ClientTag.client_id == client.id, func.lower(ClientTag.name) == name.lower()
        )
    )
    if taken is not None:
        raise Conflict(f"the client already has the tag {name!r}")
    tag = ClientTag(client_id=client.id, name=name)
    db.add(tag)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(f"the client already has the tag {name!r}") from None
    _audit(db, p, "create", "tag", tag.id, {"name": name, "client_id": client.id}, client)
    db.commit()
    return tag


def delete_tag(db: Session, p: Principal, tag: ClientTag) -> None:
    """Remove a tag from the vocabulary and from every call that carries it; a rule that
    adds it is then skipped (and says so in the worker's log) until it is edited."""
    require_editor(p)
    client = db.get(Client, tag.client_id)
    _audit(db, p, "delete", "tag", tag.id, {"name": tag.name, "client_id": client.id}, client)
    db.delete(tag)
    db.commit()


# -- rules ------------------------------------------------------------------------------


def rules_of(db: Session, client: Client) -> list[Rule]:
    """The client's rules, in the order they run."""
    return list(
        db.scalars(
            select(Rule).where(Rule.client_id == client.id).order_by(Rule.position, Rule.id)
        ).all()
    )


def check_rule(db: Session, client: Client, conditions: list, actions: list) -> None:
    """Unprocessable (422) unless every condition and action can run for this client."""
    if not actions:
        raise Unprocessable("a rule needs at least one action")
    vocabulary = {t.name.lower() for t in tags_of(db, client)}
    for condition in conditions:
        kind, value = condition.get("kind"), condition.get("value")
        if kind not in RULE_CONDITIONS:
            raise Unprocessable(f"unknown condition {kind!r}")
        problem = _condition_problem(kind, value)
        if problem:
            raise Unprocessable(f"condition {kind}: {problem}")
    for action in actions:
        kind = action.get("kind")
        if kind not in RULE_ACTIONS:
            raise Unprocessable(f"unknown action {kind!r}")
        if kind == "add_tag" and str(action.get("tag", "")).strip().lower() not in vocabulary:
            raise Unprocessable(f"add_tag: {action.get('tag')!r} is not one of the client's tags")
        if kind == "set_lead_status" and action.get("lead_status") not in LEAD_STATUSES:
            raise Unprocessable(f"set_lead_status: one of {', '.join(LEAD_STATUSES)}")
        if kind == "set_value":
            amount, currency = action.get("amount_minor"), action.get("currency")
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                raise Unprocessable("set_value: amount_minor is an integer of 0 or more")
            if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
                raise Unprocessable("set_value: currency is a three-letter ISO code")


def _condition_problem(kind: str, value: Any) -> str | None:
    if kind == "min_duration":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 86400
        return None if ok else "value is seconds, 0 to 86400"
    if kind in ("answered", "first_time_caller"):
        return None if isinstance(value, bool) else "value is true or false"
    if kind == "business_hours":
        return None if value in ("inside", "outside") else 'value is "inside" or "outside"'
    if kind == "tracking_number":
        try:
            phones.parse(str(value))
        except ValueError:
            return "value is a phone number"
        return None
    if kind == "caller_state":
        ok = isinstance(value, str) and value.upper() in phones.US_STATES
        return None if ok else "value is a US state's two letters"
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        return "value is text of 1 to 200 characters"
    return None


def _normal_rule(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    conditions = []
    for condition in data.get("conditions", []):
        condition = dict(condition)
        if condition.get("kind") == "tracking_number":
            condition["value"] = phones.parse(str(condition["value"]))
        if condition.get("kind") == "caller_state":
            condition["value"] = str(condition["value"]).upper()
        conditions.append(condition)
    if "conditions" in data:
        out["conditions"] = conditions
    if "actions" in data:
        out["actions"] = [
            a | {"currency": a["currency"].upper()} if a.get("kind") == "set_value" else dict(a)
            for a in data["actions"]
        ]
    return out


def create_rule(db: Session, p: Principal, client: Client, data: dict[str, Any]) -> Rule:
    """A new rule of the client (last in order unless it says its position)."""
    require_editor(p)
    check_rule(db, client, data.get("conditions", []), data.get("actions", []))
    data = _normal_rule(data)
    if data.get("position") is None:
        last = db.scalar(select(func.max(Rule.position)).where(Rule.client_id == client.id))
        data["position"] = 0 if last is None else last + 1
    rule = Rule(client_id=client.id, **data)
    db.add(rule)
    db.flush()
    _audit(db, p, "create", "rule", rule.id, describe_rule(rule), client)
    db.commit()
    return rule


def update_rule(db: Session, p: Principal, rule: Rule, data: dict[str, Any]) -> Rule:
    """Change a rule; rules already run on calls are not run again."""
    require_editor(p)
    client = db.get(Client, rule.client_id)
    check_rule(
        db, client, data.get("conditions", rule.conditions), data.get("actions", rule.actions)
    )
    changes = {}
    for name, value in _normal_rule(data).items():
        if getattr(rule, name) != value:
            changes[name] = [getattr(rule, name), value]
            setattr(rule, name, value)
    if changes:
        _audit(db, p, "update", "rule", rule.id, changes, client)
    db.commit()
    return rule


def delete_rule(db: Session, p: Principal, rule: Rule) -> None:
    """Delete a rule; what it set on calls stays."""
    require_editor(p)
    client = db.get(Client, rule.client_id)
    _audit(db, p, "delete", "rule", rule.id, describe_rule(rule), client)
    db.delete(rule)
    db.commit()


def describe_rule(rule: Rule) -> dict[str, Any]:
    """A rule as JSON."""
    return {
        "id": rule.id,
        "client_id": rule.client_id,
        "name": rule.name,
        "position": rule.position,
        "enabled": rule.enabled,
        "conditions": rule.conditions,
        "actions": rule.actions,
    }


# -- the block list ---------------------------------------------------------------------


def blocks_of(db: Session, client: Client) -> list[BlockedCaller]:
    """The callers the client blocked, newest first."""
    return list(
        db.scalars(
            select(BlockedCaller)
            .where(BlockedCaller.client_id == client.id)
            .order_by(BlockedCaller.id.desc())
        ).all()
    )


def block_number(
    db: Session, p: Principal, client: Client, number: str, reason: str = ""
) -> BlockedCaller:
    """Block a caller by number. Only its keyed hash is kept, and the number itself only
    where the client keeps callers' numbers anyway (never in HIPAA mode)."""
    try:
        e164 = phones.parse(number)
    except ValueError as exc:
        raise Unprocessable(f"number: {exc}") from None
    hashed = hashing.caller_hash(e164)
    return _block(db, p, client, hashed, None if client.hipaa else e164, reason)


def block_caller_of(db: Session, p: Principal, call: Call, reason: str = "") -> BlockedCaller:
    """Block the caller of a call (by the keyed hash the call carries: this works in
    HIPAA mode too, where the number was never kept)."""
    if call.client_id is None:
        raise Unprocessable("a call of no client has no block list")
    if not call.caller_hash:
        raise Unprocessable("the caller id was withheld: there is no caller to block")
    client = db.get(Client, call.client_id)
    number = None if client.hipaa else (phones.normalise(call.caller_number) or None)
    return _block(db, p, client, call.caller_hash, number, reason)


def _block(
    db: Session, p: Principal, client: Client, hashed: str, number: str | None, reason: str
) -> BlockedCaller:
    require_editor(p)
    existing = db.scalar(
        select(BlockedCaller).where(
            BlockedCaller.client_id == client.id, BlockedCaller.caller_hash == hashed
        )
    )
    if existing is not None:
        raise Conflict("this caller is already blocked")
    block = BlockedCaller(
        client_id=client.id,
        caller_hash=hashed,
        number=number,
        reason=" ".join((reason or "").split())[:200],
        created_by=p.label[:254],
    )
    db.add(block)
    db.flush()
    _audit(
        db, p, "create", "block", block.id, {"client_id": client.id, "reason": block.reason}, client
    )
    commit_config(db)
    return block


def unblock(db: Session, p: Principal, block: BlockedCaller) -> None:
    """Take a caller off the block list: their next call connects."""
    require_editor(p)
    client = db.get(Client, block.client_id)
    _audit(db, p, "delete", "block", block.id, {"client_id": client.id}, client)
    db.delete(block)
    commit_config(db)


def describe_block(block: BlockedCaller) -> dict[str, Any]:
    """A block as JSON: the number when it is kept, else only a short form of its hash."""
    return {
        "id": block.id,
        "client_id": block.client_id,
        "number": block.number,
        "caller": block.number or f"caller #{block.caller_hash[:8]}",
        "reason": block.reason,
        "created_by": block.created_by,
        "created_at": block.created_at,
    }


def _audit(
    db: Session,
    p: Principal,
    action: str,
    what: str,
    object_id: int,
    details: dict[str, Any],
    client: Client,
) -> None:
    audit.record(db, action, what, object_id, details, principal=p, agency_id=client.agency_id)
