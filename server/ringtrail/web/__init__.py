"""Every HTTP door, split by audience, each a thin layer over one service:

- ``public`` and ``snippet``: the snippet's API and the snippet itself (cross-origin);
- ``telephony``: the carrier's webhooks (signed);
- ``api``: the admin API for agencies' scripts (API keys);
- ``dashboard``: pages for people (logins).

Nothing below this package reads the request or answers HTTP: services raise
:mod:`ringtrail.errors`, and :mod:`~ringtrail.web.errors` turns them into answers.
"""

from __future__ import annotations

from flask import Flask, request

from ringtrail.accounts import audit
from ringtrail.outbound import events as webhook_events
from ringtrail.outbound import notifications


def init_app(app: Flask) -> None:
    """Register every blueprint, the error answers, the security headers and logins."""
    from ringtrail.web import (
        api,
        dashboard,
        decoding,
        errors,
        headers,
        health,
        icons,
        login,
        public,
        snippet,
        telephony,
        words,
    )

    webhook_events.register()  # what follows a call: every process (web and worker) listens
    decoding.init_app(app)  # first: nothing may read text before it is checked
    login.init_app(app)
    errors.init_app(app)
    headers.init_app(app)
    words.init_app(app)
    login.exempt_from_csrf(public.bp, snippet.bp, telephony.bp, api.bp)
    app.before_request(_name_the_request)
    for bp in (health.bp, icons.bp, public.bp, snippet.bp, telephony.bp):
        app.register_blueprint(bp)
    api.init_app(app)
    for bp in dashboard.BLUEPRINTS:
        app.register_blueprint(bp)
    notifications.register()  # what follows a call: every process, web and worker
    from ringtrail.outbound.platforms import log as uploads_log

    uploads_log.register()  # ad platform uploads listen to the calls' hooks


def _name_the_request() -> None:
    # Audit entries of denied attempts say which request made them.
    audit.set_origin(request.method, request.path)
