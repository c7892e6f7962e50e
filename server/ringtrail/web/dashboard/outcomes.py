"""Dashboard pages for call outcomes: set one call's outcome from its page, many from the
call log, and each client's tags, automation rules and block list.

Report-only users see outcomes (the call page shows them) but get no form: every POST
here needs an agency admin or a client manager.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from ringtrail.accounts import automation
from ringtrail.accounts.tenancy import get_or_404, scoped
from ringtrail.calls import outcomes
from ringtrail.errors import RingtrailError, Unprocessable
from ringtrail.storage.models import BlockedCaller, Call, Client, ClientTag, Rule
from ringtrail.storage.sql import get_db
from ringtrail.terms import EDITORS, LEAD_LABELS, LEAD_STATUSES, RULE_ACTIONS, RULE_CONDITIONS
from ringtrail.web.dashboard.blueprints import dashboard as bp
from ringtrail.web.login import current_principal, login_required, owned


def _value(amount: str, currency: str) -> outcomes.Value | None:
    """A value typed as "125.50" and "USD"; None for an empty amount."""
    amount = (amount or "").strip().replace(",", "")
    if not amount:
        return None
    try:
        cents = (Decimal(amount) * 100).to_integral_exact()
    except (InvalidOperation, ValueError):
        raise Unprocessable("the value is an amount such as 125.50") from None
    currency = (currency or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise Unprocessable("the currency is three letters, such as USD")
    if cents < 0 or cents > 2**31 - 1:
        raise Unprocessable("the value is out of range")
    return outcomes.Value(int(cents), currency)


def _back(call_id: int):
    return redirect(url_for("reportpages.call_detail", call_id=call_id) + "#outcome")


@bp.post("/dashboard/calls/<int:call_id>/outcome")
@login_required(*EDITORS)
def set_outcome(call_id: int):
    """Save the outcome form of a call's page."""
    call = owned(Call, call_id)
    db, p = get_db(), current_principal()
    try:
        change: dict[str, Any] = {
            "tags": request.form.getlist("tag"),
            "lead_status": request.form.get("lead_status", call.lead_status),
            "value": _value(request.form.get("value", ""), request.form.get("currency", "")),
        }
        diff = outcomes.apply(db, call, change, p)
        note = (request.form.get("note") or "").strip()
        if note:
            outcomes.add_note(db, call, note, p)
        db.commit()
    except RingtrailError as exc:
        db.rollback()
        flash(exc.reason, "error")
    else:
        flash("Outcome saved." if diff or note else "Nothing changed.", "success")
    return _back(call_id)


@bp.post("/dashboard/calls/<int:call_id>/block")
@login_required(*EDITORS)
def block_caller(call_id: int):
    """Block the caller of this call for its client."""
    call = owned(Call, call_id)
    try:
        automation.block_caller_of(
            get_db(), current_principal(), call, request.form.get("reason", "")
        )
    except RingtrailError as exc:
        get_db().rollback()
        flash(exc.reason, "error")
    else:
        flash("Caller blocked: their next calls are refused and recorded as spam.", "success")
    return _back(call_id)


@bp.post("/dashboard/calls/outcomes")
@login_required(*EDITORS)
def bulk_outcome():
    """The call log's bulk form: one change to every ticked call (all or none)."""
    db, p = get_db(), current_principal()
    ids = [i for i in request.form.getlist("call") if i.isdigit()][:500]
    action, value = request.form.get("action", ""), request.form.get("value", "").strip()
    back = request.form.get("next", "")
    target = back if back.startswith("/dashboard/") else url_for("reportpages.calls")
    if not ids:
        flash("Tick at least one call.", "error")
        return redirect(target)
    changes = {
        "lead_status": lambda: {"lead_status": value},
        "add_tag": lambda: {"add_tags": [value]},
        "remove_tag": lambda: {"remove_tags": [value]},
    }
    if action not in changes or not value:
        flash("Choose what to change, and to what.", "error")
        return redirect(target)
    try:
        calls = [get_or_404(Call, i, p) for i in dict.fromkeys(ids)]
        for call in calls:
            outcomes.apply(db, call, changes[action](), p)
        db.commit()
    except RingtrailError as exc:
        db.rollback()
        flash(f"Nothing changed: {exc.reason}", "error")
    else:
        flash(f"{len(calls)} call(s) changed.", "success")
    return redirect(target)


# -- a client's tags, rules and block list ----------------------------------------------


@bp.get("/dashboard/settings/clients/<int:client_id>/outcomes")
@login_required()
def client_outcomes(client_id: int):
    """A client's tags, rules and blocked callers (read-only for report-only users)."""
    client = owned(Client, client_id)
    db = get_db()
    return render_template(
        "settings_outcomes.html",
        client=client,
        tags=automation.tags_of(db, client),
        rules=automation.rules_of(db, client),
        blocks=[automation.describe_block(b) for b in automation.blocks_of(db, client)],
        can_edit=current_principal().role in EDITORS,
        conditions=RULE_CONDITIONS,
        actions=RULE_ACTIONS,
        lead_labels=LEAD_LABELS,
    )


def _settings(client_id: int):
    return redirect(url_for("dashboard.client_outcomes", client_id=client_id))


def _act(client_id: int, done: str, action) -> Any:
    try:
        action()
    except RingtrailError as exc:
        get_db().rollback()
        flash(exc.reason, "error")
    else:
        flash(done, "success")
    return _settings(client_id)


@bp.post("/dashboard/settings/clients/<int:client_id>/tags")
@login_required(*EDITORS)
def add_tag(client_id: int):
    """Add a tag to the client's vocabulary."""
    client = owned(Client, client_id)
    name = request.form.get("name", "")
    return _act(
        client.id,
        "Tag added.",
        lambda: automation.create_tag(get_db(), current_principal(), client, name),
    )


@bp.post("/dashboard/settings/tags/<int:tag_id>/delete")
@login_required(*EDITORS)
def remove_tag(tag_id: int):
    """Remove a tag from the vocabulary and from every call."""
    tag = owned(ClientTag, tag_id)
    return _act(
        tag.client_id,
        "Tag removed.",
        lambda: automation.delete_tag(get_db(), current_principal(), tag),
    )


def _rule_form() -> dict[str, Any]:
    """A rule from the form: up to three condition rows and three action rows."""
    conditions, actions = [], []
    for i in range(3):
        kind = request.form.get(f"when_{i}", "")
        raw = request.form.get(f"when_value_{i}", "").strip()
        if kind:
            value: Any = raw
            if kind == "min_duration":
                value = int(raw) if raw.isdigit() else raw
            elif kind in ("answered", "first_time_caller"):
                value = {"yes": True, "no": False}.get(raw, raw)
            conditions.append({"kind": kind, "value": value})
    for i in range(3):
        kind = request.form.get(f"then_{i}", "")
        raw = request.form.get(f"then_value_{i}", "").strip()
        if kind == "add_tag":
            actions.append({"kind": kind, "tag": raw})
        elif kind == "set_lead_status":
            actions.append({"kind": kind, "lead_status": raw})
        elif kind == "set_value":
            amount, _, currency = raw.partition(" ")
            value = _value(amount, currency or "USD")
            if value is None:
                raise Unprocessable("set value: an amount such as 125.00 USD")
            actions.append(
                {"kind": kind, "amount_minor": value.amount_minor, "currency": value.currency}
            )
    return {
        "name": request.form.get("name", "").strip()[:200],
        "conditions": conditions,
        "actions": actions,
    }


@bp.post("/dashboard/settings/clients/<int:client_id>/rules")
@login_required(*EDITORS)
def add_rule(client_id: int):
    """Add an automation rule (it runs last)."""
    client = owned(Client, client_id)

    def create():
        automation.create_rule(get_db(), current_principal(), client, _rule_form())

    return _act(client.id, "Rule added.", create)


@bp.post("/dashboard/settings/rules/<int:rule_id>/delete")
@login_required(*EDITORS)
def remove_rule(rule_id: int):
    """Delete a rule."""
    rule = owned(Rule, rule_id)
    return _act(
        rule.client_id,
        "Rule deleted.",
        lambda: automation.delete_rule(get_db(), current_principal(), rule),
    )


@bp.post("/dashboard/settings/clients/<int:client_id>/blocks")
@login_required(*EDITORS)
def add_block(client_id: int):
    """Block a caller by number."""
    client = owned(Client, client_id)
    number, reason = request.form.get("number", ""), request.form.get("reason", "")
    return _act(
        client.id,
        "Caller blocked.",
        lambda: automation.block_number(get_db(), current_principal(), client, number, reason),
    )


@bp.post("/dashboard/settings/blocks/<int:block_id>/delete")
@login_required(*EDITORS)
def remove_block(block_id: int):
    """Unblock a caller."""
    block = owned(BlockedCaller, block_id)
    return _act(
        block.client_id,
        "Caller unblocked.",
        lambda: automation.unblock(get_db(), current_principal(), block),
    )


def outcome_context(call: Call) -> dict[str, Any]:
    """What the call page's outcome block (``calls/_outcome.html``) needs."""
    db = get_db()
    p = current_principal()
    vocabulary = []
    if call.client_id is not None:
        vocabulary = db.scalars(
            scoped(select(ClientTag), ClientTag, p)
            .where(ClientTag.client_id == call.client_id)
            .order_by(ClientTag.name)
        ).all()
    return {
        "outcome": outcomes.outcome_of(call),
        "vocabulary": vocabulary,
        "lead_statuses": LEAD_STATUSES,
        "lead_labels": LEAD_LABELS,
        "can_edit_outcome": p.role in EDITORS,
        "history": outcomes.history(db, call),
    }


@bp.app_context_processor
def outcome_helpers() -> dict[str, Any]:
    """For the outcome partials: ``outcome_context(call)`` and the person's role."""
    p = current_principal()
    return {"outcome_context": outcome_context, "current_role": p.role if p else None}
