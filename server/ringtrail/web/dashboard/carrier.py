"""The carrier account page (agency admins): connect, rotate, disconnect; search numbers
for sale, buy them into a pool, import the numbers the account owns (a dry run first);
and the banner every dashboard page shows while the account is not connected.

The same services as the admin API and ``ringtrail carrier``. Whatever the carrier or a
service refuses is shown on the page as its reason, never as a 500; secrets are never
put back into a form or a page, only their masks.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ringtrail.accounts import carrier_account, carrier_numbers
from ringtrail.accounts.tenancy import scoped
from ringtrail.errors import Conflict, Invalid, Unavailable
from ringtrail.storage.models import Agency, Pool, Site, TrackingNumber
from ringtrail.storage.sql import get_db
from ringtrail.web.dashboard.blueprints import dashboard as bp
from ringtrail.web.dashboard.forms import flash_refusal
from ringtrail.web.login import current_principal, login_required, owned

# Refusals shown on the page: bad input, clashes, and the carrier's failures (Unavailable).
REFUSED = (Invalid, Conflict, Unavailable)
PAGE = "dashboard.carrier"


def _pools() -> list[Pool]:
    stmt = scoped(select(Pool).join(Pool.site), Pool, current_principal())
    return list(get_db().scalars(stmt.order_by(Site.name, Pool.name, Pool.id)))


def _criteria() -> dict[str, Any]:
    data: dict[str, Any] = {k: request.args.get(k, "").strip() for k in carrier_numbers.CRITERIA}
    data["toll_free"] = request.args.get("toll_free") == "on"
    return data


def _page(status_code: int = 200, **extra: Any):
    p = current_principal()
    status = carrier_account.show(get_db(), p)
    return (
        render_template(
            "settings_carrier.html",
            status=status,
            pools=_pools(),
            criteria=extra.pop("criteria", None) or {},
            **extra,
        ),
        status_code,
    )


@bp.get("/dashboard/settings/carrier")
@login_required("agency_admin")
def carrier():
    """The account, and a search of numbers for sale when the search form was sent."""
    if "search" not in request.args:
        return _page()
    criteria = _criteria()
    try:
        found = carrier_numbers.search(get_db(), current_principal(), criteria)
    except REFUSED as exc:
        return _page(flash_refusal(exc), criteria=criteria)
    if not found:
        flash("Twilio has no numbers for sale that match.", "info")
    return _page(found=found, criteria=criteria)


def _after(action, done: str):
    try:
        action()
    except REFUSED as exc:
        return _page(flash_refusal(exc))
    flash(done, "success")
    return redirect(url_for(PAGE))


@bp.post("/dashboard/settings/carrier")
@login_required("agency_admin")
def connect_carrier():
    """Connect the account (checked at Twilio first)."""
    data = {
        name: request.form.get(name, "").strip() or None
        for name in ("account_sid", "auth_token", "api_key_sid", "api_key_secret")
    }
    p = current_principal()
    return _after(lambda: carrier_account.connect(get_db(), p, data), "Twilio account connected.")


@bp.post("/dashboard/settings/carrier/rotation")
@login_required("agency_admin")
def rotate_carrier_token():
    """Start using a new auth token; the previous one works until the rotation ends."""
    token = request.form.get("auth_token", "")
    p = current_principal()
    return _after(
        lambda: carrier_account.rotate(get_db(), p, token),
        "New auth token in use; the previous one is still accepted until you finish the rotation.",
    )


@bp.post("/dashboard/settings/carrier/rotation/finish")
@login_required("agency_admin")
def finish_carrier_rotation():
    """Stop accepting the previous auth token."""
    p = current_principal()
    return _after(
        lambda: carrier_account.finish_rotation(get_db(), p),
        "Rotation finished: the previous auth token is refused from now on.",
    )


@bp.post("/dashboard/settings/carrier/disconnect")
@login_required("agency_admin")
def disconnect_carrier():
    """Forget the account's credentials."""
    p = current_principal()
    return _after(lambda: carrier_account.disconnect(get_db(), p), "Twilio account disconnected.")


def _form_pool() -> Pool:
    try:
        pool_id = int(request.form.get("pool_id", ""))
    except ValueError:
        raise Invalid("choose a pool") from None
    return owned(Pool, pool_id)


@bp.post("/dashboard/settings/carrier/buy")
@login_required("agency_admin")
def buy_numbers():
    """Buy the chosen numbers into a pool, then show the pool."""
    p = current_principal()
    try:
        pool = _form_pool()
        bought = carrier_numbers.buy(get_db(), p, pool, request.form.getlist("number"))
    except REFUSED as exc:
        return _page(flash_refusal(exc))
    flash(f"Bought {', '.join(n.number for n in bought)} into this pool.", "success")
    return redirect(url_for("dashboard.edit_pool", pool_id=pool.id))


@bp.post("/dashboard/settings/carrier/import")
@login_required("agency_admin")
def import_owned():
    """Preview (dry run) or do the import of the account's numbers into a pool."""
    p = current_principal()
    apply = request.form.get("apply") == "1"
    try:
        pool = _form_pool()
        changes = carrier_numbers.import_owned(get_db(), p, pool, dry_run=not apply)
    except REFUSED as exc:
        return _page(flash_refusal(exc))
    if apply:
        flash("Imported: the numbers now send their calls to Ringtrail.", "success")
        return redirect(url_for("dashboard.edit_pool", pool_id=pool.id))
    return _page(plan=changes, plan_pool=pool)


@bp.post("/dashboard/settings/numbers/<int:number_id>/release")
@login_required("agency_admin")
def release_number(number_id: int):
    """Give a number back to Twilio and take it out of its pool."""
    number = owned(TrackingNumber, number_id)
    pool_id, shown = number.pool_id, number.number
    try:
        carrier_numbers.release(get_db(), current_principal(), number)
    except REFUSED as exc:
        flash_refusal(exc)
    else:
        flash(f"{shown} released to Twilio.", "success")
    return redirect(url_for("dashboard.edit_pool", pool_id=pool_id))


@bp.app_context_processor
def carrier_banner() -> dict[str, Any]:
    """``carrier_missing``: the reason calls would be refused, while the logged-in
    person's agency has no account connected (for the banner in base.html)."""
    p = current_principal()
    if p is None or p.agency_id is None or not request.path.startswith("/dashboard"):
        return {}
    try:
        agency = get_db().get(Agency, p.agency_id)
    except SQLAlchemyError:  # the page (perhaps an error page) shows without the banner
        return {}
    if agency is None or (agency.twilio_account_sid and agency.twilio_auth_token):
        return {}
    return {"carrier_missing": carrier_account.NOT_CONNECTED}
