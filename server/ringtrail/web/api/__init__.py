"""The admin REST API under /api/v1, for agencies' scripts (by API key).

Routes live in ``api_config.py`` (clients, sites, pools, numbers), ``api_calls.py``
(the call list, call detail and ingest) and ``api_access.py`` (users, keys, audit log).
This module holds what they share: the blueprint, Bearer-key authentication, rate
limits and errors as ``{"error": reason}``.

The OpenAPI 3 document is generated from the code by flask-smorest (marshmallow
schemas in ``schemas.py`` become the document's components) and served at
``/api/v1/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from ringtrail.accounts import ratelimit
from ringtrail.accounts.apikeys import authenticate, bearer_token, key_principal
from ringtrail.accounts.auth import set_principal
from ringtrail.accounts.tenancy import guard_view_args
from ringtrail.errors import BadInput
from ringtrail.storage.sql import get_db
from ringtrail.web.schemas import ErrorOut

bp = Blueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="Configuration, calls and access for one agency or client.",
)

SPEC_DESCRIPTION = """\
Authenticate every request with an API key in the header
`Authorization: Bearer rt_...` (never in the URL). An agency key sees every client of
the agency; a client key sees one client and cannot manage keys or users.

Limits: 1,000 requests per key per hour and 10,000 per day by default; over them the
answer is 429 with `Retry-After` (seconds). Errors are `{"error": "reason"}` with a 4xx
status. Another tenant's object answers 404, exactly like a missing one.
"""


class Api(SmorestApi):
    """flask-smorest's Api, answering errors in Ringtrail's own ``{"error": ...}`` shape."""

    ERROR_SCHEMA = ErrorOut

    def _register_error_handlers(self) -> None:
        # Errors are handled by the blueprint (below) and errors.py, not app-wide, so the
        # public API and the dashboard keep their own error pages.
        pass


def init_app(app: Flask) -> None:
    """Register the API blueprint and its generated OpenAPI document."""
    app.config.update(
        API_TITLE="Ringtrail admin API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = Api(
        app,
        spec_kwargs={
            "info": {"description": SPEC_DESCRIPTION},
            "security": [{"bearerAuth": []}],
            "servers": [{"url": app.config["PUBLIC_URL"].rstrip("/")}],
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "An rt_... API key"}
    )
    api.register_blueprint(bp)
    app.extensions["ringtrail"]["api"] = api


def _readable(messages: Any, prefix: str = "") -> list[str]:
    """Flatten marshmallow's nested messages into 'field: reason' lines."""
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            name = key if key not in ("json", "query", "form", "files", "_schema") else ""
            out += _readable(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return out
    if isinstance(messages, list | tuple):
        out = []
        for item in messages:
            out += _readable(item, prefix)
        return out
    return [f"{prefix}: {messages}" if prefix else str(messages)]


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    data = getattr(exc, "data", None) or {}
    if "messages" in data:
        reason = "; ".join(_readable(data["messages"])) or "invalid input"
    elif exc.code == 413:
        reason = "request body too large"
    else:
        reason = exc.description or exc.name
    response = {"error": reason}
    headers = dict(data.get("headers") or {})
    if exc.code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if exc.code == 429 and (retry := getattr(exc, "retry_after", None)):
        headers["Retry-After"] = str(retry)
    return response, exc.code or 500, headers


@bp.errorhandler(BadInput)
def _bad_input(exc: BadInput):
    body: dict[str, Any] = {"error": str(exc)}
    rows = getattr(exc, "rows", None)
    if rows is not None:
        body["rows"] = [{"row": r.row, "value": r.value, "error": r.error} for r in rows]
    return body, exc.status


@bp.errorhandler(RecursionError)
def _too_deep(_exc: RecursionError):
    return {"error": "JSON nested too deeply"}, 400


class TooManyRequests(HTTPException):
    code = 429
    description = "rate limit exceeded"

    def __init__(self, retry_after: int):
        super().__init__(f"rate limit exceeded; retry in {retry_after} s")
        self.retry_after = retry_after


class Unauthorized(HTTPException):
    code = 401


@bp.before_request
def _authenticate() -> None:
    raw = bearer_token()
    if raw is None:
        raise Unauthorized("send an API key as 'Authorization: Bearer rt_...'")
    key = authenticate(get_db(), raw)
    if key is None:
        raise Unauthorized("unknown or revoked API key")
    principal = key_principal(key)
    set_principal(principal)
    decision = ratelimit.hit(f"key:{key.id}", ratelimit.api_limits())
    g.rate_decision = decision
    if not decision.allowed:
        raise TooManyRequests(decision.retry_after)
    guard_view_args(request.view_args, principal)


@bp.after_request
def _rate_headers(response: Response) -> Response:
    decision = g.get("rate_decision")
    if decision is not None and decision.counted:
        response.headers["X-RateLimit-Limit"] = str(decision.limit)
        response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
    response.headers["Cache-Control"] = "no-store"
    return response


from ringtrail.web.api import access as api_access
from ringtrail.web.api import calls as api_calls
from ringtrail.web.api import config as api_config
from ringtrail.web.api import privacy as api_privacy
