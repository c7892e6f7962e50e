"""Serves the snippet (placeholder until the snippet issue lands)."""

from __future__ import annotations

from flask import Blueprint, Response

bp = Blueprint("snippet", __name__)


@bp.get("/s/<site_key>.js")
def serve(site_key: str) -> Response:
    """The snippet for one site."""
    return Response("/* ringtrail: not yet */\n", mimetype="application/javascript")
