"""The dashboard for people: login, settings."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboard", __name__)
