"""The first-run checklist's one action: putting it away once every step is done (the
list itself is drawn on the overview, from :mod:`ringtrail.accounts.first_run`)."""

from __future__ import annotations

from flask import flash, redirect

from ringtrail.accounts import first_run
from ringtrail.errors import Conflict
from ringtrail.storage.sql import get_db
from ringtrail.web.dashboard.blueprints import dashboard as bp
from ringtrail.web.login import current_principal, login_required


@bp.post("/dashboard/first-run/dismiss")
@login_required("agency_admin")
def dismiss_first_run():
    """Put the checklist away for the agency."""
    try:
        first_run.dismiss(get_db(), current_principal())
    except Conflict as exc:
        flash(str(exc), "error")
    else:
        flash(
            "Set-up list put away. Everything it checked is still on the settings pages.", "success"
        )
    return redirect("/dashboard")
