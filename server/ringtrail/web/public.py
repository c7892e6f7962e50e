"""The public API the snippet calls, cross-origin: visitor sessions and page views.

Bodies are ``text/plain`` JSON so that browsers send them without a CORS preflight.
CORS is granted only to the site's allowed origins, and ``Vary: Origin`` is always set.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

import redis
from flask import Blueprint, Response, current_app, jsonify, request

from ringtrail.errors import BadInput
from ringtrail.storage.clients import get_pools, get_redis, get_visits
from ringtrail.tracking.devices import classify_agent
from ringtrail.tracking.directory import SiteConfig, site_for_key
from ringtrail.tracking.sessions import lease_numbers, session_ttl, source_numbers
from ringtrail.tracking.sources import classify
from ringtrail.tracking.visits import Visit, new_session_id, page_entry

log = logging.getLogger(__name__)
bp = Blueprint("public", __name__)

URL_LIMIT = 2048
TITLE_LIMIT = 200
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,40}$")


@bp.after_request
def _vary(response: Response) -> Response:
    response.vary.add("Origin")
    return response


def _cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def read_body() -> dict[str, Any]:
    """The request body as a JSON object, or BadInput with the reason."""
    limit = int(current_app.config["MAX_BODY_BYTES"])
    if request.content_length is not None and request.content_length > limit:
        return _too_large()
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        return _too_large()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("body is not valid UTF-8") from None
    try:
        body = json.loads(text)
    except RecursionError:
        raise BadInput("body is nested too deeply") from None
    except ValueError:
        raise BadInput("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadInput("body must be a JSON object")
    return body


def _too_large():
    from werkzeug.exceptions import RequestEntityTooLarge

    raise RequestEntityTooLarge()


def text_field(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    """A string field, checked for type, length and NUL bytes."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise BadInput(f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a string")
    if len(value) > limit:
        raise BadInput(f"{name} is longer than {limit} characters")
    if "\x00" in value:
        raise BadInput(f"{name} contains a NUL byte")
    return value


def page_url(body: dict[str, Any]) -> str:
    """The page URL, which must be http(s)."""
    url = text_field(body, "url", URL_LIMIT, required=True)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise BadInput("url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInput("url must be an absolute http(s) URL")
    return url


def site_and_origin(body: dict[str, Any]) -> tuple[SiteConfig, str | None]:
    """The site named in the body, and the origin to grant CORS to (None if no Origin)."""
    key = text_field(body, "site", 64, required=True)
    site = site_for_key(key)
    if site is None:
        raise BadInput("unknown site key", 404)
    origin = request.headers.get("Origin")
    if origin is None:
        return site, None  # not a browser's cross-origin request; CORS does not apply
    if origin.rstrip("/") not in site.allowed_origins:
        raise BadInput("origin not allowed for this site", 403)
    return site, origin


def lease_allowed(site: SiteConfig, body: dict[str, Any], bot: bool) -> bool:
    """Whether this visitor may be tracked as a person (get a visitor-level lease)."""
    if bot:
        return False
    if request.headers.get("Sec-GPC") == "1" or body.get("gpc") is True:
        return False
    if site.honor_dnt and (request.headers.get("DNT") == "1" or body.get("dnt") is True):
        return False
    return not (site.consent_mode == "required" and body.get("consent") is not True)


def path_of(url: str) -> str:
    """A page's path, without query or fragment, which may hold personal data."""
    return urlsplit(url).path or "/"


def origin_of(url: str) -> str:
    """Where a referrer came from, scheme and host only: reports group by its domain, and
    its path and query (a search, a private page) are nobody's business."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}"[:200] if parts.scheme and parts.netloc else ""


def without_query(url: str) -> str:
    """A URL's scheme, host and path: its query may hold personal data (a search, an
    e-mail address), and the marketing parameters in it are already parsed out."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}{parts.path or '/'}"[:URL_LIMIT]


@bp.post("/v1/sessions", provide_automatic_options=False)
def create_session():
    """Start a visit: classify its source, lease numbers, answer what to show."""
    body = read_body()
    site, origin = site_and_origin(body)
    answer = start_visit(
        site,
        body,
        url=page_url(body),
        referrer=text_field(body, "referrer", URL_LIMIT),
        title=text_field(body, "title", TITLE_LIMIT),
    )
    return _cors(jsonify(answer), origin)


def start_visit(
    site: SiteConfig,
    body: dict[str, Any],
    *,
    url: str,
    referrer: str,
    title: str,
    lease: bool = True,
) -> dict[str, Any]:
    """Classify a new visit, lease its numbers if it may be tracked, and say what to show.

    The one way a visit begins, for the snippet and for AMP pages alike. Returns
    ``{"session", "numbers", "ttl"}``; a visitor who gets no lease (a bot, GPC, no
    consent, ``lease=False``, Redis away) gets ``session: None`` and source-level numbers.
    """
    config = current_app.config
    device = classify_agent(
        request.headers.get("User-Agent"),
        max_chars=int(config["UA_MAX_CHARS"]),
        headless_is_bot=bool(config["HEADLESS_IS_BOT"]),
    )
    src = classify(url, referrer, site.hosts)
    ttl = session_ttl(site, int(config["SESSION_TTL_SLACK"]))
    now = time.time()
    untracked = {"session": None, "numbers": source_numbers(site, src.source, src.medium)}

    if not lease or not lease_allowed(site, body, device.bot):
        if not device.bot:
            _count_visit(site, src.source, src.medium, now)
        return untracked | {"ttl": ttl}

    session = new_session_id()
    visit = Visit(
        site_id=site.id,
        started=now,
        landing_url=without_query(url),
        title=title[:120],
        referrer=origin_of(referrer),
        source=src.source,
        medium=src.medium,
        campaign=src.campaign,
        term=src.term,
        content=src.content,
        click_ids=src.click_ids,
        device=device.kind,
        browser=device.browser,
        os=device.os,
        pages=[page_entry(now, now, path_of(url))],
    )
    try:
        visits = get_visits()
        numbers = lease_numbers(
            get_pools(),
            site,
            session,
            source=src.source,
            medium=src.medium,
            count_visit=True,
            now=now,
            also=lambda pipe: visits.create(session, visit, ttl, pipe=pipe),
        )
    except redis.RedisError:
        log.warning("public: redis unavailable, answering source-level numbers")
        return untracked | {"ttl": 60}
    return {"session": session, "numbers": numbers, "ttl": ttl}


@bp.post("/v1/sessions/<session>/pageviews", provide_automatic_options=False)
def add_pageview(session: str):
    """Record a page view (or a heartbeat) and renew the visit's leases."""
    if not SESSION_ID.match(session):
        raise BadInput("malformed session id")
    body = read_body()
    site, origin = site_and_origin(body)
    heartbeat = body.get("heartbeat") is True
    url = "" if heartbeat else page_url(body)
    text_field(body, "title", TITLE_LIMIT)  # accepted for compatibility; only paths are kept
    ttl = session_ttl(site, int(current_app.config["SESSION_TTL_SLACK"]))
    now = time.time()
    try:
        visit = get_visits().add_page(
            session, site.id, None if heartbeat else path_of(url), ttl, now
        )
        if visit is None:
            raise BadInput("unknown session", 404)
        numbers = lease_numbers(
            get_pools(),
            site,
            session,
            source=visit.source,
            medium=visit.medium,
            count_visit=False,
            now=now,
        )
    except redis.RedisError:
        log.warning("public: redis unavailable during a page view")
        return _cors(jsonify(error="temporarily unavailable"), origin), 503
    return _cors(jsonify(session=session, numbers=numbers, ttl=ttl), origin)


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
    from ringtrail.tracking.directory import get_directory

    snapshot = get_directory().get()
    return bool(snapshot) and any(
        origin.rstrip("/") in s.allowed_origins for s in snapshot.sites.values()
    )


def _count_visit(site: SiteConfig, source: str, medium: str, now: float) -> None:
    """Count a visit that took no lease; an aggregate, with no visitor id."""
    if not site.pools:
        return
    from ringtrail.tracking.pool import PoolKeys

    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    key = PoolKeys(site.pools[0].id).visits(day)
    with contextlib.suppress(redis.RedisError):  # a lost count beats a failed page
        if get_redis().hincrby(key, f"{source}|{medium}", 1) == 1:
            get_redis().expire(key, 3 * 86400)
