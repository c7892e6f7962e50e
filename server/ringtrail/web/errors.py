"""Errors as answers, in one place: each :class:`~ringtrail.errors.RingtrailError` has one
HTTP status, and bad input is a 4xx with a readable reason, never a 500.

The public API, the admin API and the carrier's routes answer ``{"error": reason}``
(a CSV import adds ``rows``, one reason per bad row); pages for people show the reason.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from ringtrail import errors
from ringtrail.telephony.carrier import CarrierError
from ringtrail.telephony.twilio_rest import CarrierRateLimited, CarrierRefused, NotConnected

log = logging.getLogger(__name__)

# Most specific first: a subclass is looked up before its parents.
STATUS: dict[type[errors.RingtrailError], int] = {
    errors.TooLarge: 413,
    errors.Unprocessable: 422,
    errors.Invalid: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.RateLimited: 429,
    NotConnected: 409,  # connect the agency's carrier account first
    CarrierRefused: 422,  # the carrier refused what was asked, not an outage
    CarrierError: 502,  # the carrier failed us: a bad gateway, not our outage
    errors.Unavailable: 503,
    errors.RingtrailError: 400,
}
MACHINE_PATHS = ("/v1/", "/api/")
CARRIER_PATHS = ("/telephony/",)  # webhooks: the framework's own short answers


def status_of(exc: errors.RingtrailError) -> int:
    """The HTTP status of a refusal."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def for_machines() -> bool:
    """Whether this request came to an API (JSON errors) rather than to a page."""
    return request.path.startswith(MACHINE_PATHS)


def answer(reason: str | None, status: int, *, extra: dict[str, Any] | None = None, headers=None):
    """An error answer: JSON for APIs, the error page for people."""
    if for_machines():
        response = jsonify({"error": reason} | (extra or {}))
    else:
        response = Response(error_page(reason, status), mimetype="text/html")
    response.status_code = status
    response.headers.update(headers or {})
    return response


# The last resort when even the error page cannot be drawn (the database is down and the
# page's header could not ask who is logged in): no layout, still no stack trace.
BARE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Error {status} · Ringtrail</title><link rel="icon" href="/favicon.ico"></head>
<body style="font-family:sans-serif;max-width:40rem;margin:3rem auto">
<h1>Something went wrong on our side</h1><p>Error {status}. The problem was logged for the
people who run this server. Try again in a minute.</p><p><a href="/dashboard">Overview</a></p>
</body></html>"""


def error_page(reason: str | None, status: int) -> str:
    """The error page in the app's own layout: what happened in words, never a trace."""
    try:
        return render_template("error.html", message=reason, status=status, bare=status >= 500)
    except Exception:  # noqa: BLE001 (an error page must answer, whatever failed)
        log.exception("could not draw the error page for %s", status)
        return BARE_PAGE.format(status=int(status))


def page_reason(exc: HTTPException) -> str | None:
    """What a page says about a framework error: a view's own words (``abort(403, why)``),
    never the framework's stock text (the template has better) nor a server error's."""
    if (exc.code or 500) >= 500:
        return None
    stock = type(exc).description
    return exc.description if exc.description and exc.description != stock else None


def readable(messages: Any, prefix: str = "") -> list[str]:
    """Flatten marshmallow's nested messages into 'field: reason' lines."""
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            name = key if key not in ("json", "query", "form", "files", "_schema") else ""
            out += readable(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return out
    if isinstance(messages, list | tuple):
        out = []
        for item in messages:
            out += readable(item, prefix)
        return out
    return [f"{prefix}: {messages}" if prefix else str(messages)]


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(errors.RingtrailError)
    def refused(exc: errors.RingtrailError):
        extra: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if isinstance(exc, errors.Unprocessable) and exc.rows:
            extra["rows"] = [{"row": r.row, "value": r.value, "error": r.error} for r in exc.rows]
        if isinstance(exc, errors.RateLimited | CarrierRateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, errors.Unauthenticated) and request.path.startswith("/api/"):
            headers["WWW-Authenticate"] = "Bearer"
        return answer(exc.reason, status_of(exc), extra=extra, headers=headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, InternalServerError):
            log.exception("internal error on %s", request.path)
        if request.path.startswith(CARRIER_PATHS):
            return exc  # the carrier's debugger shows the short text, not our page
        if not for_machines():
            response = Response(error_page(page_reason(exc), exc.code or 500))
            response.status_code = exc.code or 500
            if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        data = getattr(exc, "data", None) or {}
        if "messages" in data:  # webargs (flask-smorest) could not parse the input
            reason = "; ".join(readable(data["messages"])) or "invalid input"
        elif exc.code == 413:
            reason = errors.TooLarge.default_reason
        else:
            reason = exc.description or exc.name
        headers = dict(data.get("headers") or {})
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)  # RFC 9110 requires it on a 405
        return answer(reason, exc.code or 500, headers=headers)

    @app.errorhandler(RecursionError)
    def too_deep(_exc: RecursionError):
        return answer("JSON nested too deeply", 400)
