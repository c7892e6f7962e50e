"""Dashboard pages for privacy: erasure on request, retention limits, and recordings.

- ``/dashboard/privacy``: erase a caller (by number) or a visitor session, and see the
  receipt; each client's retention limits; recent receipts.
- ``/dashboard/calls/ID/recording``: a call's recording, streamed from the carrier
  through Ringtrail, so the carrier's media URL (and the credentials it needs) never
  reach a browser. Every access is audited ("listen").

All of it is for agency admins and client managers. Report-only users can read reports
but cannot hear recordings or erase anything: a recording is the most sensitive thing
Ringtrail holds, and erasure cannot be undone.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from ringtrail.accounts.tenancy import scoped
from ringtrail.errors import Invalid
from ringtrail.privacy import erasure, retention
from ringtrail.privacy.recordings import open_recording
from ringtrail.storage.models import Call, Client, ErasureReceipt
from ringtrail.storage.sql import get_db
from ringtrail.terms import EDITORS
from ringtrail.web.dashboard.blueprints import privacy as bp
from ringtrail.web.dashboard.forms import flash_invalid, form_data
from ringtrail.web.login import current_principal, login_required, owned
from ringtrail.web.responses import recording_response
from ringtrail.web.schemas import RetentionIn


def _page(receipt=None, status: int = 200, form: dict | None = None):
    p = current_principal()
    db = get_db()
    clients = db.scalars(scoped(select(Client), Client, p).order_by(Client.name, Client.id)).all()
    receipts = select(ErasureReceipt).where(ErasureReceipt.agency_id == p.agency_id)
    if not p.is_agency_admin:
        receipts = receipts.where(ErasureReceipt.requested_by == p.label)
    recent = db.scalars(receipts.order_by(ErasureReceipt.id.desc()).limit(20)).all()
    return render_template(
        "compliance_privacy.html",
        clients=clients,
        limits={c.id: retention.limits(c) for c in clients},
        receipt=receipt,
        receipts=[erasure.summary(r) for r in recent],
        form=form or {},
        count_keys=erasure.COUNT_KEYS,
    ), status


@bp.get("/dashboard/privacy")
@login_required(*EDITORS)
def privacy():
    """Erasure, retention and receipts."""
    return _page()


@bp.post("/dashboard/privacy/erasures")
@login_required(*EDITORS)
def erase():
    """Run an erasure and show its receipt."""
    kind = request.form.get("kind", "")
    value = (request.form.get("value") or "").strip()
    form = {"kind": kind}
    if kind not in erasure.KINDS:
        flash("Choose whether to erase a caller or a visitor session.", "error")
        return _page(status=422, form=form)
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm: an erasure cannot be undone.", "error")
        return _page(status=422, form=form)
    try:
        subject = (
            erasure.caller_subject(value) if kind == "caller" else erasure.session_subject(value)
        )
    except Invalid as exc:
        flash(exc.reason, "error")
        return _page(status=422, form=form)
    receipt = erasure.erase(get_db(), current_principal(), subject)[0]
    out = erasure.summary(receipt)
    if out["complete"]:
        flash(f"Erased. Receipt {receipt.id}.", "success")
    else:
        flash(
            "Partly erased: the carrier could not delete everything. What it still holds is "
            "kept, so that running the same erasure again finishes the job.",
            "error",
        )
    # The number is not echoed back: the form comes back empty.
    return _page(receipt=out)


@bp.post("/dashboard/privacy/clients/<int:client_id>/retention")
@login_required(*EDITORS)
def set_retention(client_id: int):
    """Change one client's retention limits."""
    client = owned(Client, client_id)
    schema = RetentionIn()
    try:
        data = schema.load(form_data(schema))
    except ValidationError as exc:
        flash_invalid(exc)
    else:
        retention.set_limits(get_db(), current_principal(), client, data)
        flash(f"Retention for “{client.name}” saved.", "success")
    return redirect(url_for("compliance.privacy"))


@bp.get("/dashboard/calls/<int:call_id>/recording")
@login_required(*EDITORS)
def recording(call_id: int):
    """The call's recording, streamed from the carrier; the access is audited."""
    fmt = request.args.get("format", "mp3")
    if fmt not in ("mp3", "wav"):
        fmt = "mp3"
    call = owned(Call, call_id)
    media = open_recording(get_db(), current_principal(), call, fmt)
    return recording_response(media, call.id, fmt)
