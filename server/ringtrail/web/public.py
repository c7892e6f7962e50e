"""The public API the snippet calls, cross-origin: visitor sessions and page views.

A thin door onto :mod:`ringtrail.tracking.sessions`: it reads the body, checks the site
and the origin, and answers. Bodies are ``text/plain`` JSON so that browsers send them
without a CORS preflight. CORS is granted only to the site's allowed origins, and
``Vary: Origin`` is always set.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request

from ringtrail.errors import Forbidden, Invalid, NotFound, TooLarge, Unavailable
from ringtrail.tracking.directory import SiteConfig, get_directory, site_for_key
from ringtrail.tracking.domains import origin_allowed
from ringtrail.tracking.sessions import (
    TITLE_LIMIT,
    URL_LIMIT,
    Visitor,
    add_pageview,
    start_visit,
)
from ringtrail.web.addresses import client_address
from ringtrail.web.decoding import loads

bp = Blueprint("public", __name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,40}$")


@bp.after_request
def _vary(response: Response) -> Response:
    if "Vary" in response.headers:
        response.vary.add("Origin")
    else:  # the usual case, without parsing a header set
        response.headers["Vary"] = "Origin"
    return response


def _cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def read_body() -> dict[str, Any]:
    """The request body as a JSON object, or Invalid with the reason."""
    limit = int(current_app.config["MAX_BODY_BYTES"])
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge()
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        raise TooLarge()
    body = loads(raw)
    if not isinstance(body, dict):
        raise Invalid("body must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    """A string field, checked for type and length (:func:`loads` checked its text)."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise Invalid(f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    if len(value) > limit:
        raise Invalid(f"{name} is longer than {limit} characters")
    return value


def page_url(body: dict[str, Any]) -> str:
    """The page URL, which must be http(s)."""
    url = text_field(body, "url", URL_LIMIT, required=True)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise Invalid("url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("url must be an absolute http(s) URL")
    return url


def site_and_origin(body: dict[str, Any]) -> tuple[SiteConfig, str | None]:
    """The site named in the body, and the origin to grant CORS to (None if no Origin)."""
    key = text_field(body, "site", 64, required=True)
    site = site_for_key(key)
    if site is None:
        raise NotFound("unknown site key")
    origin = request.headers.get("Origin")
    if origin is None:
        return site, None  # not a browser's cross-origin request; CORS does not apply
    if not origin_allowed(site, origin):
        raise Forbidden("origin not allowed for this site")
    return site, origin


def visitor(body: dict[str, Any] | None = None) -> Visitor:
    """The visitor's user agent and privacy signals, from the headers and the body."""
    body = body or {}
    return Visitor(
        user_agent=request.headers.get("User-Agent"),
        gpc=request.headers.get("Sec-GPC") == "1" or body.get("gpc") is True,
        dnt=request.headers.get("DNT") == "1" or body.get("dnt") is True,
        consent=body.get("consent") is True,
        address=client_address(),
        ga4=ga4_ids(body),
    )


GA4_CLIENT = re.compile(r"^_ga=GA\d\.\d\.(\d{1,20}\.\d{1,20})$")
GA4_SESSION = re.compile(r"^_ga_\w{1,20}=GS\d\.\d\.s?(\d{1,20})")


def ga4_ids(body: dict[str, Any]) -> tuple[str, str] | None:
    """GA4's client id and session id from the _ga cookies the snippet sent ("ga": the
    cookies as "name=value", sent only with consent): "_ga=GA1.1.<client id>" and
    "_ga_<stream>=GS1.1.<session id>…" (or "GS2.1.s<session id>$…"). None without a
    client id; anything else in the list is ignored, never kept."""
    raw = body.get("ga")
    if not isinstance(raw, list):
        return None
    cid = sid = ""
    for item in raw[:10]:
        if not isinstance(item, str) or len(item) > 200:
            continue
        if match := GA4_CLIENT.match(item):
            cid = cid or match.group(1)
        elif match := GA4_SESSION.match(item):
            sid = sid or match.group(1)
    return (cid, sid) if cid else None


@bp.post("/v1/sessions", provide_automatic_options=False)
def create_session():
    """Start a visit: classify its source, lease numbers, answer what to show."""
    body = read_body()
    site, origin = site_and_origin(body)
    answer = start_visit(
        site,
        visitor(body),
        url=page_url(body),
        referrer=text_field(body, "referrer", URL_LIMIT),
        title=text_field(body, "title", TITLE_LIMIT),
    )
    return _cors(jsonify(answer), origin)


@bp.post("/v1/sessions/<session>/pageviews", provide_automatic_options=False)
def create_pageview(session: str):
    """Record a page view (or a heartbeat) and renew the visit's leases."""
    if not SESSION_ID.match(session):
        raise Invalid("malformed session id")
    body = read_body()
    site, origin = site_and_origin(body)
    heartbeat = body.get("heartbeat") in (True, 1)  # JSON true, or 1 (the snippet sends 1)
    url = None if heartbeat else page_url(body)
    title = "" if heartbeat else text_field(body, "title", TITLE_LIMIT)
    try:
        answer = add_pageview(site, session, url, title)
    except Unavailable as exc:
        # The snippet keeps what it shows; it may read why, so the answer carries CORS.
        return _cors(jsonify(error=exc.reason), origin), 503
    return _cors(jsonify(answer), origin)


@bp.route("/v1/sessions", methods=["OPTIONS"])
@bp.route("/v1/sessions/<session>/pageviews", methods=["OPTIONS"])
def preflight(session: str | None = None):
    """Answer a CORS preflight; the snippet avoids them, other clients may not."""
    origin = request.headers.get("Origin")
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    # Which site is asking is only in the body, so grant any origin some site allows.
    return _cors(response, origin if origin and _any_site_allows(origin) else None)


def _any_site_allows(origin: str) -> bool:
    snapshot = get_directory().get()
    return bool(snapshot) and any(origin_allowed(s, origin) for s in snapshot.sites.values())
