"""Google Ads conversions through the Data Manager API (``POST /v1/events:ingest``).

Tokens come from ``google-auth`` (OAuth 2.0 refresh-token credentials; the token URL is
``RINGTRAIL_GOOGLE_TOKEN_URL``). Each event carries the click id (gclid, gbraid or
wbraid), the call's start as the event time, the value and currency, the call id as the
transaction id (a resend is never counted twice; the same id with a new value is an
adjustment) and the visitor's consent. A request carries at most 2,000 events.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import google.oauth2.credentials
import requests

from ringtrail.context import setting
from ringtrail.crypto import unseal
from ringtrail.outbound.platforms import answers, rules
from ringtrail.storage.models import AdDestination, AdUpload, Call

MAX_EVENTS = 2000
SCOPE = "https://www.googleapis.com/auth/datamanager"
VIOLATION = re.compile(r"events\[(\d+)\]")


class _Request(google.auth.transport.requests.Request):
    """google-auth's transport with our timeout (its default is two minutes)."""

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        timeout = float(setting("UPLOAD_TIMEOUT"))
        return super().__call__(url, method, body, headers, timeout, **kwargs)


def access_token(dest: AdDestination, http: requests.Session) -> str:
    """A fresh access token for the destination's refresh token; raises google-auth's
    RefreshError (``retryable`` False for a refused grant) or TransportError."""
    creds = google.oauth2.credentials.Credentials(
        token=None,
        refresh_token=unseal(dest.refresh_token),
        client_id=dest.oauth_client_id,
        client_secret=unseal(dest.oauth_client_secret),
        token_uri=setting("GOOGLE_TOKEN_URL"),
        scopes=[SCOPE],
    )
    creds.refresh(_Request(http))
    return creds.token


def timestamp(when: datetime | None) -> str:
    """RFC 3339 in UTC, as the API's Timestamp fields read it."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def consent(granted: bool) -> dict[str, str]:
    status = "CONSENT_GRANTED" if granted else "CONSENT_DENIED"
    return {"adUserData": status, "adPersonalization": status}


def build_event(call: Call, row: AdUpload) -> dict[str, Any]:
    """One Event: the click id, the call's start, value, transaction id and consent."""
    kind, click = rules.google_click_id(call.visit) or ("gclid", "")
    out: dict[str, Any] = {
        "transactionId": call.call_sid,
        "eventTimestamp": timestamp(call.started_at or call.created_at),
        "eventSource": "PHONE",
        "adIdentifiers": {kind: click},
        "consent": consent(rules.consent_granted(call.visit)),
    }
    if row.value_minor is not None:
        out["conversionValue"] = row.value_minor / 100
        out["currency"] = row.currency
    if row.key != "conversion":
        out["lastUpdatedTimestamp"] = timestamp(row.created_at)
    return out


def destination(dest: AdDestination) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": dest.account_id},
        "productDestinationId": dest.conversion_action_id,
    }
    if dest.login_account_id:
        out["loginAccount"] = {"accountType": "GOOGLE_ADS", "accountId": dest.login_account_id}
    return out


def ingest(
    dest: AdDestination,
    events: list[dict[str, Any]],
    *,
    validate_only: bool = False,
    http: requests.Session | None = None,
) -> answers.Answer:
    """Send one request of events (at most :data:`MAX_EVENTS`) and read the answer."""
    if len(events) > MAX_EVENTS:
        raise ValueError("at most 2,000 events a request")
    http = http or requests.Session()
    try:
        token = access_token(dest, http)
    except google.auth.exceptions.RefreshError as exc:
        if getattr(exc, "retryable", False):
            return answers.Answer(answers.RETRY, answers.short(f"token endpoint: {exc}"))
        return answers.Answer(answers.AUTH, answers.short(f"Google refused the credentials: {exc}"))
    except google.auth.exceptions.TransportError as exc:
        return answers.Answer(answers.RETRY, answers.short(f"token endpoint: {exc}"))
    body = {"destinations": [destination(dest)], "events": events, "validateOnly": validate_only}
    url = setting("GOOGLE_DATAMANAGER_URL").rstrip("/") + "/v1/events:ingest"
    try:
        response = http.post(
            url,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=float(setting("UPLOAD_TIMEOUT")),
        )
    except requests.RequestException as exc:
        return answers.Answer(answers.RETRY, answers.short(f"{type(exc).__name__}: {exc}"))
    return read_answer(response, len(events))


def read_answer(response: requests.Response, count: int) -> answers.Answer:
    """The API's answer: 200 with a requestId, or google.rpc.Status in ``error``."""
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if 200 <= response.status_code < 300:
        return answers.Answer(answers.OK, request_id=str(data.get("requestId") or "") or None)
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    message = answers.short(error.get("message") or response.reason or "")
    reason = f"HTTP {response.status_code} {error.get('status') or ''}: {message}".strip()
    if response.status_code in (401, 403):
        return answers.Answer(answers.AUTH, reason)
    if response.status_code == 429 or response.status_code >= 500:
        return answers.Answer(answers.RETRY, reason)
    return answers.Answer(answers.REJECTED, reason, rejected=violations(error, count))


def violations(error: dict[str, Any], count: int) -> dict[int, str]:
    """Which events a 400 names (google.rpc.BadRequest field violations "events[3]..."),
    with each one's description; empty when it names none (then all are refused)."""
    found: dict[int, str] = {}
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        for v in detail.get("fieldViolations") or []:
            match = VIOLATION.search(str(v.get("field", "")))
            if match and int(match.group(1)) < count:
                index = int(match.group(1))
                words = answers.short(f"{v.get('field')}: {v.get('description', '')}")
                found[index] = f"{found[index]}; {words}" if index in found else words
    return found


def test_connection(dest: AdDestination) -> answers.Answer:
    """Validate-only: a made-up event for the destination, which Google checks and keeps
    nothing of."""
    event = {
        "transactionId": "ringtrail-connection-test",
        "eventTimestamp": timestamp(None),
        "eventSource": "PHONE",
        "adIdentifiers": {"gclid": "ringtrail-connection-test"},
        "consent": consent(False),
    }
    return ingest(dest, [event], validate_only=True)
