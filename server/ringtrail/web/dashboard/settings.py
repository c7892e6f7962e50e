"""The dashboard for people: login and logout, settings, users and API keys.

Report pages live in ``reportpages.py``; every page extends ``templates/base.html``.
Forms are validated by the same schemas as the admin API and changed through the same
functions (``admin.py``), so both doors accept and refuse the same things.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError, fields
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ringtrail.accounts import audit, ratelimit
from ringtrail.accounts import configuration as admin
from ringtrail.accounts.audit import describe
from ringtrail.accounts.auth import (
    current_principal,
    login_required,
    login_user,
    logout_user,
    safe_next,
    verify_password,
)
from ringtrail.accounts.numbers_import import ImportRejected, import_numbers
from ringtrail.accounts.tenancy import get_or_404, guard_view_args, scoped
from ringtrail.errors import BadInput
from ringtrail.storage.models import (
    EXHAUSTION_POLICIES,
    ROLES,
    ApiKey,
    AuditEntry,
    Client,
    Pool,
    Site,
    TrackingNumber,
    User,
)
from ringtrail.storage.sql import get_db
from ringtrail.telephony import consent
from ringtrail.web.schemas import (
    DAYS,
    ClientIn,
    ClientPatch,
    KeyIn,
    NumberIn,
    NumberPatch,
    PoolIn,
    PoolPatch,
    SiteIn,
    SitePatch,
    UserIn,
)

bp = Blueprint("dashboard", __name__)

EDITORS = ("agency_admin", "client_manager")
LOGIN_LIMITS = [(900, 10)]  # failed logins per email per 15 minutes


@bp.before_request
def _guard() -> None:
    # Objects named in the URL must be the user's; anonymous users are sent to /login
    # by login_required instead.
    if request.view_args and current_principal() is not None:
        guard_view_args(request.view_args)


@bp.after_request
def _no_store(response):
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def form_data(schema: Schema, checkboxes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The form's fields that ``schema`` knows, typed for it (HTML forms send only text)."""
    data: dict[str, Any] = {}
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        if name in checkboxes:
            data[name] = name in request.form
            continue
        if name not in request.form:
            continue
        value = request.form.get(name, "")
        if isinstance(field, fields.Integer):
            if value.strip() == "" and field.allow_none:
                data[name] = None
                continue
            try:
                value = int(value)
            except ValueError:
                raise ValidationError({name: ["must be a whole number"]}) from None
        elif isinstance(field, fields.List):
            value = [line.strip() for line in value.splitlines() if line.strip()]
        elif value == "" and field.allow_none:
            value = None
        data[name] = value
    return data


def flash_invalid(exc: ValidationError) -> None:
    """Flash each field's reasons, one message per field."""
    for name, reasons in exc.normalized_messages().items():
        flash(f"{name.replace('_', ' ')}: {'; '.join(map(str, reasons))}", "error")


def _load(schema: Schema, checkboxes: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Validated form data, or None with the reasons flashed."""
    try:
        return schema.load(form_data(schema, checkboxes))
    except ValidationError as exc:
        flash_invalid(exc)
        return None


# -- login ------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; on success, go where the user was headed (or the overview)."""
    next_url = safe_next(request.args.get("next")) or "/dashboard"
    if request.method == "GET":
        if current_principal() is not None:
            return redirect(next_url)
        return render_template("login.html", error=None, email="", next=next_url)
    email = (request.form.get("email") or "").strip().lower()[:254]
    password = request.form.get("password") or ""
    throttle = ratelimit.hit(f"login:{email}", LOGIN_LIMITS) if email else None
    if throttle is not None and not throttle.allowed:
        minutes = max(1, throttle.retry_after // 60)
        error = f"Too many attempts. Try again in {minutes} minute(s)."
        return render_template("login.html", error=error, email=email, next=next_url), 429
    db = get_db()
    user = db.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    if not verify_password(user, password[:1000]):
        audit.record_now(
            "login_failed",
            "user",
            user.id if user else None,
            {"email": email},
            agency_id=user.agency_id if user else None,
        )
        error = "Wrong email or password."
        return render_template("login.html", error=error, email=email, next=next_url), 401
    login_user(user)
    db.commit()
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """End the session (a POST with the CSRF token, so no page can log you out)."""
    logout_user()
    return redirect(url_for("dashboard.login"))


# -- settings: clients, sites, pools, numbers ---------------------------------------------


@bp.get("/dashboard/settings")
@login_required(*EDITORS)
def settings():
    """Sites, pools and numbers of the clients the user may see."""
    db = get_db()
    clients = db.scalars(
        scoped(select(Client), Client)
        .options(selectinload(Client.sites).selectinload(Site.pools))
        .order_by(Client.name, Client.id)
    ).all()
    counts = dict(
        db.execute(
            select(Pool.id, func.count())
            .join(Pool.numbers)
            .where(Pool.id.in_(scoped(select(Pool.id), Pool)))
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
    data = _load(ClientIn(), checkboxes=("record_calls",))
    if data is not None:
        try:
            client = admin.create_client(get_db(), current_principal(), data)
        except BadInput as exc:
            flash(str(exc), "error")
        else:
            flash(f"Client “{client.name}” created.", "success")
            return redirect(url_for("dashboard.edit_client", client_id=client.id))
    return redirect(url_for("dashboard.settings"))


# Client settings that are checkboxes on the client's form.
CLIENT_BOXES = ("record_calls", "transcribe", "whisper", "voicemail", "hipaa", "suspended")
CLIENT_TEXT = ("name", "business_number", "timezone", "us_state", "recording_notice")
CLIENT_TEXT += ("consent_mode", "after_hours_number", "voicemail_prompt")


def _client_boxes(client: Client) -> tuple[str, ...]:
    """The checkboxes this person may change: suspending, and ending HIPAA mode, are for
    agency admins (a client manager may turn HIPAA mode on, the safer direction)."""
    p = current_principal()
    boxes = [b for b in CLIENT_BOXES if b != "suspended" or p.is_agency_admin]
    if client.hipaa and not p.is_agency_admin:
        boxes.remove("hipaa")
    return tuple(boxes)


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
    if form is not None and "hipaa" not in _client_boxes(client):
        values["hipaa"] = client.hipaa
    if form is not None and "suspended" not in _client_boxes(client):
        values["suspended"] = client.suspended
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
        boxes=_client_boxes(client),
        states=consent.STATES,
        all_party=consent.ALL_PARTY_STATES,
        modes=consent.CONSENT_MODES,
        explanation=consent.explain(client),
        default_notice=consent.DEFAULT_NOTICE,
        days=DAYS,
    ), status


@bp.route("/dashboard/settings/clients/<int:client_id>", methods=["GET", "POST"])
@login_required(*EDITORS)
def edit_client(client_id: int):
    """A client's settings: recording and its notice, consent, hours, HIPAA mode."""
    client = get_or_404(Client, client_id)
    if request.method == "GET":
        return _client_page(client)
    schema = ClientPatch()
    try:
        data = schema.load(
            {**form_data(schema, _client_boxes(client)), "business_hours": hours_from_form()}
        )
    except ValidationError as exc:
        flash_invalid(exc)
        return _client_page(client, 422)
    try:
        admin.update_client(get_db(), current_principal(), client, data)
    except BadInput as exc:
        flash(str(exc), "error")
        return _client_page(client, exc.status if 400 <= exc.status < 500 else 422)
    flash("Client saved.", "success")
    return redirect(url_for("dashboard.edit_client", client_id=client.id))


@bp.post("/dashboard/settings/sites")
@login_required(*EDITORS)
def create_site():
    """Create a site for one of the user's clients."""
    data = _load(SiteIn(), checkboxes=("honor_dnt",))
    if data is not None:
        site = admin.create_site(get_db(), current_principal(), data)
        flash(f"Site “{site.name}” created.", "success")
        return redirect(url_for("dashboard.edit_site", site_id=site.id))
    return redirect(url_for("dashboard.settings"))


@bp.route("/dashboard/settings/sites/<int:site_id>", methods=["GET", "POST"])
@login_required(*EDITORS)
def edit_site(site_id: int):
    """A site's settings."""
    site = get_or_404(Site, site_id)
    if request.method == "POST":
        data = _load(SitePatch(), checkboxes=("honor_dnt",))
        if data is not None:
            admin.update_site(get_db(), current_principal(), site, data)
            flash("Site saved.", "success")
        return redirect(url_for("dashboard.edit_site", site_id=site.id))
    return render_template("settings_site.html", site=site, policies=EXHAUSTION_POLICIES)


@bp.post("/dashboard/settings/pools")
@login_required(*EDITORS)
def create_pool():
    """Create a pool on one of the user's sites."""
    data = _load(PoolIn())
    if data is not None:
        pool = admin.create_pool(get_db(), current_principal(), data)
        flash("Pool created. Add its numbers below.", "success")
        return redirect(url_for("dashboard.edit_pool", pool_id=pool.id))
    return _back(url_for("dashboard.settings"))


@bp.route("/dashboard/settings/pools/<int:pool_id>", methods=["GET", "POST"])
@login_required(*EDITORS)
def edit_pool(pool_id: int):
    """A pool's settings and numbers."""
    pool = get_or_404(Pool, pool_id)
    if request.method == "POST":
        data = _load(PoolPatch())
        if data is not None:
            try:
                admin.update_pool(get_db(), current_principal(), pool, data)
            except BadInput as exc:
                flash(str(exc), "error")
            else:
                flash("Pool saved.", "success")
        return redirect(url_for("dashboard.edit_pool", pool_id=pool.id))
    return render_template(
        "settings_pool.html", pool=pool, policies=EXHAUSTION_POLICIES, import_errors=None
    )


@bp.post("/dashboard/settings/pools/<int:pool_id>/numbers")
@login_required(*EDITORS)
def add_number(pool_id: int):
    """Add one number to a pool."""
    pool = get_or_404(Pool, pool_id)
    form = NumberIn()
    try:
        data = form.load({**form_data(form), "pool_id": pool.id})
    except ValidationError as exc:
        for name, reasons in exc.normalized_messages().items():
            flash(f"{name}: {'; '.join(map(str, reasons))}", "error")
    else:
        try:
            number = admin.add_number(get_db(), current_principal(), data)
        except BadInput as exc:
            flash(str(exc), "error")
        else:
            flash(f"{number.number} added.", "success")
    return redirect(url_for("dashboard.edit_pool", pool_id=pool.id))


@bp.post("/dashboard/settings/pools/<int:pool_id>/import")
@login_required(*EDITORS)
def import_pool_numbers(pool_id: int):
    """Import numbers pasted as CSV: all rows, or none."""
    pool = get_or_404(Pool, pool_id)
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
        ), 422
    except BadInput as exc:
        flash(str(exc), "error")
    else:
        flash(f"Imported {result.imported} number(s); {result.unchanged} already here.", "success")
    return redirect(url_for("dashboard.edit_pool", pool_id=pool.id))


@bp.post("/dashboard/settings/numbers/<int:number_id>")
@login_required(*EDITORS)
def update_number(number_id: int):
    """Change one number's recording override (inherit, on or off)."""
    number = get_or_404(TrackingNumber, number_id)
    data = _load(NumberPatch())
    if data is not None:
        try:
            admin.update_number(get_db(), current_principal(), number, data)
        except BadInput as exc:
            flash(str(exc), "error")
        else:
            flash(f"{number.number} saved.", "success")
    return redirect(url_for("dashboard.edit_pool", pool_id=number.pool_id))


@bp.post("/dashboard/settings/numbers/<int:number_id>/delete")
@login_required(*EDITORS)
def delete_number(number_id: int):
    """Remove a number from its pool."""
    number = get_or_404(TrackingNumber, number_id)
    pool_id = number.pool_id
    admin.delete_number(get_db(), current_principal(), number)
    flash(f"{number.number} removed.", "success")
    return redirect(url_for("dashboard.edit_pool", pool_id=pool_id))


# -- users and keys ---------------------------------------------------------------------


def _access_page(new_key: str | None = None) -> str:
    db = get_db()
    return render_template(
        "settings_access.html",
        users=db.scalars(scoped(select(User).order_by(User.email), User)).all(),
        keys=db.scalars(scoped(select(ApiKey).order_by(ApiKey.id.desc()), ApiKey)).all(),
        clients=db.scalars(scoped(select(Client).order_by(Client.name), Client)).all(),
        entries=[
            describe(e)
            for e in db.scalars(
                scoped(select(AuditEntry), AuditEntry).order_by(AuditEntry.id.desc()).limit(50)
            )
        ],
        roles=ROLES,
        new_key=new_key,
    )


@bp.get("/dashboard/access")
@login_required("agency_admin")
def access():
    """Users, API keys and the recent audit log of the agency."""
    return _access_page()


@bp.post("/dashboard/access/users")
@login_required("agency_admin")
def create_user():
    """Invite a user with a first password."""
    data = _load(UserIn())
    if data is not None:
        try:
            user = admin.create_user(get_db(), current_principal(), data)
        except BadInput as exc:
            flash(str(exc), "error")
        else:
            flash(f"User {user.email} created.", "success")
    return redirect(url_for("dashboard.access"))


@bp.post("/dashboard/access/users/<int:user_id>/active")
@login_required("agency_admin")
def toggle_user(user_id: int):
    """Deactivate or reactivate a user; their sessions end at once."""
    user = get_or_404(User, user_id)
    try:
        admin.update_user(get_db(), current_principal(), user, {"active": not user.active})
    except BadInput as exc:
        flash(str(exc), "error")
    else:
        flash(f"{user.email} is now {'active' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("dashboard.access"))


@bp.post("/dashboard/access/keys")
@login_required("agency_admin")
def create_key():
    """Create an API key and show it, this once."""
    data = _load(KeyIn())
    if data is None:
        return redirect(url_for("dashboard.access"))
    key, raw = admin.create_key(get_db(), current_principal(), data)
    flash(f"Key “{key.name}” created. Copy it now: it will not be shown again.", "success")
    # The key is rendered into this one answer; never into a URL, a log or the session.
    return _access_page(new_key=raw)


@bp.post("/dashboard/access/keys/<int:key_id>/revoke")
@login_required("agency_admin")
def revoke_key(key_id: int):
    """Revoke a key with immediate effect."""
    key = admin.revoke_key(get_db(), current_principal(), get_or_404(ApiKey, key_id))
    flash(f"Key {key.prefix}… revoked.", "success")
    return redirect(url_for("dashboard.access"))
