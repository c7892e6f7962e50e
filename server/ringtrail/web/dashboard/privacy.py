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

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from marshmallow import ValidationError
from sqlalchemy import select

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal, current_principal, login_required
from ringtrail.accounts.tenancy import get_or_404, guard_view_args, scoped
from ringtrail.errors import BadInput
from ringtrail.privacy import erasure, retention
from ringtrail.storage.models import Agency, Call, Client, ErasureReceipt
from ringtrail.storage.sql import get_db
from ringtrail.telephony import carrier
from ringtrail.web.api.privacy import RetentionIn, receipt_out
from ringtrail.web.dashboard.settings import form_data

bp = Blueprint("compliance", __name__)

ALLOWED = ("agency_admin", "client_manager")


@bp.before_request
def _guard() -> None:
    # Objects named in the URL must be the user's (tenancy audits the attempt if not).
    if request.view_args and current_principal() is not None:
        guard_view_args(request.view_args)


@bp.after_request
def _headers(response):
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _page(receipt=None, status: int = 200, form: dict | None = None):
    p = current_principal()
    db = get_db()
    clients = db.scalars(scoped(select(Client), Client).order_by(Client.name, Client.id)).all()
    receipts = select(ErasureReceipt).where(ErasureReceipt.agency_id == p.agency_id)
    if not p.is_agency_admin:
        receipts = receipts.where(ErasureReceipt.requested_by == p.label)
    recent = db.scalars(receipts.order_by(ErasureReceipt.id.desc()).limit(20)).all()
    return render_template(
        "compliance_privacy.html",
        clients=clients,
        limits={c.id: retention.limits(c) for c in clients},
        receipt=receipt,
        receipts=[receipt_out(r) for r in recent],
        form=form or {},
        count_keys=erasure.COUNT_KEYS,
    ), status


@bp.get("/dashboard/privacy")
@login_required(*ALLOWED)
def privacy():
    """Erasure, retention and receipts."""
    return _page()


@bp.post("/dashboard/privacy/erasures")
@login_required(*ALLOWED)
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
    except BadInput as exc:
        flash(str(exc), "error")
        return _page(status=422, form=form)
    receipt = erasure.erase(get_db(), current_principal(), subject)[0]
    out = receipt_out(receipt)
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
@login_required(*ALLOWED)
def set_retention(client_id: int):
    """Change one client's retention limits."""
    client = get_or_404(Client, client_id)
    schema = RetentionIn()
    try:
        data = schema.load(form_data(schema))
    except ValidationError as exc:
        for name, reasons in exc.normalized_messages().items():
            flash(f"{name.replace('_', ' ')}: {'; '.join(map(str, reasons))}", "error")
    else:
        retention.set_limits(get_db(), current_principal(), client, data)
        flash(f"Retention for “{client.name}” saved.", "success")
    return redirect(url_for("compliance.privacy"))


def stream_recording(p: Principal, call: Call, fmt: str = "mp3") -> Response:
    """Audit the access, then stream the call's recording from the carrier.

    404 if the call has none; 502 if the carrier cannot serve it. The access is audited
    before the first byte, so a listen that fails midway is still on record.
    """
    if p.role not in ("agency_admin", "client_manager"):
        abort(403, description="recordings are for agency admins and client managers")
    if not (call.recording_sid or call.recording_url):
        abort(404, description="this call has no recording")
    db = get_db()
    client = db.get(Client, call.client_id) if call.client_id else None
    agency = db.get(Agency, client.agency_id) if client else None
    if agency is None or call.provider != "twilio":
        abort(404, description="this call has no recording")
    audit.record_now(
        "listen",
        "call",
        call.id,
        {"recording": carrier.recording_sid(call.recording_sid or call.recording_url)},
        principal=p,
        agency_id=agency.id,
    )
    try:
        media = carrier.fetch_recording(agency, call.recording_sid or call.recording_url, fmt)
    except carrier.CarrierError:
        abort(502, description="the carrier could not serve the recording; try again")
    response = Response(stream_with_context(media.chunks()), mimetype=media.content_type)
    if media.length is not None:
        response.headers["Content-Length"] = str(media.length)
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="call-{call.id}.{fmt}"'
    return response


@bp.get("/dashboard/calls/<int:call_id>/recording")
@login_required(*ALLOWED)
def recording(call_id: int):
    """The call's recording, streamed from the carrier; the access is audited."""
    fmt = request.args.get("format", "mp3")
    if fmt not in ("mp3", "wav"):
        fmt = "mp3"
    return stream_recording(current_principal(), get_or_404(Call, call_id), fmt)
