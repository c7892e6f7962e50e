"""Serves the snippet with each site's settings baked in, and the AMP call-tracking answer.

``GET /s/<site_key>.js`` is contract v1 of ``snippet/ringtrail.js``. A breaking change to
that contract (the global, the ``data-*`` options, the public API it calls) freezes a copy
under a new versioned path instead of changing this one in place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from functools import lru_cache
from importlib import resources
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request

from ringtrail.tracking.directory import SiteConfig, site_for_key
from ringtrail.tracking.sessions import display
from ringtrail.web.public import start_visit

log = logging.getLogger(__name__)
bp = Blueprint("snippet", __name__)

SNIPPET = resources.files("ringtrail.snippet") / "ringtrail.js"
CONFIG = re.compile(r"/\*CONFIG\*/.*?/\*END\*/", re.DOTALL)
CACHE_SECONDS = 300
UNKNOWN_KEY_JS = "/* ringtrail: unknown site key; the page keeps its own numbers. */\n"
# Origins of the AMP caches that may fetch on a publisher's behalf.
AMP_CACHE = re.compile(r"^https://[a-z0-9.-]+\.(cdn\.ampproject\.org|bing-amp\.com)$")


SENTINEL = "RINGTRAIL_CONFIG"


@lru_cache(maxsize=4)
def _template(mtime_ns: int) -> str:
    """The snippet as served: minified, with a sentinel string where the settings go."""
    source = CONFIG.sub(f'"{SENTINEL}"', SNIPPET.read_text(encoding="utf-8"), count=1)
    try:
        from calmjs.parse import es5
        from calmjs.parse.unparsers.es5 import minify_print
    except ImportError:  # still correct, only larger: the size test says so
        log.warning("snippet: calmjs.parse is not installed; serving the snippet unminified")
        return source
    minified = minify_print(es5(source), obfuscate=True, shadow_funcname=True, drop_semi=True)
    return minified + "\n"


def template() -> str:
    """The minified snippet, minified again when the file changes."""
    return _template(os.stat(SNIPPET).st_mtime_ns)


def js_json(value: object) -> str:
    """JSON that is safe inside JavaScript and inside an inline <script> element."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def site_settings(site: SiteConfig, api: str) -> dict[str, object]:
    """What the snippet needs to know about a site; baked in, so no request is needed."""
    return {
        "k": site.key,
        "n": list(dict.fromkeys(p.business_number for p in site.pools)),
        "a": api.rstrip("/"),
    }


@lru_cache(maxsize=1024)
def _render(template_text: str, settings: str) -> tuple[str, str]:
    body = re.sub(f"([\"']){SENTINEL}\\1", lambda _: settings, template_text, count=1)
    return body, hashlib.sha256(body.encode()).hexdigest()[:20]


def render(site: SiteConfig, api: str) -> tuple[str, str]:
    """The snippet for one site, and its ETag."""
    return _render(template(), js_json(site_settings(site, api)))


@bp.get("/s/<site_key>.js")
def serve(site_key: str) -> Response:
    """The snippet for one site, with its business numbers and settings baked in."""
    site = site_for_key(site_key)
    if site is None:
        # A script that fails to load leaves the page alone; the body is harmless anyway.
        response = Response(UNKNOWN_KEY_JS, status=404, mimetype="text/javascript")
        response.headers["Cache-Control"] = "public, max-age=60"
        return response
    body, etag = render(site, current_app.config["PUBLIC_URL"])
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(etag)
    return response.make_conditional(request)


# AMP: amp-call-tracking fetches {phoneNumber, formattedPhoneNumber} by CORS GET.


def _amp_error(message: str, status: int) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Origin")
    return response


def _amp_page(site: SiteConfig, url: str, source_origin: str | None) -> str:
    """The AMP page's URL: the ``url`` parameter if it is on one of the site's hosts."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts and parts.scheme in ("http", "https") and parts.hostname in site.hosts:
        return url[:2048]
    return (source_origin or (site.allowed_origins or ("https://unknown.invalid",))[0]) + "/"


@bp.get("/v1/amp/<site_key>")
def amp(site_key: str) -> Response:
    """amp-call-tracking's config: a leased or source-level number, else the business one.

    Parameters: ``__amp_source_origin`` (added by AMP), ``number`` (the business number
    of the pool to use; default the first), ``url`` and ``ref`` (use AMP's ``SOURCE_URL``
    and ``DOCUMENT_REFERRER`` substitutions), ``lease=0`` to use only source-level numbers.
    """
    site = site_for_key(site_key)
    if site is None:
        return _amp_error("unknown site key", 404)
    origin = request.headers.get("Origin")
    source_origin = request.args.get("__amp_source_origin") or origin
    if source_origin is not None and source_origin.rstrip("/") not in site.allowed_origins:
        return _amp_error("origin not allowed for this site", 403)
    wanted = request.args.get("number")
    pool = next((p for p in site.pools if p.business_number == wanted), None)
    pool = pool or (site.pools[0] if site.pools else None)
    if pool is None:
        return _amp_error("site has no pools", 404)

    number = _amp_number(dataclasses.replace(site, pools=(pool,)), source_origin)
    response = jsonify(phoneNumber=number, formattedPhoneNumber=display(number))
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Origin")
    if origin and (origin.rstrip("/") in site.allowed_origins or AMP_CACHE.match(origin)):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
    if request.args.get("__amp_source_origin"):
        response.headers["AMP-Access-Control-Allow-Source-Origin"] = source_origin
        response.headers["Access-Control-Expose-Headers"] = "AMP-Access-Control-Allow-Source-Origin"
    return response


def _amp_number(site: SiteConfig, source_origin: str | None) -> str:
    """The number one AMP page view shows, for a site narrowed to one pool."""
    pool = site.pools[0]
    answer = start_visit(
        site,
        {},
        url=_amp_page(site, request.args.get("url", ""), source_origin),
        referrer=request.args.get("ref", "")[:2048],
        title="",
        lease=request.args.get("lease") != "0",
    )
    shown = answer["numbers"].get(pool.business_number)
    return shown["e164"] if shown else pool.business_number
