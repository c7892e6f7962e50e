"""GA4 through the Measurement Protocol: ``POST /mp/collect?measurement_id=&api_secret=``.

One request per call (every event of a request shares its client id): the configured
event (default ``phone_call``) with the visit's GA4 client id and session id, the value
and currency, the call id as ``transaction_id``, the call's start as ``timestamp_micros``
and the visitor's consent. The Measurement Protocol answers 2xx without checking
anything, so a call it took is "sent", never "accepted"; ``/debug/mp/collect`` checks a
payload and is what "test connection" uses.
"""

from __future__ import annotations

from typing import Any

import requests

from ringtrail.context import setting
from ringtrail.crypto import unseal
from ringtrail.outbound.platforms import answers, rules
from ringtrail.storage.models import AdDestination, AdUpload, Call


def consent(granted: bool) -> dict[str, str]:
    status = "GRANTED" if granted else "DENIED"
    return {"ad_user_data": status, "ad_personalization": status}


def build_payload(call: Call, row: AdUpload, dest: AdDestination) -> dict[str, Any]:
    ids = (call.visit.ga4 or {}) if call.visit is not None else {}
    params: dict[str, Any] = {"transaction_id": call.call_sid, "engagement_time_msec": 1}
    if ids.get("sid"):
        params["session_id"] = ids["sid"]
    if row.value_minor is not None:
        params["value"] = row.value_minor / 100
        params["currency"] = row.currency
    when = call.started_at or call.created_at
    return {
        "client_id": ids.get("cid", ""),
        "timestamp_micros": int(when.timestamp() * 1_000_000),
        "consent": consent(rules.consent_granted(call.visit)),
        "events": [{"name": dest.event_name or "phone_call", "params": params}],
    }


def collect(
    dest: AdDestination,
    payload: dict[str, Any],
    *,
    debug: bool = False,
    http: requests.Session | None = None,
) -> answers.Answer:
    """Send one payload; with ``debug``, to the validation server, reading its messages."""
    http = http or requests.Session()
    path = "/debug/mp/collect" if debug else "/mp/collect"
    url = setting("GOOGLE_ANALYTICS_URL").rstrip("/") + path
    params = {"measurement_id": dest.measurement_id, "api_secret": unseal(dest.api_secret)}
    try:
        response = http.post(
            url, params=params, json=payload, timeout=float(setting("UPLOAD_TIMEOUT"))
        )
    except requests.RequestException as exc:
        return answers.Answer(answers.RETRY, answers.short(f"{type(exc).__name__}: {exc}"))
    code = response.status_code
    reason = answers.short(f"HTTP {code}: {response.text}")
    if code in (401, 403):
        return answers.Answer(answers.AUTH, reason)
    if code == 429 or code >= 500:
        return answers.Answer(answers.RETRY, reason)
    if code >= 300:
        return answers.Answer(answers.REJECTED, reason)
    if debug:
        try:
            messages = response.json().get("validationMessages") or []
        except (ValueError, AttributeError):
            messages = []
        if messages:
            words = "; ".join(str(m.get("description", m)) for m in messages)
            return answers.Answer(answers.REJECTED, answers.short(words))
    return answers.Answer(answers.OK)


def test_connection(dest: AdDestination) -> answers.Answer:
    """The event as it would be sent, checked by the validation server."""
    payload = {
        "client_id": "1234567890.1234567890",
        "consent": consent(False),
        "events": [
            {"name": dest.event_name or "phone_call", "params": {"engagement_time_msec": 1}}
        ],
    }
    return collect(dest, payload, debug=True)
