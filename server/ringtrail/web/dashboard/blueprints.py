"""The dashboard's blueprints, and what every dashboard request goes through.

- ``dashboard``: login, settings, users and keys;
- ``reportpages``: the reports (under /dashboard);
- ``compliance``: privacy (erasure, retention) and recordings.

A refused form keeps what was typed for the page it redirects to (``forms.typed``).

Route modules import their blueprint from here; ``__init__`` imports the route modules.
Objects named in a URL must be the logged-in person's (tenancy audits the attempt if
not); anonymous visitors are sent to /login by ``login_required`` instead.
"""

from __future__ import annotations

from flask import Blueprint, request

from ringtrail.accounts.tenancy import guard_view_args
from ringtrail.web.dashboard.forms import keep_after_refusal, take_kept, typed, typed_box
from ringtrail.web.login import current_principal

dashboard = Blueprint("dashboard", __name__)
reports = Blueprint("reportpages", __name__, url_prefix="/dashboard")
privacy = Blueprint("compliance", __name__)


def _guard() -> None:
    principal = current_principal()
    if request.view_args and principal is not None:
        guard_view_args(request.view_args, principal)


for _bp in (dashboard, reports, privacy):
    _bp.before_request(_guard)


@dashboard.app_context_processor
def _typed_helpers() -> dict:
    return {"typed": typed, "typed_box": typed_box}


# A refused form keeps what was typed for the page that follows (``forms.typed``).
for _bp in (dashboard, privacy):
    _bp.after_request(keep_after_refusal)
    _bp.before_request(take_kept)
