"""The admin REST API under /api/v1, for agencies' scripts (by API key).

:mod:`~ringtrail.web.api.blueprint` holds what the routes share; the route modules
register themselves on its blueprint when imported here.
"""

from __future__ import annotations

from ringtrail.web.api import (  # noqa: F401 (routes on bp)
    access,
    calls,
    carrier,
    config,
    notifications,
    outcomes,
    privacy,
    reports,
    uploads,
    webhooks,
)
from ringtrail.web.api.blueprint import bp, init_app

__all__ = ["bp", "init_app"]
