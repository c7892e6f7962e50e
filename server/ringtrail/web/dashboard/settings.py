"""Settings for people: clients (recording, consent, hours, HIPAA), sites, pools and numbers.

Forms are validated by the same schemas as the admin API and changed through the same
services (``ringtrail.accounts.configuration``).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ringtrail import timezones
from ringtrail.accounts import configuration, pool_autosize
from ringtrail.accounts.numbers_import import ImportRejected, import_numbers
from ringtrail.accounts.tenancy import scoped
from ringtrail.errors import Conflict, Invalid, Unavailable
from ringtrail.storage.models import Client, Pool, Site, TrackingNumber
from ringtrail.storage.sql import get_db
from ringtrail.telephony import consent
from ringtrail.terms import CONSENT_MODES, DAYS, DEFAULT_NOTICE, EDITORS, EXHAUSTION_POLICIES
from ringtrail.web.dashboard.blueprints import dashboard as bp
from ringtrail.web.dashboard.forms import flash_invalid, flash_refusal, form_data, load_form
from ringtrail.web.login import (
    current_principal,
    login_required,
    owned,
    safe_next,
)
from ringtrail.web.schemas import (
    ClientIn,
    ClientPatch,
    NumberIn,
    NumberPatch,
    PoolIn,
    PoolPatch,
    SiteIn,
    SitePatch,
)
from ringtrail.web.words import plural

# Refusals a form shows as a message on the page; others (403, 404) are error pages.
REFUSED = (Invalid, Conflict)


# -- settings: clients, sites, pools, numbers ---------------------------------------------


@bp.app_template_global("zone_groups")
def zone_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The time-zone picker's zones, by region, with their offsets today."""
    return timezones.grouped()


@bp.get("/dashboard/settings")
@login_required(*EDITORS)
def settings():
    """Sites, pools and numbers of the clients the user may see."""
    db = get_db()
    clients = db.scalars(
        scoped(select(Client), Client, current_principal())
        .options(selectinload(Client.sites).selectinload(Site.pools))
        .order_by(Client.name, Client.id)
    ).all()
    counts = dict(
        db.execute(
            select(Pool.id, func.count())
            .join(Pool.numbers)
            .where(Pool.id.in_(scoped(select(Pool.id), Pool, current_principal())))
            .group_by(Pool.id)
        ).all()
    )
    return render_template(
        "settings.html", clients=clients, counts=counts, policies=EXHAUSTION_POLICIES
    )


def _back(default: str):
    return redirect(safe_next(request.form.get("back")) or default)


@bp.post("/dashboard/settings/clients")
@login_required("agency_admin")
def create_client():
    """Create a client (agency admins)."""
    data = load_form(ClientIn(), checkboxes=("record_calls",))
    if data is not None:
        try:
            client = configuration.create_client(get_db(), current_principal(), data)
        except REFUSED as exc:
            flash(str(exc), "error")
        else:
            flash(f"Client “{client.name}” created.", "success")
            return redirect(url_for("dashboard.edit_client", client_id=client.id))
    return redirect(url_for("dashboard.settings") + "#add-client")  # the form, as typed


# Client settings that are checkboxes on the client's form.
CLIENT_BOXES = ("record_calls", "transcribe", "whisper", "voicemail", "hipaa", "suspended")
CLIENT_TEXT = ("name", "business_number", "timezone", "us_state", "recording_notice")
CLIENT_TEXT += ("consent_mode", "after_hours_number", "voicemail_prompt")
# Fields of the client form read by ``hours_from_form`` rather than by the schema.
HOURS_FIELDS = ("always_open", *(f"hours_{day}" for day in DAYS))


def _locked(kind: str) -> tuple[str, ...]:
    """The fields of ``kind`` this person may see but not change (agency admins' only)."""
    return configuration.admin_only(current_principal(), kind)


def _client_boxes() -> tuple[str, ...]:
    """The checkboxes this person may change: recording, consent, HIPAA mode and
    suspension are for agency admins (``configuration.ADMIN_ONLY``)."""
    return tuple(b for b in CLIENT_BOXES if b not in _locked("client"))


def hours_text(ranges: list | None) -> str:
    """[["09:00", "12:00"], ["13:00", "17:00"]] → "09:00-12:00, 13:00-17:00"."""
    return ", ".join(f"{start}-{end}" for start, end in ranges or ())


def hours_from_form() -> dict[str, Any] | None:
    """Business hours from the form: None when always open, else ranges per day.

    Each day's field reads "09:00-12:00, 13:00-17:00"; an empty field is a closed day.
    The schema then checks the times themselves.
    """
    if "always_open" in request.form:
        return None
    hours: dict[str, list[list[str]]] = {}
    for day in DAYS:
        text = request.form.get(f"hours_{day}", "").strip()
        ranges = [part.strip() for part in text.split(",") if part.strip()]
        for part in ranges:
            start, dash, end = part.replace("–", "-").partition("-")
            if not dash:
                reason = f"{day}: {part!r} is not a range such as 09:00-17:00"
                raise ValidationError({"business_hours": [reason]})
            hours.setdefault(day, []).append([start.strip(), end.strip()])
    if not hours:
        reason = "give at least one day's hours, or tick “open at all hours”"
        raise ValidationError({"business_hours": [reason]})
    return hours


def _client_values(client: Client) -> dict[str, Any]:
    """What the client form shows: the stored settings, or what was just sent."""
    form = request.form if request.method == "POST" else None
    values: dict[str, Any] = {}
    for name in CLIENT_TEXT:
        stored = getattr(client, name)
        values[name] = (
            form.get(name, "") if form is not None else ("" if stored is None else stored)
        )
    for name in CLIENT_BOXES:
        values[name] = (name in form) if form is not None else bool(getattr(client, name))
    for name in _locked("client"):  # never sent by this person's form: what is stored
        stored = getattr(client, name)
        values[name] = stored if name in CLIENT_BOXES or stored is not None else ""
    stored_hours = client.business_hours or {}
    for day in DAYS:
        stored = hours_text(stored_hours.get(day))
        values[f"hours_{day}"] = form.get(f"hours_{day}", "") if form is not None else stored
    values["always_open"] = (
        "always_open" in form if form is not None else client.business_hours is None
    )
    return values


def _client_page(client: Client, status: int = 200):
    return render_template(
        "settings_client.html",
        client=client,
        v=_client_values(client),
        boxes=_client_boxes(),
        locked=_locked("client"),
        states=consent.STATES,
        all_party=consent.ALL_PARTY_STATES,
        modes=CONSENT_MODES,
        explanation=consent.explain(client),
        default_notice=DEFAULT_NOTICE,
        days=DAYS,
    ), status


@bp.route("/dashboard/settings/clients/<int:client_id>", methods=["GET", "POST"])
@login_required(*EDITORS)
def edit_client(client_id: int):
    """A client's settings: recording and its notice, consent, hours, HIPAA mode."""
    client = owned(Client, client_id)
    if request.method == "GET":
        return _client_page(client)
    schema = ClientPatch()
    try:
        sent = form_data(schema, _client_boxes(), extra=HOURS_FIELDS, locked=_locked("client"))
        data = schema.load({**sent, "business_hours": hours_from_form()})
    except ValidationError as exc:
        flash_invalid(exc)
        return _client_page(client, 422)
    try:
        configuration.update_client(get_db(), current_principal(), client, data)
    except REFUSED as exc:
        return _client_page(client, flash_refusal(exc))
    flash("Client saved.", "success")
    return redirect(url_for("dashboard.edit_client", client_id=client.id))


SITE_BOXES = ("honor_dnt", "share_subdomains")


@bp.post("/dashboard/settings/sites")
@login_required(*EDITORS)
def create_site():
    """Create a site for one of the user's clients."""
    data = load_form(SiteIn(), checkboxes=SITE_BOXES)
    if data is not None:
        try:
            site = configuration.create_site(get_db(), current_principal(), data)
        except REFUSED as exc:
            flash(str(exc), "error")
        else:
            flash(f"Site “{site.name}” created.", "success")
            return redirect(url_for("dashboard.edit_site", site_id=site.id))
    return redirect(url_for("dashboard.settings"))


@bp.route("/dashboard/settings/sites/<int:site_id>", methods=["GET", "POST"])
@login_required(*EDITORS)
def edit_site(site_id: int):
    """A site's settings."""
    site = owned(Site, site_id)
    if request.method == "POST":
        data = load_form(SitePatch(), checkboxes=SITE_BOXES)
        if data is not None:
            try:
                configuration.update_site(get_db(), current_principal(), site, data)
            except REFUSED as exc:
                flash(str(exc), "error")
            else:
                flash("Site saved.", "success")
        return redirect(url_for("dashboard.edit_site", site_id=site.id))
    return render_template("settings_site.html", site=site, policies=EXHAUSTION_POLICIES)


@bp.post("/dashboard/settings/pools")
@login_required(*EDITORS)
def create_pool():
    """Create a pool on one of the user's sites."""
    data = load_form(PoolIn(), locked=_locked("pool"))
    if data is not None:
        try:
            pool = configuration.create_pool(get_db(), current_principal(), data)
        except REFUSED as exc:
            flash(str(exc), "error")
        else:
            flash("Pool created. Add its numbers below.", "success")
            return redirect(url_for("dashboard.edit_pool", pool_id=pool.id))
    return _back(url_for("dashboard.settings"))


@bp.route("/dashboard/settings/pools/<int:pool_id>", methods=["GET", "POST"])
@login_required(*EDITORS)
def edit_pool(pool_id: int):
    """A pool's settings and numbers."""
    pool = owned(Pool, pool_id)
    if request.method == "POST":
        data = load_form(PoolPatch(), locked=_locked("pool"))
        if data is not None:
            try:
                configuration.update_pool(get_db(), current_principal(), pool, data)
            except REFUSED as exc:
                flash(str(exc), "error")
            else:
                flash("Pool saved.", "success")
        return redirect(url_for("dashboard.edit_pool", pool_id=pool.id))
    return render_template(
        "settings_pool.html",
        pool=pool,
        policies=EXHAUSTION_POLICIES,
        import_errors=None,
        locked=_locked("pool"),
        **_autosize_context(pool),
        **_numbers_page(pool),
    )


NUMBERS_PER_PAGE = 50


def _numbers_page(pool: Pool) -> dict[str, Any]:
    """One page of the pool's numbers, in number order (``?page=``, 50 a page)."""
    db = get_db()
    total = db.scalar(
        select(func.count()).select_from(TrackingNumber).where(TrackingNumber.pool_id == pool.id)
    )
    pages = max(1, -(-total // NUMBERS_PER_PAGE))
    raw = request.args.get("page", "1")
    page = min(int(raw), pages) if raw.isdigit() and int(raw) >= 1 else 1
    shown = db.scalars(
        select(TrackingNumber)
        .where(TrackingNumber.pool_id == pool.id)
        .order_by(TrackingNumber.number, TrackingNumber.id)
        .offset((page - 1) * NUMBERS_PER_PAGE)
        .limit(NUMBERS_PER_PAGE)
    ).all()
    return {"numbers": shown, "total": total, "page": page, "pages": pages}


def _autosize_context(pool: Pool) -> dict[str, Any]:
    from ringtrail.context import setting
    from ringtrail.reports.autosizing import Price

    try:
        price = Price.parse(setting("NUMBER_MONTHLY_PRICE")).text()
    except ValueError:
        price = str(setting("NUMBER_MONTHLY_PRICE"))
    return {
        "autosize": pool_autosize.settings_of(get_db(), pool),
        "admin": current_principal().is_agency_admin,
        "price": price,
    }


def _autosize_form(admin: bool) -> dict[str, Any]:
    """The autosizing form as typed values; Invalid names a field that is not a number."""
    form = request.form
    try:
        hours = form.get("cooldown_hours", "").strip()
        data: dict[str, Any] = {"cooldown_seconds": round(float(hours) * 3600)} if hours else {}
        if not admin:
            return data
        data["enabled"] = form.get("enabled") == "1"
        data["dry_run"] = form.get("dry_run") == "1"
        if (target := form.get("target_overflow", "").strip()) != "":
            data["target_overflow"] = float(target) / 100
        for name in ("min_numbers", "max_numbers"):
            if (value := form.get(name, "").strip()) != "":
                data[name] = int(value)
        cap = form.get("monthly_cap", "").strip()
        data["monthly_cap_minor"] = None
        if cap:
            from decimal import Decimal

            minor = Decimal(cap) * 100
            if minor != minor.to_integral_value():
                raise ValueError(cap)
            data["monthly_cap_minor"] = int(minor)
        if currency := form.get("currency", "").strip():
            data["currency"] = currency
    except (ValueError, ArithmeticError):
        raise Invalid("the autosizing form needs numbers (a cap like 50.00)") from None
    if any(
        v != v or v in (float("inf"), float("-inf")) for v in data.values() if isinstance(v, float)
    ):
        raise Invalid("the autosizing form needs numbers (a cap like 50.00)")
    return data


@bp.post("/dashboard/settings/pools/<int:pool_id>/autosizing")
@login_required(*EDITORS)
def edit_autosizing(pool_id: int):
    """A pool's autosizing settings (what spends money: agency admins)."""
    pool = owned(Pool, pool_id)
    try:
        data = _autosize_form(current_principal().is_agency_admin)
        pool_autosize.update(get_db(), current_principal(), pool, data)
    except REFUSED as exc:
        flash(str(exc), "error")
    else:
        flash("Autosizing saved.", "success")
    return redirect(url_for("dashboard.edit_pool", pool_id=pool.id) + "#autosizing")


@bp.post("/dashboard/settings/pools/<int:pool_id>/numbers")
@login_required(*EDITORS)
def add_number(pool_id: int):
    """Add one number to a pool."""
    pool = owned(Pool, pool_id)
    form = NumberIn()
    try:
        data = form.load({**form_data(form, locked=_locked("number")), "pool_id": pool.id})
    except ValidationError as exc:
        for name, reasons in exc.normalized_messages().items():
            flash(f"{name}: {'; '.join(map(str, reasons))}", "error")
    else:
        try:
            number = configuration.add_number(get_db(), current_principal(), data)
        except REFUSED as exc:
            flash(str(exc), "error")
        else:
            flash(f"{number.number} added.", "success")
    return redirect(url_for("dashboard.edit_pool", pool_id=pool.id))


@bp.post("/dashboard/settings/pools/<int:pool_id>/import")
@login_required(*EDITORS)
def import_pool_numbers(pool_id: int):
    """Import numbers pasted as CSV: all rows, or none."""
    pool = owned(Pool, pool_id)
    text = request.form.get("csv", "")
    try:
        result = import_numbers(get_db(), current_principal(), pool, text)
    except ImportRejected as exc:
        flash(str(exc), "error")
        return render_template(
            "settings_pool.html",
            pool=pool,
            policies=EXHAUSTION_POLICIES,
            import_errors=exc.rows,
            csv=text,
            locked=_locked("pool"),
            **_autosize_context(pool),
            **_numbers_page(pool),
        ), 422
    except REFUSED as exc:
        flash(str(exc), "error")
    else:
        flash(
            f"Imported {plural(result.imported, 'number')}; {result.unchanged} already here.",
            "success",
        )
    return redirect(url_for("dashboard.edit_pool", pool_id=pool.id))


@bp.post("/dashboard/settings/numbers/<int:number_id>")
@login_required(*EDITORS)
def update_number(number_id: int):
    """Change one number's recording override (inherit, on or off)."""
    number = owned(TrackingNumber, number_id)
    data = load_form(NumberPatch(), locked=_locked("number"))
    if data is not None:
        try:
            configuration.update_number(get_db(), current_principal(), number, data)
        except REFUSED as exc:
            flash(str(exc), "error")
        else:
            flash(f"{number.number} saved.", "success")
    return redirect(url_for("dashboard.edit_pool", pool_id=number.pool_id))


@bp.post("/dashboard/settings/numbers/<int:number_id>/delete")
@login_required(*EDITORS)
def delete_number(number_id: int):
    """Remove a number from its pool."""
    number = owned(TrackingNumber, number_id)
    pool_id = number.pool_id
    configuration.delete_number(get_db(), current_principal(), number)
    flash(f"{number.number} removed.", "success")
    return redirect(url_for("dashboard.edit_pool", pool_id=pool_id))


# What the pool page's bulk form may do to the chosen numbers, as a change to each.
BULK_CHANGES: dict[str, dict[str, Any]] = {
    "activate": {"active": True},
    "deactivate": {"active": False},
    "record_inherit": {"record_calls": None},
    "record_on": {"record_calls": True},
    "record_off": {"record_calls": False},
}
BULK_ACTIONS = (*BULK_CHANGES, "source", "remove", "release")
MAX_BULK = 500


def _chosen_ids() -> list[int]:
    raw = request.form.getlist("ids")
    if len(raw) > MAX_BULK or not all(v.isdigit() for v in raw):
        raise Invalid(f"choose up to {MAX_BULK} numbers from the list")
    return [int(v) for v in raw]


@bp.post("/dashboard/settings/pools/<int:pool_id>/numbers/bulk")
@login_required(*EDITORS)
def bulk_numbers(pool_id: int):
    """One action on the chosen numbers of a pool: all of them, or none."""
    pool = owned(Pool, pool_id)
    action = request.form.get("action", "")
    page = request.form.get("page", "1")
    back = url_for("dashboard.edit_pool", pool_id=pool.id, page=page if page.isdigit() else 1)
    db, p = get_db(), current_principal()
    try:
        if action not in BULK_ACTIONS:
            raise Invalid("choose what to do with the chosen numbers")
        numbers = configuration.pool_numbers(db, pool, _chosen_ids())
        shown = len(numbers)
        if action == "remove":
            configuration.delete_numbers(db, p, numbers)
            flash(f"Removed {plural(shown, 'number')} from the pool.", "success")
        elif action == "release":
            _release_all(numbers)
        else:
            change = BULK_CHANGES.get(action)
            if change is None:  # "source": the fixed numbers' source label
                sent = {"source": request.form.get("source", "").strip() or None}
                change = NumberPatch().load(sent)
            changed = configuration.update_numbers(db, p, numbers, change)
            flash(f"Changed {plural(changed, 'number')} of {shown} chosen.", "success")
    except ValidationError as exc:
        flash_invalid(exc)
    except REFUSED as exc:
        flash(str(exc), "error")
    return redirect(back + "#numbers")


def _release_all(numbers: list[TrackingNumber]) -> None:
    """Release each number to the carrier, in order, until one is refused (those before
    it are gone: the carrier cannot take a release back); says which, and why."""
    from ringtrail.accounts import carrier_numbers

    done = 0
    for number in numbers:
        try:
            carrier_numbers.release(get_db(), current_principal(), number)
        except (*REFUSED, Unavailable) as exc:
            flash(
                f"Released {plural(done, 'number')} to Twilio; {number.number} was refused: {exc}",
                "error",
            )
            return
        done += 1
    flash(f"Released {plural(done, 'number')} to Twilio.", "success")
