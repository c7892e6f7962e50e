"""Admin API: erasure on request, and each client's retention limits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ringtrail.accounts.configuration import require_admin, require_editor
from ringtrail.errors import Invalid, Unprocessable
from ringtrail.privacy import erasure, retention
from ringtrail.storage.models import Client, ErasureReceipt
from ringtrail.storage.sql import get_db
from ringtrail.web.api.blueprint import bp, paginate, principal
from ringtrail.web.login import owned
from ringtrail.web.schemas import (
    ErasureIn,
    ErasureOut,
    PageQuery,
    RetentionIn,
    RetentionOut,
    page_of,
)


def subject_of(data: dict[str, Any]) -> erasure.Subject:
    """The subject named by validated input; Unprocessable (422) for a malformed one."""
    try:
        if data.get("caller") is not None:
            return erasure.caller_subject(data["caller"])
        return erasure.session_subject(data.get("session") or "")
    except Invalid as exc:
        raise Unprocessable(exc.reason) from None


@bp.post("/erasures")
@bp.doc(tags=["privacy"])
@bp.arguments(ErasureIn)
@bp.response(201, ErasureOut)
def create_erasure(data: dict[str, Any]):
    """Erase a caller (by number) or a visitor session, in this key's tenant.

    Deletes calls, visit snapshots, recordings (at the carrier too), queued and failed
    call events, spooled events, live visits and lease history; answers the receipt.
    """
    p = principal()
    require_editor(p)
    receipts = erasure.erase(get_db(), p, subject_of(data))
    return erasure.summary(receipts[0])


@bp.get("/erasures")
@bp.doc(tags=["privacy"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(ErasureOut))
def list_erasures(query: dict[str, Any]):
    """The agency's erasure receipts, newest first (agency keys)."""
    p = principal()
    require_admin(p)
    stmt = (
        select(ErasureReceipt)
        .where(ErasureReceipt.agency_id == p.agency_id)
        .order_by(ErasureReceipt.id.desc())
    )
    return paginate(stmt, query, erasure.summary)


@bp.get("/clients/<int(min=1):client_id>/retention")
@bp.doc(tags=["privacy"])
@bp.response(200, RetentionOut)
def get_retention(client_id: int):
    """How long the client's calls, visit snapshots and recordings are kept, in days."""
    return retention.limits(owned(Client, client_id))


@bp.patch("/clients/<int(min=1):client_id>/retention")
@bp.doc(tags=["privacy"])
@bp.arguments(RetentionIn)
@bp.response(200, RetentionOut)
def set_retention(data: dict[str, Any], client_id: int):
    """Change the client's retention limits; the hourly job applies them."""
    p = principal()
    require_editor(p)
    client = retention.set_limits(get_db(), p, owned(Client, client_id), data)
    return retention.limits(client)
