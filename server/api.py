"""The admin REST API under /api/v1, for agencies' scripts (by API key)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
