"""The favicon: ``static/favicon.svg``, linked from every page, and at ``/favicon.ico``
too, where browsers, feed readers and bookmarks look for it without asking the page."""

from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("icons", __name__)

ICON_MAX_AGE = 7 * 86400  # a week: the icon changes with a release, if ever


@bp.get("/favicon.ico")
def favicon():
    """The SVG icon (every current browser draws an SVG served at /favicon.ico)."""
    response = current_app.send_static_file("favicon.svg")
    response.headers["Content-Type"] = "image/svg+xml"
    response.cache_control.public = True
    response.cache_control.max_age = ICON_MAX_AGE
    return response
