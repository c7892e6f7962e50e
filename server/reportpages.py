"""Dashboard pages that show reports: overview, client view, call log, pool health."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reportpages", __name__, url_prefix="/dashboard")
