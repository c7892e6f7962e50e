"""Admin API: call outcomes (one call, or many at once), their history, and each client's
tags, automation rules and block list."""

from __future__ import annotations

from typing import Any

from ringtrail.accounts import automation
from ringtrail.accounts.tenancy import get_or_404
from ringtrail.calls import outcomes
from ringtrail.errors import Unprocessable
from ringtrail.storage.models import BlockedCaller, Call, Client, ClientTag, Rule
from ringtrail.storage.sql import get_db
from ringtrail.web.api.blueprint import bp, paginate, principal
from ringtrail.web.api.calls import call_out
from ringtrail.web.login import owned
from ringtrail.web.schemas import (
    BlockIn,
    BlockOut,
    BulkOutcomeIn,
    BulkOutcomeOut,
    CallDetailOut,
    CallPatch,
    HistoryOut,
    PageQuery,
    RuleIn,
    RuleOut,
    RulePatch,
    TagIn,
    TagOut,
    page_of,
)

# -- outcomes ---------------------------------------------------------------------------


def change_outcome(call: Call, data: dict[str, Any]) -> None:
    """Apply validated outcome input (and its note) to one call; the caller commits."""
    db = get_db()
    p = principal()
    change = {k: v for k, v in data.items() if k not in ("note", "call_ids")}
    outcomes.may_change(p)
    outcomes.apply(db, call, change, p)
    if data.get("note"):
        outcomes.add_note(db, call, data["note"], p)


@bp.patch("/calls/<int(min=1):call>")
@bp.doc(tags=["outcomes"])
@bp.arguments(CallPatch)
@bp.response(200, CallDetailOut)
def update_call(data: dict[str, Any], call: int):
    """Set the call's outcome: tags (from the client's vocabulary), lead status, value,
    and a note. Every change is audited with who made it, and rules never overwrite it."""
    record = owned(Call, call)
    change_outcome(record, data)
    get_db().commit()
    return call_out(record, detail=True)


@bp.post("/calls/outcomes")
@bp.doc(tags=["outcomes"])
@bp.arguments(BulkOutcomeIn)
@bp.response(200, BulkOutcomeOut)
def bulk_outcomes(data: dict[str, Any]):
    """Set the same outcome on many calls at once: all of them or none (a call of
    another tenant is a 404, one that cannot take the change a 422)."""
    p = principal()
    calls = [get_or_404(Call, i, p) for i in dict.fromkeys(data["call_ids"])]
    for record in calls:
        change_outcome(record, data)
    get_db().commit()
    return {"changed": [c.id for c in calls]}


@bp.get("/calls/<int(min=1):call>/history")
@bp.doc(tags=["outcomes"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(HistoryOut))
def call_history(query: dict[str, Any], call: int):
    """Every change to the call's outcome and notes, oldest first: who, when, old → new."""
    record = owned(Call, call)

    def out(entry):
        return {
            "at": entry.created_at.isoformat(),
            "actor_type": entry.actor_type,
            "actor": entry.actor,
            "action": entry.action,
            "details": entry.details,
        }

    return paginate(outcomes.history_query(record), query, out)


# -- tags -------------------------------------------------------------------------------


@bp.get("/clients/<int(min=1):client_id>/tags")
@bp.doc(tags=["outcomes"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(TagOut))
def list_tags(query: dict[str, Any], client_id: int):
    """The client's tag vocabulary: the only tags its calls can carry."""
    tags = automation.tags_of(get_db(), owned(Client, client_id))
    return _page(tags, query)


@bp.post("/clients/<int(min=1):client_id>/tags")
@bp.doc(tags=["outcomes"])
@bp.arguments(TagIn)
@bp.response(201, TagOut)
def create_tag(data: dict[str, Any], client_id: int):
    """Add a tag to the client's vocabulary (409 if it has one of that name)."""
    return automation.create_tag(get_db(), principal(), owned(Client, client_id), data["name"])


@bp.get("/tags/<int(min=1):tag_id>")
@bp.doc(tags=["outcomes"])
@bp.response(200, TagOut)
def get_tag(tag_id: int):
    """One tag."""
    return owned(ClientTag, tag_id)


@bp.delete("/tags/<int(min=1):tag_id>")
@bp.doc(tags=["outcomes"])
@bp.response(204)
def delete_tag(tag_id: int):
    """Remove a tag from the vocabulary and from every call that carries it."""
    automation.delete_tag(get_db(), principal(), owned(ClientTag, tag_id))


# -- rules ------------------------------------------------------------------------------


@bp.get("/clients/<int(min=1):client_id>/rules")
@bp.doc(tags=["outcomes"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(RuleOut))
def list_rules(query: dict[str, Any], client_id: int):
    """The client's automation rules, in the order they run."""
    return _page(automation.rules_of(get_db(), owned(Client, client_id)), query)


@bp.post("/clients/<int(min=1):client_id>/rules")
@bp.doc(tags=["outcomes"])
@bp.arguments(RuleIn)
@bp.response(201, RuleOut)
def create_rule(data: dict[str, Any], client_id: int):
    """A rule: when every condition holds for a completed call, its actions set the
    outcome (never over a person's change). A tag it adds must be one of the client's."""
    return automation.create_rule(get_db(), principal(), owned(Client, client_id), data)


@bp.get("/rules/<int(min=1):rule_id>")
@bp.doc(tags=["outcomes"])
@bp.response(200, RuleOut)
def get_rule(rule_id: int):
    """One rule."""
    return owned(Rule, rule_id)


@bp.patch("/rules/<int(min=1):rule_id>")
@bp.doc(tags=["outcomes"])
@bp.arguments(RulePatch)
@bp.response(200, RuleOut)
def update_rule(data: dict[str, Any], rule_id: int):
    """Change a rule; it applies to calls that complete from now on."""
    return automation.update_rule(get_db(), principal(), owned(Rule, rule_id), data)


@bp.delete("/rules/<int(min=1):rule_id>")
@bp.doc(tags=["outcomes"])
@bp.response(204)
def delete_rule(rule_id: int):
    """Delete a rule; what it set on calls stays."""
    automation.delete_rule(get_db(), principal(), owned(Rule, rule_id))


# -- the block list ---------------------------------------------------------------------


@bp.get("/clients/<int(min=1):client_id>/blocks")
@bp.doc(tags=["outcomes"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(BlockOut))
def list_blocks(query: dict[str, Any], client_id: int):
    """The callers the client blocked: their calls are refused and recorded as spam."""
    blocks = automation.blocks_of(get_db(), owned(Client, client_id))
    return _page([automation.describe_block(b) for b in blocks], query)


@bp.post("/clients/<int(min=1):client_id>/blocks")
@bp.doc(tags=["outcomes"])
@bp.arguments(BlockIn)
@bp.response(201, BlockOut)
def create_block(data: dict[str, Any], client_id: int):
    """Block a caller, by number or as the caller of one of the client's calls. Only a
    keyed hash is kept (and the number, outside HIPAA mode)."""
    db, p = get_db(), principal()
    client = owned(Client, client_id)
    if "call_id" in data:
        call = get_or_404(Call, data["call_id"], p)
        if call.client_id != client.id:
            raise Unprocessable("that call is not one of this client's")
        block = automation.block_caller_of(db, p, call, data["reason"])
    else:
        block = automation.block_number(db, p, client, data["number"], data["reason"])
    return automation.describe_block(block)


@bp.get("/blocks/<int(min=1):block_id>")
@bp.doc(tags=["outcomes"])
@bp.response(200, BlockOut)
def get_block(block_id: int):
    """One blocked caller."""
    return automation.describe_block(owned(BlockedCaller, block_id))


@bp.delete("/blocks/<int(min=1):block_id>")
@bp.doc(tags=["outcomes"])
@bp.response(204)
def delete_block(block_id: int):
    """Unblock a caller: their next call connects."""
    automation.unblock(get_db(), principal(), owned(BlockedCaller, block_id))


def _page(items: list, query: dict[str, Any]) -> dict[str, Any]:
    page, per_page = query["page"], query["per_page"]
    start = (page - 1) * per_page
    return {
        "items": items[start : start + per_page],
        "page": page,
        "per_page": per_page,
        "total": len(items),
    }
