"""A local stand-in for Google's OAuth token endpoint, the Data Manager API's
``POST /v1/events:ingest`` and GA4's Measurement Protocol (``/mp/collect`` and
``/debug/mp/collect``), on 127.0.0.1.

- ``POST /token``: the OAuth 2.0 refresh-token grant (form-encoded). A refresh token in
  ``refresh_tokens`` gets an access token; any other gets 400 ``invalid_grant``.
- ``POST /v1/events:ingest``: needs ``Authorization: Bearer`` with a token it issued
  (else 401 UNAUTHENTICATED, google.rpc.Status); checks each event as the API documents
  it (transactionId, eventTimestamp, one of gclid/gbraid/wbraid, consent values, at most
  2,000 events) and answers 400 INVALID_ARGUMENT with BadRequest field violations
  naming "events[i]..." for the ones that fail; else 200 ``{"requestId": ...}``.
- ``/mp/collect``: 204 for a known measurement id and secret (GA4 answers 2xx for
  anything; this one also records the body); ``/debug/mp/collect`` answers
  ``validationMessages``.
- ``failures``: statuses to answer next (FIFO), before any check: 429, 500, 401, or
  "hang" (no answer for ``hang_seconds``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CONSENT = ("CONSENT_STATUS_UNSPECIFIED", "CONSENT_GRANTED", "CONSENT_DENIED")


@dataclass
class GoogleStandIn:
    url: str = ""
    refresh_tokens: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    ingested: list[dict] = field(default_factory=list)  # every accepted request body
    collected: list[tuple[dict, dict]] = field(default_factory=list)  # (query, body)
    ga4_secrets: dict[str, str] = field(default_factory=dict)  # measurement id -> secret
    failures: list[object] = field(default_factory=list)  # next answers, FIFO
    token_failures: list[object] = field(default_factory=list)
    hang_seconds: float = 3.0
    seen: list[str] = field(default_factory=list)  # paths asked

    def events(self) -> list[dict]:
        return [e for body in self.ingested if not body.get("validateOnly") for e in body["events"]]


def check_event(i: int, event: dict) -> list[dict]:
    bad = []
    where = f"events[{i}]"
    if not event.get("transactionId"):
        bad.append({"field": f"{where}.transaction_id", "description": "required"})
    if not isinstance(event.get("eventTimestamp"), str) or not event["eventTimestamp"].endswith(
        "Z"
    ):
        bad.append({"field": f"{where}.event_timestamp", "description": "required, RFC 3339"})
    ids = event.get("adIdentifiers") or {}
    if not any(ids.get(k) for k in ("gclid", "gbraid", "wbraid")):
        bad.append({"field": f"{where}.ad_identifiers", "description": "a click id is required"})
    elif ids.get("gclid", "").startswith("bad"):
        bad.append({"field": f"{where}.ad_identifiers.gclid", "description": "invalid gclid"})
    consent = event.get("consent") or {}
    for name in ("adUserData", "adPersonalization"):
        if name in consent and consent[name] not in CONSENT:
            bad.append({"field": f"{where}.consent.{name}", "description": "unknown value"})
    if "conversionValue" in event and not event.get("currency"):
        bad.append({"field": f"{where}.currency", "description": "required with a value"})
    return bad


def status(code: int, name: str, message: str, violations: list | None = None) -> dict:
    error = {"code": code, "status": name, "message": message}
    if violations:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}
        ]
    return {"error": error}


def make_handler(state: GoogleStandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, code: int, body: dict | None = None) -> None:
            raw = json.dumps(body).encode() if body is not None else b""
            self.send_response(code)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _failure(self, queue: list) -> bool:
            if not queue:
                return False
            what = queue.pop(0)
            if what == "hang":
                time.sleep(state.hang_seconds)
                self._send(503, status(503, "UNAVAILABLE", "late"))
                return True
            names = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}
            self._send(int(what), status(int(what), names.get(int(what), "ERROR"), "injected"))
            return True

        def do_POST(self):
            parts = urlsplit(self.path)
            state.seen.append(parts.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if parts.path == "/token":
                return self._token(raw)
            if parts.path == "/v1/events:ingest":
                return self._ingest(raw)
            if parts.path in ("/mp/collect", "/debug/mp/collect"):
                return self._collect(parts, raw)
            self._send(404, status(404, "NOT_FOUND", "no such path"))

        def _token(self, raw: bytes) -> None:
            if self._failure(state.token_failures):
                return
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if form.get("grant_type") != "refresh_token" or not form.get("client_id"):
                return self._send(400, {"error": "invalid_request"})
            if form.get("refresh_token") not in state.refresh_tokens:
                return self._send(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
            token = "ya29." + secrets.token_urlsafe(16)
            state.tokens.add(token)
            self._send(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

        def _ingest(self, raw: bytes) -> None:
            if self._failure(state.failures):
                return
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in state.tokens:
                return self._send(
                    401,
                    status(
                        401, "UNAUTHENTICATED", "Request had invalid authentication credentials."
                    ),
                )
            try:
                body = json.loads(raw)
            except ValueError:
                return self._send(400, status(400, "INVALID_ARGUMENT", "Invalid JSON payload"))
            events = body.get("events") or []
            dests = body.get("destinations") or []
            if not dests or not events or len(events) > 2000:
                return self._send(
                    400, status(400, "INVALID_ARGUMENT", "destinations and 1-2000 events required")
                )
            for d in dests:
                acct = d.get("operatingAccount") or {}
                if (
                    acct.get("accountType") != "GOOGLE_ADS"
                    or not acct.get("accountId")
                    or not d.get("productDestinationId")
                ):
                    return self._send(400, status(400, "INVALID_ARGUMENT", "bad destination"))
            bad = [v for i, e in enumerate(events) for v in check_event(i, e)]
            if bad:
                return self._send(
                    400,
                    status(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", bad),
                )
            state.ingested.append(body)
            self._send(200, {"requestId": "req-" + secrets.token_hex(6)})

        def _collect(self, parts, raw: bytes) -> None:
            if self._failure(state.failures):
                return
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            body = json.loads(raw or b"{}")
            known = state.ga4_secrets.get(query.get("measurement_id", "")) == query.get(
                "api_secret"
            )
            if parts.path.startswith("/debug"):
                messages = []
                if not known:
                    messages.append(
                        {
                            "fieldPath": "api_secret",
                            "description": "Unknown measurement id or API secret.",
                            "validationCode": "VALUE_INVALID",
                        }
                    )
                if not body.get("client_id"):
                    messages.append(
                        {
                            "fieldPath": "client_id",
                            "description": "client_id is required.",
                            "validationCode": "VALUE_REQUIRED",
                        }
                    )
                return self._send(200, {"validationMessages": messages})
            if known:
                state.collected.append((query, body))
            self._send(204)

    return Handler


def start_google() -> tuple[GoogleStandIn, ThreadingHTTPServer]:
    state = GoogleStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server
