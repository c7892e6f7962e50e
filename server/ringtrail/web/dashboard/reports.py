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
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from flask import current_app, render_template, request
from sqlalchemy import select

from ringtrail import phones
from ringtrail.accounts import first_run, pool_autosize, tenancy
from ringtrail.calls.records import candidate_visits
from ringtrail.errors import Invalid
from ringtrail.outbound.platforms import log as uploads_log
from ringtrail.reports import advice, autosizer, calllog, exports, figures, periods
from ringtrail.reports import queries as reports
from ringtrail.reports.outcomes import outcome_figures
from ringtrail.reports.queries import DIMENSIONS, Period
from ringtrail.reports.sizing import DEFAULT_VISIT_SECONDS
from ringtrail.storage.models import Call, Client, Pool, Site
from ringtrail.storage.sql import get_db
from ringtrail.telephony import consent
from ringtrail.terms import (
    CONFIDENCE_LABELS,
    CONFIDENCE_MEANINGS,
    CONFIDENCES,
    EDITORS,
    UNROUTED,
)
from ringtrail.terms import ROUTE_LABELS as TERSE_ROUTES
from ringtrail.web import drilldown
from ringtrail.web.dashboard import charts
from ringtrail.web.dashboard.blueprints import reports as bp
from ringtrail.web.live import live_leases
from ringtrail.web.login import current_principal, login_required, owned
from ringtrail.web.responses import csv_response

RANGES = (7, 30, 90)
OVERFLOW_TARGETS = (0.005, 0.01, 0.02, 0.05)
# The call log's sortable columns, as the sort menu names them.
SORT_LABELS = {
    "started_at": "When",
    "client": "Client",
    "caller": "Caller",
    "tracking": "Tracking number",
    "outcome": "Outcome",
    "duration": "Call length",
    "confidence": "Attribution",
    "source": "Source / medium",
    "campaign": "Campaign",
    "keyword": "Keyword",
    "landing": "Landing page",
    "referrer": "Referrer",
}
PER_PAGE = 50


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


@bp.app_template_filter("days_label")
def days_label(period: Period) -> str:
    """ "1 Mar 2026", or "1 Mar 2026 – 7 Mar 2026" for more than one day."""
    first = period.start.strftime("%-d %b %Y")
    return first if period.end == period.start else f"{first} – {period.end.strftime('%-d %b %Y')}"


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


@bp.app_template_filter("since_landing")
def since_landing(seconds: float | None) -> str:
    """A page's time since landing: 7 → "+0:07", 0.4 → "+0:00.4", 65 → "+1:05"."""
    if seconds is None:
        return ""
    if seconds < 9.95 and not float(seconds).is_integer():
        return f"+0:0{seconds:.1f}"
    return "+" + duration(seconds)


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


def choice_from_args(tz: ZoneInfo) -> periods.Choice:
    """The period and comparison in the query string (``preset``, ``from``/``to``,
    ``days``, ``compare``), by the one rule the API shares; default the last 30 days."""
    args = request.args
    return periods.choose(
        tz,
        preset_name=args.get("preset") or None,
        start=args.get("from") or None,
        end=args.get("to") or None,
        days=args.get("days") or None,
        compare=args.get("compare") or None,
    )


def period_from_args(tz: ZoneInfo) -> Period:
    """The period in the query string (see :func:`choice_from_args`)."""
    return choice_from_args(tz).period


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


# Globals, not context: the shared macros (imported without context) read them.
bp.add_app_template_global(CONFIDENCE_LABELS, "CONFIDENCE_LABELS")
bp.add_app_template_global(CONFIDENCE_MEANINGS, "CONFIDENCE_MEANINGS")


@bp.record_once
def _macro_globals(state) -> None:
    # Globals, not context: the macros in reports_macros.html are imported without the
    # page's context, and read these.
    state.app.jinja_env.globals.update(
        PRESETS=periods.PRESETS,
        COMPARISONS=periods.COMPARISONS,
        change_of=periods.change,
        calls_url=drilldown.calls_url,
    )


def choice_args(chosen: periods.Choice) -> dict[str, str]:
    """The query parameters that choose this period and comparison again."""
    out = {"preset": chosen.preset}
    if chosen.preset == "custom":
        out |= period_args(chosen.period)
    if chosen.compare != "none":
        out["compare"] = chosen.compare
    return out


def period_args(period: Period) -> dict[str, str]:
    return {"from": period.start.isoformat(), "to": period.end.isoformat()}


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
    chosen = choice_from_args(in_view.tz)
    result = figures.overview_figures(get_db(), in_view.clients, chosen)
    names = {
        "calls": "calls",
        "answered": "answered",
        "first": "first_time_callers",
        "short": "pools_short",
    }
    totals = {k: result.total(v) for k, v in names.items()}
    before = (
        None
        if chosen.previous is None
        else {k: result.total(v, before=True) for k, v in names.items()}
    )
    return render_template(
        "reports_overview.html",
        rows=result.rows,
        earlier=result.before,
        totals=totals,
        before=before,
        period=chosen.period,
        chosen=chosen,
        link_args=choice_args(chosen),
        single=principal.client_id is not None,
        first_run=first_run.checklist(get_db(), principal),
    )


@bp.get("/clients/<int:client_id>")
@login_required()
def client_view(client_id: int):
    """One client: cards, calls over time, calls by source, and the source report, each
    compared with the period before (or a year before) when asked."""
    client = owned(Client, client_id)
    chosen = choice_from_args(reports.zone(client.timezone))
    dimension = choice("dimension", DIMENSIONS, "source")
    touch = choice("touch", reports.TOUCHES, "last")
    db = get_db()
    result = figures.source_figures(db, [client.id], chosen, dimension, touch)
    by_source = (
        result
        if dimension == "source"
        else figures.source_figures(db, [client.id], chosen, "source", touch)
    )
    series = figures.series_figures(db, [client.id], chosen)
    confidence = reports.calls_by_confidence(db, [client.id], chosen.period)
    return render_template(
        "reports_client.html",
        client=client,
        period=chosen.period,
        chosen=chosen,
        dimension=dimension,
        touch=touch,
        dimensions=DIMENSIONS,
        report=result.report,
        compared=result,
        outcomes=outcome_figures(db, [client.id], chosen.period, dimension, touch),
        summary=by_source.report.total,
        summary_before=by_source.before.total if by_source.before else None,
        days=charts.day_chart(series.days, series.before),
        sources=charts.source_chart(by_source.report.rows),
        confidence=confidence,
        counted=dimension in reports.VISIT_DIMENSIONS,
        csv_args={**period_args(chosen.period), "dimension": dimension, "touch": touch},
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
    figures = outcome_figures(get_db(), [client.id], period, dimension, touch)
    header, rows = exports.with_outcomes(header, rows, figures)
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
    return client, in_view, period, calllog.parse_filter(request.args)


def per_page_choice() -> int:
    """The page size: one of :data:`calllog.PER_PAGE_CHOICES`."""
    raw = request.args.get("per_page", str(calllog.DEFAULT_PER_PAGE))
    allowed = calllog.PER_PAGE_CHOICES
    if not raw.isdigit() or int(raw) not in allowed:
        raise Invalid(f"per_page must be one of: {', '.join(map(str, allowed))}.")
    return int(raw)


def unclaimed_agency(client: Client | None) -> int | None:
    """The agency whose calls of no client the call log shows too: the person's, when they
    see the whole agency and no one client is chosen (a client's people never see them)."""
    p = current_principal()
    return p.agency_id if client is None and p.client_id is None else None


@bp.get("/calls")
@login_required()
def calls():
    """The call log: search, filters, sorting and page size, all carried in the URL."""
    client, in_view, period, filt = _call_filters()
    log = calllog.call_log(
        get_db(),
        in_view.ids,
        period,
        filt,
        page=page_number(),
        per_page=per_page_choice(),
        timezones=in_view.timezones,
        agency_id=unclaimed_agency(client),
    )
    clients = scope().clients
    return render_template(
        "reports_calls.html",
        log=log,
        period=period,
        client=client,
        clients=clients,
        filt=filt,
        hipaa=any(c.hipaa for c in ([client] if client else clients)),
        confidences=CONFIDENCES,
        per_page_choices=calllog.PER_PAGE_CHOICES,
        sort_labels=SORT_LABELS,
        timezones=in_view.timezones | {None: period.tz},
        route_labels=TERSE_ROUTES,
        unrouted=UNROUTED,
    )


@bp.get("/calls.csv")
@login_required()
def calls_csv():
    """Every call matching the call log's search and filters, in its order, as CSV."""
    client, in_view, period, filt = _call_filters()
    db = get_db()
    tzs = in_view.timezones | {None: period.tz}
    agency_id = unclaimed_agency(client)

    def rows():
        page = 1
        while True:
            chunk = calllog.call_log(
                db,
                in_view.ids,
                period,
                filt,
                page=page,
                per_page=1000,
                timezones=in_view.timezones,
                agency_id=agency_id,
            )
            uploads = uploads_log.summaries(db, [row.call.id for row in chunk.rows])
            for row in chunk.rows:
                cells = exports.call_row(*row, tzs[row.call.client_id])
                yield [*cells, uploads.get(row.call.id, "")]
            if page >= chunk.pages:
                return
            page += 1

    name = f"ringtrail-calls-{period.start}-{period.end}.csv"
    header = (*exports.CALL_HEADER, uploads_log.CSV_HEADER)
    return csv_response(name, header, rows())


def journey(visit) -> list[dict[str, Any]]:
    """The pages of a visit, each with its time since landing and its title."""
    out = []
    for entry in (visit.pages or []) if visit is not None else []:
        if isinstance(entry, list | tuple) and len(entry) >= 2:
            seconds = entry[0] if isinstance(entry[0], int | float) else None
            title = str(entry[2]) if len(entry) > 2 and entry[2] else ""
            out.append({"seconds": seconds, "path": str(entry[1]), "title": title})
    return out


@bp.get("/calls/<int:call_id>")
@login_required()
def call_detail(call_id: int):
    """One call: who, when, how it went, the visit with its pages, the caller's other calls."""
    call = owned(Call, call_id)
    db = get_db()
    client = db.get(Client, call.client_id) if call.client_id else None
    tz = reports.zone(client.timezone if client else None)
    visit = call.visit
    has_recording = bool(call.recording_sid or call.recording_url)
    state = consent.STATES.get(call.caller_state or "")
    return render_template(
        "reports_call.html",
        call=call,
        client=client,
        visit=visit,
        pages=journey(visit),
        tz=tz,
        has_recording=has_recording,
        # Report-only users see that a recording exists, never a player (nor its URL).
        can_listen=has_recording and current_principal().role in EDITORS,
        candidates=candidate_visits(db, call),
        caller_state=f"{state[0]} ({call.caller_state})" if state else None,
        caller_kind=calllog.caller_kind(db, call),
        other_calls=calllog.caller_calls(db, call),
    )


@bp.get("/pools")
@login_required()
def pools():
    """Pool health: what each pool needs, in outcomes; load, exhaustion and the sizing
    behind it one click away."""
    client = chosen_client()
    in_view = scope(client)
    chosen = choice_from_args(in_view.tz)
    overflow = overflow_target()
    health = figures.pool_figures(get_db(), in_view.ids, chosen, overflow, in_view.timezones)
    live = live_leases([h.pool_id for h in health])
    return render_template(
        "reports_pools.html",
        health=health,
        period=chosen.period,
        chosen=chosen,
        overflow=overflow,
        targets=OVERFLOW_TARGETS,
        client=client,
        clients=scope().clients,
        live=live,
        advice={
            h.pool_id: advice.advise(h, None if live is None else live.get(h.pool_id))
            for h in health
        },
        kept=advice.kept_share,
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
