"""Plain words for things pages would otherwise show as stored: which recording notice a
caller heard (a date and a label, the fingerprint one hover away) and how a call was
routed. Templates call them as globals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ringtrail.storage.models import Call, Client
from ringtrail.storage.sql import get_db
from ringtrail.telephony import consent
from ringtrail.web.dashboard.blueprints import reports as bp

# How a call went, for people; the stored route kind stays in the tooltip.
ROUTE_WORDS = {
    "normal": "Forwarded to the business number",
    "overflow": "Forwarded from the overflow number (every pool number was in use)",
    "after_hours": "After hours: sent to the after-hours number",
    "voicemail": "Sent to voicemail",
    "unknown_number": "A number with no client: forwarded to the default number",
    "suspended": "Client suspended: forwarded to the default number, not recorded",
    "fallback": "Ringtrail was unreachable: Twilio's fallback forwarded it, not recorded",
    "unknown": "A number with no client: forwarded to the default number",
}


@dataclass(frozen=True)
class NoticeLabel:
    """Which notice a caller heard: "The current notice" / "An earlier notice", since when."""

    label: str
    since: datetime | None
    fingerprint: str


@bp.app_template_global("route_words")
def route_words(kind: str | None) -> str:
    """A call's route kind in words ("normal" → "Forwarded to the business number")."""
    return ROUTE_WORDS.get(kind or "normal", (kind or "").replace("_", " ").capitalize())


@bp.app_template_global("notice_label")
def notice_label(call: Call, client: Client | None) -> NoticeLabel | None:
    """The notice a call heard, in words: whether it is the client's current wording, and
    the first call that heard it (the notice's date, as far as calls tell)."""
    version = call.notice_version
    if not version:
        return None
    current = client is not None and consent.notice_version(client.recording_notice) == version
    since = get_db().scalar(
        select(func.min(Call.notice_at)).where(
            Call.client_id == call.client_id, Call.notice_version == version
        )
    )
    label = "The current notice" if current else "An earlier notice"
    return NoticeLabel(label, since, version)
