"""Which calls are conversions for one destination, with which value and consent.

Pure functions of a call, its visit, its client and the destination's settings: the
listener (``log.py``) writes what :func:`decide` says, the senders read the consent and
click ids from :func:`consent_granted` and :func:`google_click_id`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ringtrail.storage.models import AdDestination, Call, Client, VisitSnapshot

GOOGLE_ADS = "google_ads"
GA4 = "ga4"
PLATFORMS = (GOOGLE_ADS, GA4)
PLATFORM_NAMES = {GOOGLE_ADS: "Google Ads", GA4: "Google Analytics 4"}

# Confidences from the surest down; a destination takes its minimum and every one above.
CONFIDENCE_ORDER = ("exact", "late", "repeat", "ambiguous")
DEFAULT_MIN_CONFIDENCE = "late"
DEFAULT_MIN_DURATION = 60  # seconds: Google's default for call conversions
NEVER_LEADS = ("spam", "not_a_lead")

# Why a call was not uploaded: the code stored in the log, and its words.
SKIP_REASONS = {
    "hipaa": "HIPAA mode: nothing about a call goes to an ad platform",
    "not_a_conversion": "not a conversion by this destination's rule",
    "low_confidence": "attribution confidence below this destination's minimum",
    "no_click_id": "the visit has no Google click id (gclid, gbraid or wbraid)",
    "no_client_id": "the visit has no GA4 client id",
    "no_consent": "the visitor gave no consent (GA4 takes no call without it)",
}
GOOGLE_CLICK_IDS = ("gclid", "gbraid", "wbraid")
HIPAA_OFF = (
    "This client is in HIPAA mode: Ringtrail never sends its calls to an ad platform. "
    "Sending health-related visit data to ad platforms is what regulators have fined "
    "tracking pixels for."
)


@dataclass(frozen=True)
class Decision:
    """What to write for one call and destination: "queued" with a value, or "skipped"
    with a reason code (:data:`SKIP_REASONS`)."""

    status: str
    reason: str = ""
    value_minor: int | None = None
    currency: str | None = None


def allowed_confidences(minimum: str) -> tuple[str, ...]:
    """The confidences a minimum admits: itself and every surer one."""
    if minimum not in CONFIDENCE_ORDER:
        minimum = DEFAULT_MIN_CONFIDENCE
    return CONFIDENCE_ORDER[: CONFIDENCE_ORDER.index(minimum) + 1]


def counts(call: Call, dest: AdDestination) -> bool:
    """Whether the call is a conversion by the destination's rule: any of its lead
    statuses, any of its tags, or the minimum duration (60 s when nothing is chosen)."""
    if call.blocked or call.lead_status in NEVER_LEADS:
        return False
    statuses, tags = list(dest.lead_statuses or []), list(dest.tags or [])
    minimum = dest.min_duration_seconds
    if not statuses and not tags and minimum is None:
        minimum = DEFAULT_MIN_DURATION
    if statuses and call.lead_status in statuses:
        return True
    if tags and set(call.tag_names) & set(tags):
        return True
    seconds = call.talk_seconds if call.talk_seconds is not None else call.duration_seconds
    return minimum is not None and seconds is not None and seconds >= minimum


def value_of(call: Call, dest: AdDestination) -> tuple[int | None, str | None]:
    """The conversion's value: the call's outcome, else the destination's default."""
    if call.value_minor is not None:
        return call.value_minor, (call.currency or dest.currency)
    if dest.default_value_minor is not None:
        return dest.default_value_minor, dest.currency
    return None, None


def google_click_id(visit: VisitSnapshot | None) -> tuple[str, str] | None:
    """The visit's Google click id as (kind, value): gclid first, then gbraid, wbraid."""
    ids = (visit.click_ids or {}) if visit is not None else {}
    for kind in GOOGLE_CLICK_IDS:
        if ids.get(kind):
            return kind, str(ids[kind])
    return None


def consent_granted(visit: VisitSnapshot | None) -> bool:
    """Whether the visitor consented: the page said so. A visit the page said nothing
    about (a site in "auto" mode) is uploaded with consent denied; a visitor with Global
    Privacy Control never has a visit at all."""
    return visit is not None and visit.consent == "granted"


def decide(call: Call, dest: AdDestination, client: Client) -> Decision:
    """Whether (and with what value) the call goes to the destination, or why not."""
    if client.hipaa:
        return Decision("skipped", "hipaa")
    if not counts(call, dest):
        return Decision("skipped", "not_a_conversion")
    if call.confidence not in allowed_confidences(dest.min_confidence):
        return Decision("skipped", "low_confidence")
    visit = call.visit
    if dest.platform == GOOGLE_ADS and google_click_id(visit) is None:
        return Decision("skipped", "no_click_id")
    if dest.platform == GA4 and not (visit is not None and (visit.ga4 or {}).get("cid")):
        return Decision("skipped", "no_client_id" if consent_granted(visit) else "no_consent")
    value, currency = value_of(call, dest)
    return Decision("queued", "", value, currency)
