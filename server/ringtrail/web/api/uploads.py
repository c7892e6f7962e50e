"""Admin API: each client's ad platforms (Google Ads, GA4) and each call's uploads."""

from __future__ import annotations

from typing import Any

from ringtrail.calls import outcomes
from ringtrail.outbound.platforms import destinations, log
from ringtrail.storage.models import Call, Client
from ringtrail.storage.sql import get_db
from ringtrail.web.api.blueprint import bp, principal
from ringtrail.web.login import owned
from ringtrail.web.upload_schemas import DestinationIn, DestinationOut, TestOut, UploadOut

PLATFORM = "<any(google_ads, ga4):platform>"


def destination_out(dest) -> dict[str, Any]:
    return destinations.view(dest) | {"counts": destinations.counts_by_status(get_db(), dest.id)}


@bp.get("/clients/<int(min=1):client_id>/ad-platforms")
@bp.doc(tags=["uploads"])
@bp.response(200, DestinationOut(many=True))
def list_destinations(client_id: int):
    """The client's ad platforms: settings (secrets masked), whether paused and why, and
    its upload log's rows by status."""
    client = owned(Client, client_id)
    return [destination_out(d) for d in destinations.for_client(get_db(), client.id)]


@bp.put(f"/clients/<int(min=1):client_id>/ad-platforms/{PLATFORM}")
@bp.doc(tags=["uploads"])
@bp.arguments(DestinationIn)
@bp.response(200, DestinationOut)
def put_destination(data: dict[str, Any], client_id: int, platform: str):
    """Connect (or change) the client's Google Ads or GA4: which calls count, the value,
    and the credentials (sealed at once). New credentials resume a paused one. A HIPAA
    client gets 409: its calls never go to an ad platform."""
    p = principal()
    outcomes.may_change(p)
    client = owned(Client, client_id)
    db = get_db()
    dest = destinations.connect(db, client, platform, data)
    destinations.audit_change(db, p, client, dest, "update", data)
    db.commit()
    return destination_out(dest)


@bp.delete(f"/clients/<int(min=1):client_id>/ad-platforms/{PLATFORM}")
@bp.doc(tags=["uploads"])
@bp.response(204)
def delete_destination(client_id: int, platform: str):
    """Disconnect: the destination, its credentials and its upload log go."""
    p = principal()
    outcomes.may_change(p)
    client = owned(Client, client_id)
    db = get_db()
    dest = destinations.get(db, client.id, platform)
    destinations.audit_change(db, p, client, dest, "delete", {})
    destinations.disconnect(db, dest)
    db.commit()


@bp.post(f"/clients/<int(min=1):client_id>/ad-platforms/{PLATFORM}/test")
@bp.doc(tags=["uploads"])
@bp.response(200, TestOut)
def test_destination(client_id: int, platform: str):
    """Ask the platform to check the settings without keeping anything (Google's
    validate-only mode; GA4's validation server)."""
    outcomes.may_change(principal())
    client = owned(Client, client_id)
    answer = destinations.test_connection(destinations.get(get_db(), client.id, platform))
    return {"ok": answer.kind == "ok", "result": answer.kind, "reason": answer.reason}


@bp.get("/calls/<int(min=1):call>/uploads")
@bp.doc(tags=["uploads"])
@bp.response(200, UploadOut(many=True))
def call_uploads(call: int):
    """The call's uploads per destination: queued, accepted, sent or rejected with the
    platform's reason, or skipped and why."""
    record = owned(Call, call)
    return log.call_uploads(get_db(), record.id)
