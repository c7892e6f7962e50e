"""Dashboard pages that show reports: overview, client view, call log, pool health, embed.

Every view asks :mod:`ringtrail.accounts.tenancy` what the logged-in person may see and
passes only those client ids to :mod:`ringtrail.reports.queries`; a client, call or pool
of another tenant is a 404 through ``tenancy.get_or_404`` (which audits the attempt).
Charts are inline SVG drawn here, so the pages need no JavaScript; ``static/reports.js``
only adds "copy" to the embed page. Stored URLs, referrers and UTM values are strangers'
text: templates autoescape them, and only http(s) URLs ever become links (:func:`safe_href`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import redis
from flask import current_app, render_template, request
from sqlalchemy import select

from ringtrail import phones
from ringtrail.accounts import first_run, pool_autosize, tenancy
from ringtrail.calls.records import candidate_visits
from ringtrail.errors import Invalid
from ringtrail.reports import autosizer, exports
from ringtrail.reports import queries as reports
from ringtrail.reports.queries import DIMENSIONS, Period
from ringtrail.reports.sizing import DEFAULT_VISIT_SECONDS
from ringtrail.storage.models import Call, Client, Pool, Site
from ringtrail.storage.sql import get_db
from ringtrail.telephony import consent
from ringtrail.terms import CONFIDENCES, EDITORS, UNROUTED
from ringtrail.terms import ROUTE_LABELS as TERSE_ROUTES
from ringtrail.tracking.pool import get_pools
from ringtrail.web.dashboard.blueprints import reports as bp
from ringtrail.web.login import current_principal, login_required, owned
from ringtrail.web.responses import csv_response

RANGES = (7, 30, 90)
DEFAULT_DAYS = 30
OVERFLOW_TARGETS = (0.005, 0.01, 0.02, 0.05)
PER_PAGE = 50
ROUTE_LABELS = {
    "normal": "Normal",
    "overflow": "Overflow number (the pool was exhausted)",
    "after_hours": "After hours",
    "voicemail": "Voicemail",
    "unknown_number": "Unknown number (no client): forwarded to the default number",
    "suspended": "Suspended client: forwarded to the default number, not recorded",
    "fallback": "Fallback URL (the voice webhook failed): forwarded, not recorded",
    "unknown": "Unknown-number fallback",
}


# ---------------------------------------------------------------------------- filters


@bp.app_template_filter("safe_href")
def safe_href(url: Any) -> str | None:
    """The URL if it is an absolute http(s) URL, else None: never link ``javascript:``."""
    text = str(url or "").strip()
    if any(ord(c) < 32 for c in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return text
    return None


@bp.app_template_filter("url_path")
def url_path(url: str | None) -> str:
    """The path of an http(s) URL for a narrow column; anything else whole."""
    return reports.path_of(url) if safe_href(url) else str(url or "")


@bp.app_template_filter("url_host")
def url_host(url: str | None) -> str:
    """The host of an http(s) referrer for a narrow column; anything else whole."""
    return reports.domain_of(url) if safe_href(url) else str(url or "")


@bp.app_template_filter("pct")
def pct(value: float | None, digits: int = 0) -> str:
    """0.756 → "76 %"; None → "–"."""
    return "–" if value is None else f"{value * 100:.{digits}f} %"


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """125 → "2:05"; two days and more in days (a cool-down: "7 days"); None → "–"."""
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds >= 2 * 86400:
        days = seconds / 86400
        return f"{days:.0f} days" if seconds % 86400 == 0 else f"{days:.1f} days"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@bp.app_template_filter("phone")
def phone(number: str | None) -> str:
    """An E.164 number in international format for reading; anything else as it is."""
    return phones.international(number)


@bp.app_template_filter("ratio")
def ratio(value: float | None) -> str:
    """A small ratio to three significant digits; None → "–"."""
    return "–" if value is None else f"{value:.3g}"


# ---------------------------------------------------------------------------- scope


@dataclass
class Scope:
    """What the person may see: their clients, by id, with timezones."""

    clients: list[Client]

    @property
    def ids(self) -> list[int]:
        return [c.id for c in self.clients]

    @property
    def timezones(self) -> dict[int, ZoneInfo]:
        return {c.id: reports.zone(c.timezone) for c in self.clients}

    @property
    def tz(self) -> ZoneInfo:
        """One timezone for labels: the client's, or the first client's, or UTC."""
        return reports.zone(self.clients[0].timezone if self.clients else None)


def scope(client: Client | None = None) -> Scope:
    """The clients in view: one (already tenant-checked) or every client the person sees."""
    if client is not None:
        return Scope([client])
    db = get_db()
    clients = db.scalars(
        tenancy.scoped(select(Client), Client, current_principal()).order_by(Client.name, Client.id)
    )
    return Scope(list(clients))


def chosen_client() -> Client | None:
    """The ``client`` query parameter, tenant-checked (404 for another tenant's)."""
    raw = request.args.get("client", "")
    if not raw:
        return None
    return owned(Client, raw)


def period_from_args(tz: ZoneInfo) -> Period:
    """``from`` and ``to`` (YYYY-MM-DD, local days) or ``days``; default the last 30 days."""
    raw_from, raw_to = request.args.get("from", ""), request.args.get("to", "")
    if raw_from or raw_to:
        try:
            start = date.fromisoformat(raw_from) if raw_from else None
            end = date.fromisoformat(raw_to) if raw_to else None
        except ValueError:
            raise Invalid("Dates must look like 2024-05-31.") from None
        today = Period.last_days(1, tz).end
        end = end or today
        start = start or end - timedelta(days=DEFAULT_DAYS - 1)
        try:
            return Period(start, end, tz)
        except ValueError as exc:
            raise Invalid(f"That date range does not work: {exc}.") from None
    days = request.args.get("days", str(DEFAULT_DAYS))
    if not days.isdigit() or not 1 <= int(days) <= reports.MAX_PERIOD_DAYS:
        raise Invalid(f"days must be a whole number from 1 to {reports.MAX_PERIOD_DAYS}.")
    return Period.last_days(int(days), tz)


def choice(name: str, allowed, default: str) -> str:
    """A query parameter that must be one of ``allowed``."""
    value = request.args.get(name, default)
    if value not in allowed:
        raise Invalid(f"{name} must be one of: {', '.join(allowed)}.")
    return value


def page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise Invalid("page must be a whole number from 1.")
    return int(raw)


def overflow_target() -> float:
    raw = request.args.get("overflow", "0.01")
    try:
        value = float(raw)
    except ValueError:
        raise Invalid("The overflow target must be a number such as 0.01.") from None
    if not 0.001 <= value <= 0.5:
        raise Invalid("The overflow target must be between 0.1 % and 50 %.")
    return value


def query_with(**changes: Any) -> str:
    """This page's query string with some parameters changed (None removes one)."""
    args = {k: v for k, v in request.args.items()}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return "?" + urlencode(args) if args else ""


@bp.app_context_processor
def report_helpers() -> dict[str, Any]:
    return {"query_with": query_with, "RANGES": RANGES}


def period_args(period: Period) -> dict[str, str]:
    return {"from": period.start.isoformat(), "to": period.end.isoformat()}


# ---------------------------------------------------------------------------- charts


def day_chart(days: list[reports.DayCount], width: int = 720, height: int = 180) -> dict:
    """Bars of calls per day (answered darker), as coordinates for the SVG template."""
    top = max((d.calls for d in days), default=0) or 1
    pad_left, pad_bottom, pad_top = 32, 22, 8
    inner_w, inner_h = width - pad_left - 4, height - pad_bottom - pad_top
    step = inner_w / max(1, len(days))
    bar = max(1.0, step * 0.72)
    bars = []
    label_every = max(1, round(len(days) / 8))
    for i, d in enumerate(days):
        x = pad_left + i * step + (step - bar) / 2
        h = inner_h * d.calls / top
        ah = inner_h * d.answered / top
        bars.append(
            {
                "x": round(x, 1),
                "w": round(bar, 1),
                "y": round(pad_top + inner_h - h, 1),
                "h": round(h, 1),
                "ay": round(pad_top + inner_h - ah, 1),
                "ah": round(ah, 1),
                "day": d.day,
                "calls": d.calls,
                "answered": d.answered,
                "label": d.day.strftime("%b %-d") if i % label_every == 0 else "",
                "lx": round(x + bar / 2, 1),
            }
        )
    ticks = sorted({0, top // 2, top}) if top > 1 else [0, 1]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "base": pad_top + inner_h,
        "ticks": [
            {"value": t, "y": round(pad_top + inner_h - inner_h * t / top, 1)} for t in ticks
        ],
        "left": pad_left,
        "total": sum(d.calls for d in days),
    }


def source_chart(rows: list[reports.SourceRow], limit: int = 8) -> dict:
    """Horizontal bars of calls for the top rows of the source report."""
    shown = [r for r in rows if r.calls][:limit]
    top = max((r.calls for r in shown), default=0) or 1
    row_h, label_w, width = 28, 180, 720
    return {
        "width": width,
        "height": row_h * len(shown) + 4,
        "label_w": label_w,
        "bars": [
            {
                "y": i * row_h + 4,
                "w": round((width - label_w - 60) * r.calls / top, 1),
                "label": r.label,
                "short": r.label if len(r.label) <= 26 else r.label[:25] + "…",
                "calls": r.calls,
                "answered_w": round((width - label_w - 60) * r.answered / top, 1),
            }
            for i, r in enumerate(shown)
        ],
    }


# ---------------------------------------------------------------------------- pages


@bp.get("", strict_slashes=False)
@bp.get("/")
@login_required()
def overview():
    """The agency overview: one line per client, in each client's own days, and the
    first-run checklist until the agency has set up. A client's own people land on
    their client's view instead (no agency table, no agency cards)."""
    principal = current_principal()
    if principal.client_id is not None:
        return client_view(principal.client_id)
    in_view = scope()
    period = period_from_args(in_view.tz)
    rows = reports.overview(get_db(), in_view.clients, period.start, period.end)
    totals = {
        "calls": sum(r.calls for r in rows),
        "answered": sum(r.answered for r in rows),
        "first": sum(r.first_time_callers for r in rows),
        "short": sum(r.pools_short for r in rows),
    }
    return render_template(
        "reports_overview.html",
        rows=rows,
        totals=totals,
        period=period,
        single=principal.client_id is not None,
        first_run=first_run.checklist(get_db(), principal),
    )


@bp.get("/clients/<int:client_id>")
@login_required()
def client_view(client_id: int):
    """One client: summary, charts of calls by source and per day, the source report."""
    client = owned(Client, client_id)
    period = period_from_args(reports.zone(client.timezone))
    dimension = choice("dimension", DIMENSIONS, "source")
    touch = choice("touch", reports.TOUCHES, "last")
    db = get_db()
    report = reports.source_report(db, [client.id], period, dimension, touch)
    by_source = (
        report
        if dimension == "source"
        else reports.source_report(db, [client.id], period, "source", touch)
    )
    days = reports.calls_per_day(db, [client.id], period)
    confidence = reports.calls_by_confidence(db, [client.id], period)
    return render_template(
        "reports_client.html",
        client=client,
        period=period,
        dimension=dimension,
        touch=touch,
        dimensions=DIMENSIONS,
        report=report,
        summary=by_source.total,
        days=day_chart(days),
        sources=source_chart(by_source.rows),
        confidence=confidence,
        counted=dimension in reports.VISIT_DIMENSIONS,
        csv_args={**period_args(period), "dimension": dimension, "touch": touch},
    )


@bp.get("/clients/<int:client_id>/report.csv")
@login_required()
def client_report_csv(client_id: int):
    """The source report as CSV."""
    client = owned(Client, client_id)
    period = period_from_args(reports.zone(client.timezone))
    dimension = choice("dimension", DIMENSIONS, "source")
    touch = choice("touch", reports.TOUCHES, "last")
    report = reports.source_report(get_db(), [client.id], period, dimension, touch)
    header, rows = exports.source_report_rows(report)
    name = f"ringtrail-{client.id}-{dimension}-{touch}-{period.start}-{period.end}.csv"
    return csv_response(name, header, rows)


@bp.get("/clients/<int:client_id>/daily.csv")
@login_required()
def client_daily_csv(client_id: int):
    """Calls per day as CSV."""
    client = owned(Client, client_id)
    period = period_from_args(reports.zone(client.timezone))
    header, rows = exports.series_rows(reports.calls_per_day(get_db(), [client.id], period))
    return csv_response(
        f"ringtrail-{client.id}-daily-{period.start}-{period.end}.csv", header, rows
    )


def _call_filters():
    client = chosen_client()
    in_view = scope(client)
    period = period_from_args(in_view.tz)
    source = request.args.get("source", "").strip()[:100] or None
    confidence = request.args.get("confidence", "") or None
    if confidence is not None and confidence not in CONFIDENCES:
        raise Invalid(f"confidence must be one of: {', '.join(CONFIDENCES)}.")
    return client, in_view, period, source, confidence


def unclaimed_agency(client: Client | None) -> int | None:
    """The agency whose calls of no client the call log shows too: the person's, when they
    see the whole agency and no one client is chosen (a client's people never see them)."""
    p = current_principal()
    return p.agency_id if client is None and p.client_id is None else None


@bp.get("/calls")
@login_required()
def calls():
    """The call log with each call's source, visit and pages viewed."""
    client, in_view, period, source, confidence = _call_filters()
    log = reports.call_log(
        get_db(),
        in_view.ids,
        period,
        source=source,
        confidence=confidence,
        page=page_number(),
        per_page=PER_PAGE,
        timezones=in_view.timezones,
        agency_id=unclaimed_agency(client),
    )
    return render_template(
        "reports_calls.html",
        log=log,
        period=period,
        client=client,
        clients=scope().clients,
        source=source or "",
        confidence=confidence or "",
        confidences=CONFIDENCES,
        timezones=in_view.timezones | {None: period.tz},
        route_labels=TERSE_ROUTES,
        unrouted=UNROUTED,
    )


@bp.get("/calls.csv")
@login_required()
def calls_csv():
    """Every call matching the call log's filters, as CSV."""
    client, in_view, period, source, confidence = _call_filters()
    db = get_db()
    tzs = in_view.timezones | {None: period.tz}
    agency_id = unclaimed_agency(client)

    def rows():
        page = 1
        while True:
            chunk = reports.call_log(
                db,
                in_view.ids,
                period,
                source=source,
                confidence=confidence,
                page=page,
                per_page=1000,
                timezones=in_view.timezones,
                agency_id=agency_id,
            )
            for call, visit, client_name in chunk.rows:
                yield exports.call_row(call, visit, client_name, tzs[call.client_id])
            if page >= chunk.pages:
                return
            page += 1

    name = f"ringtrail-calls-{period.start}-{period.end}.csv"
    return csv_response(name, exports.CALL_HEADER, rows())


@bp.get("/calls/<int:call_id>")
@login_required()
def call_detail(call_id: int):
    """One call: who, when, how it went, and the visit with the pages viewed before it."""
    call = owned(Call, call_id)
    db = get_db()
    client = db.get(Client, call.client_id) if call.client_id else None
    tz = reports.zone(client.timezone if client else None)
    visit = call.visit
    pages = []
    if visit is not None:
        for entry in visit.pages or []:
            if isinstance(entry, list | tuple) and len(entry) >= 2:
                seconds = entry[0] if isinstance(entry[0], int | float) else None
                pages.append({"seconds": seconds, "path": str(entry[1])})
    has_recording = bool(call.recording_sid or call.recording_url)
    state = consent.STATES.get(call.caller_state or "")
    return render_template(
        "reports_call.html",
        call=call,
        client=client,
        visit=visit,
        pages=pages,
        tz=tz,
        has_recording=has_recording,
        # Report-only users see that a recording exists, never a player (nor its URL).
        can_listen=has_recording and current_principal().role in EDITORS,
        route_kind=ROUTE_LABELS.get(call.route_kind, call.route_kind),
        candidates=candidate_visits(db, call),
        caller_state=f"{state[0]} ({call.caller_state})" if state else None,
    )


def live_leases(pool_ids: list[int]) -> dict[int, int] | None:
    """Numbers leased right now per pool, from Redis; None if Redis does not answer."""
    out = {}
    try:
        store = get_pools()
        for pool_id in pool_ids:
            out[pool_id] = store.holder_count(pool_id)
    except (redis.RedisError, OSError):
        current_app.logger.warning("pool health: Redis did not answer; no live counts")
        return None
    return out


@bp.get("/pools")
@login_required()
def pools():
    """Pool health: load against size, exhaustion, confidence, and the Erlang-B size."""
    client = chosen_client()
    in_view = scope(client)
    period = period_from_args(in_view.tz)
    overflow = overflow_target()
    health = reports.pool_health(
        get_db(), in_view.ids, period, overflow, timezones=in_view.timezones
    )
    return render_template(
        "reports_pools.html",
        health=health,
        period=period,
        overflow=overflow,
        targets=OVERFLOW_TARGETS,
        client=client,
        clients=scope().clients,
        live=live_leases([h.pool_id for h in health]),
        timezones=in_view.timezones,
        default_visit=DEFAULT_VISIT_SECONDS,
        autosizing=autosizing_of(get_db(), [h.pool_id for h in health]),
    )


def autosizing_of(db, pool_ids: list[int]) -> dict[int, dict]:
    """Each pool's autosizing settings, last plan, last actions and retiring numbers."""
    actions = autosizer.recent_actions(db, pool_ids)
    out = {}
    for pool_id in pool_ids:
        pool = db.get(Pool, pool_id)
        out[pool_id] = {
            "settings": pool_autosize.settings_of(db, pool),
            "actions": actions[pool_id],
            "retiring": autosizer.retiring_count(db, pool_id),
        }
    return out


@bp.get("/pools.csv")
@login_required()
def pools_csv():
    """Pool health as CSV."""
    client = chosen_client()
    in_view = scope(client)
    period = period_from_args(in_view.tz)
    health = reports.pool_health(
        get_db(), in_view.ids, period, overflow_target(), timezones=in_view.timezones
    )
    header, rows = exports.pool_rows(health)
    return csv_response(f"ringtrail-pools-{period.start}-{period.end}.csv", header, rows)


@bp.get("/embed")
@login_required()
def embed():
    """Each site's snippet tag, ready to copy."""
    db = get_db()
    sites = db.execute(
        tenancy.scoped(
            select(Site, Client.name).join(Client, Client.id == Site.client_id),
            Site,
            current_principal(),
        ).order_by(Client.name, Site.name, Site.id)
    ).all()
    pools_by_site: dict[int, list[Pool]] = {}
    for pool in db.scalars(
        tenancy.scoped(select(Pool), Pool, current_principal()).order_by(Pool.id)
    ):
        pools_by_site.setdefault(pool.site_id, []).append(pool)
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return render_template(
        "reports_embed.html", sites=sites, base=base, pools_by_site=pools_by_site
    )
