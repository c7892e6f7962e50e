"""Reports API: the overview, the source report, calls over time and pool health.

The same figures as the dashboard and its CSV exports, from the same services
(:mod:`ringtrail.reports.figures`), with the same period rules
(:func:`ringtrail.reports.periods.choose`: presets and custom days in the client's time
zone, and a comparison). Tenancy as everywhere: an agency key sees its clients, a client
key its own client only; another tenant's client is a 404.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ringtrail.accounts.tenancy import scoped
from ringtrail.reports import advice, figures, periods
from ringtrail.reports.outcomes import OutcomeFigures, outcome_figures
from ringtrail.reports.queries import SourceRow, zone
from ringtrail.storage.models import Client
from ringtrail.storage.sql import get_db
from ringtrail.web.api.blueprint import bp, principal
from ringtrail.web.drilldown import calls_url, total_url
from ringtrail.web.live import live_leases
from ringtrail.web.login import owned
from ringtrail.web.report_schemas import (
    OverviewOut,
    PeriodQuery,
    PoolHealthQuery,
    PoolHealthReportOut,
    ScopeQuery,
    SeriesOut,
    SourceQuery,
    SourceReportOut,
)

OVERVIEW_COUNTS = ("calls", "answered", "first_time_callers", "with_click_id", "pools_short")


def choice_of(query: dict[str, Any], tz) -> periods.Choice:
    """The period and comparison asked for, by the dashboard's rules."""
    return periods.choose(
        tz,
        preset_name=query.get("preset"),
        start=query.get("start"),
        end=query.get("end"),
        compare=query.get("compare"),
    )


def period_out(choice: periods.Choice) -> dict[str, Any]:
    p = choice.period
    return {"preset": choice.preset, "start": p.start, "end": p.end, "timezone": p.tz.key}


def comparison_out(choice: periods.Choice) -> dict[str, Any] | None:
    before = choice.previous
    if before is None:
        return None
    return {
        "preset": choice.preset,
        "compare": choice.compare,
        "start": before.start,
        "end": before.end,
        "timezone": before.tz.key,
    }


def clients_in_scope(client_id: int | None) -> list[Client]:
    """The key's clients, or the one asked for (404 if it is not the key's)."""
    if client_id is not None:
        return [owned(Client, client_id)]
    stmt = scoped(select(Client), Client, principal()).order_by(Client.name, Client.id)
    return list(get_db().scalars(stmt))


@bp.get("/reports/overview")
@bp.doc(tags=["reports"])
@bp.arguments(ScopeQuery, location="query")
@bp.response(200, OverviewOut)
def overview(query: dict[str, Any]):
    """Each client's calls, answer rate, first-time callers and matched calls, in its own
    days; with ``compare``, the same for the compared period and the change."""
    clients = clients_in_scope(query.get("client_id"))
    tz = zone(clients[0].timezone if clients else None)
    choice = choice_of(query, tz)
    result = figures.overview_figures(get_db(), clients, choice)
    before = choice.previous
    out_rows = []
    for row in result.rows:
        now = _client_figures(row)
        prev = result.before.get(row.client_id)
        then = _client_figures(prev) if prev else None
        out_rows.append(
            {
                "client_id": row.client_id,
                "name": row.name,
                "timezone": row.timezone,
                "figures": now,
                "previous": then,
                "change": None
                if then is None
                else {
                    k: periods.change(now[k], then[k])
                    for k in ("calls", "answered_rate", "first_time_callers", "matched_rate")
                },
            }
        )
    return {
        "preset": choice.preset,
        "start": choice.period.start,
        "end": choice.period.end,
        "compare": choice.compare,
        "previous_start": before.start if before else None,
        "previous_end": before.end if before else None,
        "clients": out_rows,
        "totals": {k: result.total(k) for k in OVERVIEW_COUNTS},
        "previous_totals": None
        if before is None
        else {k: result.total(k, before=True) for k in OVERVIEW_COUNTS},
    }


def _client_figures(row) -> dict[str, Any]:
    return {
        "calls": row.calls,
        "answered": row.answered,
        "answered_rate": row.answered_rate,
        "first_time_callers": row.first_time_callers,
        "with_click_id": row.with_click_id,
        "matched": row.attributed,
        "matched_rate": row.attributed_rate,
        "top_source": row.top_source,
        "pools_short": row.pools_short,
    }


@bp.get("/reports/clients/<int:client_id>/sources")
@bp.doc(tags=["reports"])
@bp.arguments(SourceQuery, location="query")
@bp.response(200, SourceReportOut)
def sources(query: dict[str, Any], client_id: int):
    """The source report of one client: calls, callers, answer rate, visits and the share
    of visits that called, by source, medium, campaign, keyword or landing page, on the
    last or the first touch; each row's outcomes (qualified leads, value, calls by tag),
    and the blocked calls of the period, kept apart as in the CSV."""
    client = owned(Client, client_id)
    choice = choice_of(query, zone(client.timezone))
    dimension, touch = query["dimension"], query["touch"]
    result = figures.source_figures(get_db(), [client.id], choice, dimension, touch)
    outcomes = outcome_figures(get_db(), [client.id], choice.period, dimension, touch)

    def row_out(row: SourceRow, url: str | None, outcome: OutcomeFigures) -> dict[str, Any]:
        now = figures.row_values(row)
        before = None if result.before is None else figures.row_values(result.before_row(row.label))
        return {
            "label": row.label,
            "calls_url": url,
            "figures": now,
            "previous": before or None,
            "change": None if before is None else figures.changes(now, before),
            "outcomes": outcome_out(outcome),
        }

    period = choice.period
    return {
        "client_id": client.id,
        "dimension": dimension,
        "touch": touch,
        "period": period_out(choice),
        "comparison": comparison_out(choice),
        "rows": [
            row_out(
                r, calls_url(client.id, period, dimension, r.label, touch), outcomes.row(r.label)
            )
            for r in result.report.rows
        ],
        "total": row_out(result.report.total, total_url(client.id, period), outcomes.total),
        "blocked_calls": outcomes.blocked,
    }


def outcome_out(outcome: OutcomeFigures) -> dict[str, Any]:
    """A row's outcomes as the CSV's outcome columns give them, in numbers."""
    return {
        "qualified_leads": outcome.qualified,
        "value": [
            {"currency": currency, "amount_minor": minor}
            for currency, minor in sorted(outcome.value.items())
        ],
        "calls_by_tag": dict(sorted(outcome.tags.items(), key=lambda item: (-item[1], item[0]))),
    }


@bp.get("/reports/clients/<int:client_id>/calls-over-time")
@bp.doc(tags=["reports"])
@bp.arguments(PeriodQuery, location="query")
@bp.response(200, SeriesOut)
def calls_over_time(query: dict[str, Any], client_id: int):
    """Calls and answered calls per local day; with ``compare``, the compared days too."""
    client = owned(Client, client_id)
    choice = choice_of(query, zone(client.timezone))
    series = figures.series_figures(get_db(), [client.id], choice)
    return {
        "client_id": client.id,
        "period": period_out(choice),
        "comparison": comparison_out(choice),
        "days": series.days,
        "previous": series.before,
    }


@bp.get("/reports/pools")
@bp.doc(tags=["reports"])
@bp.arguments(PoolHealthQuery, location="query")
@bp.response(200, PoolHealthReportOut)
def pools(query: dict[str, Any]):
    """Pool health: load, numbers leased now, and the numbers each pool needs to keep
    the target share of calls matched to a visit."""
    clients = clients_in_scope(query.get("client_id"))
    tz = zone(clients[0].timezone if clients else None)
    choice = choice_of(query, tz)
    timezones = {c.id: zone(c.timezone) for c in clients}
    health = figures.pool_figures(
        get_db(), [c.id for c in clients], choice, query["overflow"], timezones
    )
    live = live_leases([h.pool_id for h in health])
    out = []
    for h in health:
        now = None if live is None else live.get(h.pool_id)
        said = advice.advise(h, now)
        out.append(
            {
                **{k: getattr(h, k) for k in PLAIN_POOL_FIELDS},
                "leased_now": now,
                "recommended": h.recommended,
                "needed": said.needed,
                "change": said.change,
                "advice": said.text,
                "expected_overflow": round(h.expected_overflow, 6),
            }
        )
    return {"period": period_out(choice), "pools": out}


PLAIN_POOL_FIELDS = (
    "pool_id",
    "name",
    "site",
    "client",
    "client_id",
    "size",
    "overflow",
    "peak_leases",
    "average_leases",
    "new_leases",
    "exhausted",
    "peak_hour",
    "peak_arrivals",
    "hold_seconds",
    "load",
    "calls",
    "confidence",
)
