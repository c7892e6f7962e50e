"""What the admin API's routes share: the blueprint, API-key authentication, rate limits
and the one way every list is paginated.

Routes live beside this module: ``config.py`` (clients, sites, pools, numbers),
``calls.py`` (the call list, call detail, recordings and ingest), ``access.py`` (users,
keys, audit log) and ``privacy.py`` (erasure and retention). Each imports the blueprint
from here, and ``__init__.py`` imports them all, so no module imports its importer.

The OpenAPI 3 document is generated from the code by flask-smorest (the marshmallow
schemas in ``ringtrail.web.schemas`` become its components) and served at
``/api/v1/openapi.json``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask, Response, g, request
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from sqlalchemy import Select, func, select
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from ringtrail.accounts import ratelimit
from ringtrail.accounts.apikeys import PREFIX, authenticate, key_principal
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.tenancy import guard_view_args
from ringtrail.errors import RateLimited, Unauthenticated
from ringtrail.storage.sql import get_db
from ringtrail.web.decoding import loads
from ringtrail.web.login import current_principal, set_principal
from ringtrail.web.schemas import ErrorOut
from ringtrail.web.webhook_schemas import WebhookEvent


class Parser(FlaskParser):
    """webargs' parser, reading JSON bodies through :func:`ringtrail.web.decoding.loads`."""

    def _raw_load_json(self, req):
        if not is_json_request(req) or not req.get_data(cache=True):
            return core.missing
        return loads(req.get_data(cache=True))


class Blueprint(SmorestBlueprint):
    """flask-smorest's Blueprint with Ringtrail's strict JSON decoding, documented in the
    OpenAPI document when the document is first read (:meth:`Api.document`)."""

    ARGUMENTS_PARSER = Parser()

    def register_views_in_doc(self, api, app, spec, *, name, parameters):
        document = super().register_views_in_doc
        api.undocumented.append(lambda: document(api, app, spec, name=name, parameters=parameters))


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

Every list answers `{"items": [...], "page", "per_page", "total"}` and takes `page`
(from 1) and `per_page` (up to 200, default 50).

Webhooks: Ringtrail POSTs a `WebhookEvent` (see the schemas) to each endpoint set up with
`/webhooks`, signed as the Standard Webhooks specification says (`webhook-id`,
`webhook-timestamp`, `webhook-signature`); a retry keeps its `webhook-id`.
"""


class SchemaPlugin(MarshmallowPlugin):
    """apispec's marshmallow plugin, adding what a schema's ``OPENAPI`` declares (rules
    across fields, which marshmallow's fields cannot describe)."""

    def schema_helper(self, name, _, schema=None, **kwargs):
        """The schema's OpenAPI document, with its ``OPENAPI`` additions."""
        document = super().schema_helper(name, _, schema=schema, **kwargs)
        if document is not None:
            for cls in reversed(resolve_schema_cls(schema).__mro__):
                document.update(cls.__dict__.get("OPENAPI", {}))
        return document


class Api(SmorestApi):
    """flask-smorest's Api, answering errors in Ringtrail's own ``{"error": ...}`` shape,
    and building the document of the routes the first time it is read: a worker that
    never serves it never pays for it (about a quarter of an app's start: 0.05 s of 0.19)."""

    ERROR_SCHEMA = ErrorOut

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.undocumented: list[Callable[[], None]] = []  # blueprints not yet in the spec
        self._documenting = threading.Lock()
        super().__init__(*args, **kwargs)

    def document(self) -> Any:
        """The OpenAPI document (the apispec ``APISpec``), every blueprint in it."""
        with self._documenting:
            while self.undocumented:
                self.undocumented.pop(0)()
        return self.spec

    def _openapi_json(self) -> Response:
        self.document()
        return super()._openapi_json()

    def _register_error_handlers(self) -> None:
        pass  # ringtrail.web.errors answers every error, for every door


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
            "marshmallow_plugin": SchemaPlugin(),
            "info": {"description": SPEC_DESCRIPTION},
            "security": [{"bearerAuth": []}],
            "servers": [{"url": app.config["PUBLIC_URL"].rstrip("/")}],
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "An rt_... API key"}
    )
    # What receivers get: no route answers it, so it is declared here.
    api.spec.components.schema("WebhookEvent", schema=WebhookEvent)
    api.register_blueprint(bp)
    app.extensions["ringtrail"]["api"] = api


def bearer_token() -> str | None:
    """The key in this request's ``Authorization: Bearer`` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    token = token.strip()
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    return token


@bp.before_request
def _authenticate() -> None:
    raw = bearer_token()
    if raw is None:
        raise Unauthenticated("send an API key as 'Authorization: Bearer rt_...'")
    key = authenticate(get_db(), raw)
    if key is None:
        raise Unauthenticated("unknown or revoked API key")
    principal = key_principal(key)
    set_principal(principal)
    decision = ratelimit.hit(f"key:{key.id}", ratelimit.api_limits())
    g.rate_decision = decision
    if not decision.allowed:
        raise RateLimited(decision.retry_after)
    guard_view_args(request.view_args, principal)


@bp.after_request
def _rate_headers(response: Response) -> Response:
    decision = g.get("rate_decision")
    if decision is not None and decision.counted:
        response.headers["X-RateLimit-Limit"] = str(decision.limit)
        response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
    return response


def principal() -> Principal:
    """The key making this request (authenticated before any route runs)."""
    return current_principal()


def paginate(stmt: Select, query: dict[str, Any], out=lambda row: row) -> dict[str, Any]:
    """One page of ``stmt`` (already ordered and tenant-scoped) in the one list shape."""
    db = get_db()
    page, per_page = query["page"], query["per_page"]
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.scalars(stmt.offset((page - 1) * per_page).limit(per_page)).all()
    return {
        "items": [out(row) for row in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
    }
