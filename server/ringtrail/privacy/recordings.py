"""Recordings are heard only through Ringtrail, by agency admins and client managers,
and every listen is audited.

The carrier's media URL (and the credentials it needs) never reach a browser: the audio
is streamed from the carrier through Ringtrail. A recording is the most sensitive thing
Ringtrail holds, so report-only users, who read reports, cannot hear it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.errors import Forbidden, NotFound
from ringtrail.storage.models import Agency, Call, Client
from ringtrail.telephony import carrier
from ringtrail.terms import EDITORS


def open_recording(db: Session, p: Principal, call: Call, fmt: str = "mp3") -> carrier.Media:
    """Audit the access, then open the call's recording at the carrier.

    Forbidden for roles that may not listen; NotFound if the call has none; CarrierError
    if the carrier cannot serve it. The access is audited before the first byte, so a
    listen that fails midway is still on record.
    """
    if p.role not in EDITORS:
        raise Forbidden("recordings are for agency admins and client managers")
    if not (call.recording_sid or call.recording_url):
        raise NotFound("this call has no recording")
    client = db.get(Client, call.client_id) if call.client_id else None
    agency = db.get(Agency, client.agency_id) if client else None
    if agency is None or call.provider != "twilio":
        raise NotFound("this call has no recording")
    reference = call.recording_sid or call.recording_url
    audit.record_now(
        "listen",
        "call",
        call.id,
        {"recording": carrier.recording_sid(reference)},
        principal=p,
        agency_id=agency.id,
    )
    try:
        return carrier.fetch_recording(agency, reference, fmt)
    except carrier.CarrierError as exc:
        raise carrier.CarrierError(
            "the carrier could not serve the recording; try again", exc.status
        ) from exc
