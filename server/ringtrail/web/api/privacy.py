"""Admin API: erasure on request, and each client's retention limits."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from ringtrail.accounts import configuration as admin
from ringtrail.accounts.auth import current_principal
from ringtrail.accounts.tenancy import get_or_404
from ringtrail.errors import BadInput
from ringtrail.privacy import erasure, retention
from ringtrail.storage.models import Client, ErasureReceipt
from ringtrail.storage.sql import get_db
from ringtrail.web.api import bp
from ringtrail.web.schemas import In

MAX_DAYS = 3650


class ErasureIn(In):
    caller = fields.String(
        validate=validate.Length(max=40),
        metadata={"description": "The caller's number, any format", "example": "+12125550143"},
    )
    session = fields.String(
        validate=validate.Length(max=40),
        metadata={"description": "A visitor session id, as the snippet's API returned it"},
    )

    @validates_schema
    def _one_subject(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("caller" in data) == ("session" in data):
            raise ValidationError("give exactly one of caller or session")


class ErasureOut(Schema):
    id = fields.Integer()
    agency_id = fields.Integer()
    kind = fields.String(metadata={"description": "caller or session"})
    subject_hash = fields.String(
        metadata={"description": "A keyed hash of the subject; the number itself is not kept"}
    )
    requested_by = fields.String()
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "What went, per store (see docs/privacy.md)"},
    )
    complete = fields.Boolean(
        metadata={"description": "False if the carrier could not delete everything: run again"}
    )
    created_at = fields.DateTime()


class RetentionIn(In):
    call_days = fields.Integer(strict=True, validate=validate.Range(1, MAX_DAYS))
    snapshot_days = fields.Integer(strict=True, validate=validate.Range(1, MAX_DAYS))
    recording_days = fields.Integer(strict=True, validate=validate.Range(1, MAX_DAYS))


class RetentionOut(Schema):
    client_id = fields.Integer()
    call_days = fields.Integer()
    snapshot_days = fields.Integer()
    recording_days = fields.Integer()


def receipt_out(receipt: ErasureReceipt) -> dict[str, Any]:
    """A receipt as the API, the dashboard and the command line show it."""
    return {
        "id": receipt.id,
        "agency_id": receipt.agency_id,
        "kind": receipt.kind,
        "subject_hash": receipt.subject_hash,
        "requested_by": receipt.requested_by,
        "counts": dict(receipt.counts or {}),
        "complete": erasure.complete(receipt),
        "created_at": receipt.created_at,
    }


def subject_of(data: dict[str, Any]) -> erasure.Subject:
    """The subject named by validated input; BadInput (422) for a malformed one."""
    try:
        if data.get("caller") is not None:
            return erasure.caller_subject(data["caller"])
        return erasure.session_subject(data.get("session") or "")
    except BadInput as exc:
        raise BadInput(str(exc), 422) from None


@bp.post("/erasures")
@bp.doc(tags=["privacy"])
@bp.arguments(ErasureIn)
@bp.response(201, ErasureOut)
def create_erasure(data: dict[str, Any]):
    """Erase a caller (by number) or a visitor session, in this key's tenant.

    Deletes calls, visit snapshots, recordings (at the carrier too), queued and failed
    call events, spooled events, live visits and lease history; answers the receipt.
    """
    p = current_principal()
    admin.require_editor(p)
    receipts = erasure.erase(get_db(), p, subject_of(data))
    return receipt_out(receipts[0])


@bp.get("/erasures")
@bp.doc(tags=["privacy"])
@bp.response(200, ErasureOut(many=True))
def list_erasures():
    """The agency's erasure receipts, newest first (agency keys)."""
    p = current_principal()
    admin.require_admin(p)
    receipts = get_db().scalars(
        select(ErasureReceipt)
        .where(ErasureReceipt.agency_id == p.agency_id)
        .order_by(ErasureReceipt.id.desc())
        .limit(500)
    )
    return [receipt_out(r) for r in receipts]


@bp.get("/clients/<int:client_id>/retention")
@bp.doc(tags=["privacy"])
@bp.response(200, RetentionOut)
def get_retention(client_id: int):
    """How long the client's calls, visit snapshots and recordings are kept, in days."""
    return retention.limits(get_or_404(Client, client_id))


@bp.patch("/clients/<int:client_id>/retention")
@bp.doc(tags=["privacy"])
@bp.arguments(RetentionIn)
@bp.response(200, RetentionOut)
def set_retention(data: dict[str, Any], client_id: int):
    """Change the client's retention limits; the hourly job applies them."""
    p = current_principal()
    admin.require_editor(p)
    client = retention.set_limits(get_db(), p, get_or_404(Client, client_id), data)
    return retention.limits(client)
