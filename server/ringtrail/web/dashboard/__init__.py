"""The dashboard for people: login, settings, access, reports and privacy pages."""

from __future__ import annotations

from ringtrail.web.dashboard import (  # noqa: F401
    access,
    account,
    carrier,
    first_run,
    login,
    notifications,
    outcomes,
    privacy,
    reports,
    settings,
    uploads,
    webhooks,
    wording,
)
from ringtrail.web.dashboard.blueprints import dashboard
from ringtrail.web.dashboard.blueprints import privacy as compliance
from ringtrail.web.dashboard.blueprints import reports as reportpages

BLUEPRINTS = (dashboard, reportpages, compliance)
