"""The snippet for each site (``/s/<site_key>.js``) and the AMP call-tracking answer.

A thin door onto :mod:`ringtrail.tracking.snippet`.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, request

from ringtrail.errors import NotFound
from ringtrail.phones import national
from ringtrail.tracking.directory import site_for_key
from ringtrail.tracking.domains import origin_allowed
from ringtrail.tracking.snippet import UNKNOWN_KEY_JS, amp_number, amp_page_url, render
from ringtrail.web.public import visitor

bp = Blueprint("snippet", __name__)

CACHE_SECONDS = 300
# Origins of the AMP caches that may fetch on a publisher's behalf.
AMP_CACHE = re.compile(r"^https://[a-z0-9.-]+\.(cdn\.ampproject\.org|bing-amp\.com)$")


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
    response.set_etag(etag)
    return response.make_conditional(request)


def _amp_error(message: str, status: int) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Origin")
    return response


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
    if source_origin is not None and not origin_allowed(site, source_origin):
        return _amp_error("origin not allowed for this site", 403)
    try:
        number = amp_number(
            site,
            request.args.get("number"),
            visitor(),
            url=amp_page_url(site, request.args.get("url", ""), source_origin),
            referrer=request.args.get("ref", ""),
            lease=request.args.get("lease") != "0",
        )
    except NotFound as exc:
        return _amp_error(exc.reason, 404)
    shown = site.display.get(number) or national(number)
    response = jsonify(phoneNumber=number, formattedPhoneNumber=shown)
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Origin")
    if origin and (origin_allowed(site, origin) or AMP_CACHE.match(origin)):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
    if request.args.get("__amp_source_origin"):
        response.headers["AMP-Access-Control-Allow-Source-Origin"] = source_origin
        response.headers["Access-Control-Expose-Headers"] = "AMP-Access-Control-Allow-Source-Origin"
    return response
