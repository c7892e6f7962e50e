"""Report figures with their comparison: the one source of the dashboard, the reports
API and the CSV exports, so the three always show the same numbers.

Each function runs the report queries (:mod:`ringtrail.reports.queries`) for the period
chosen and, when a comparison is chosen, once more for the period it is compared with.
The rows' figures are named once here (:data:`SOURCE_FIELDS`), in the order the CSV
writes them and with the names the API answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ringtrail.reports import queries
from ringtrail.reports.periods import Choice, change
from ringtrail.reports.queries import (
    DEFAULT_OVERFLOW,
    ClientSummary,
    DayCount,
    PoolHealth,
    SourceReport,
    SourceRow,
)
from ringtrail.storage.models import Client

# (API name, CSV header, how to read it off a row): the source report's figures.
SOURCE_FIELDS: tuple[tuple[str, str], ...] = (
    ("calls", "calls"),
    ("unique_callers", "unique callers"),
    ("first_time_callers", "first-time callers"),
    ("answered", "answered calls"),
    ("answered_rate", "answered rate"),
    ("average_duration", "average duration (s)"),
    ("with_click_id", "calls with a click id"),
    ("visits", "visits"),
    ("visits_called", "visits that called"),
    ("conversion_rate", "share of visits that called"),
)
# Figures whose change a comparison shows (counts and rates, not averages of nothing).
COMPARED = (
    "calls",
    "unique_callers",
    "first_time_callers",
    "answered_rate",
    "visits",
    "conversion_rate",
    "average_duration",
)


def row_values(row: SourceRow | None) -> dict[str, Any]:
    """A source-report row's figures by API name (rates as fractions, rounded as the CSV
    writes them; None where a figure has no value)."""
    if row is None:
        return {}
    out: dict[str, Any] = {}
    for name, _header in SOURCE_FIELDS:
        value = getattr(row, name)
        if name.endswith("_rate") and value is not None:
            value = round(value, 4)
        elif name == "average_duration" and value is not None:
            value = round(value, 1)
        out[name] = value
    return out


def changes(now: dict[str, Any], before: dict[str, Any]) -> dict[str, float | None]:
    """The relative change of each compared figure (None where it has no meaning)."""
    return {
        name: None
        if change(now.get(name), before.get(name)) is None
        else round(change(now.get(name), before.get(name)), 4)
        for name in COMPARED
    }


@dataclass
class SourceFigures:
    """The source report of a period and, with a comparison, of the period before."""

    report: SourceReport
    before: SourceReport | None

    def before_row(self, label: str) -> SourceRow | None:
        """The compared period's row of the same value, if it had one."""
        if self.before is None:
            return None
        if label == "Total":
            return self.before.total
        return next((r for r in self.before.rows if r.label == label), None)

    def change_of(self, row: SourceRow, name: str) -> float | None:
        """The change of one figure of ``row`` from the compared period."""
        if self.before is None:
            return None
        before = self.before_row(row.label)
        return change(getattr(row, name), getattr(before, name) if before else 0)


def source_figures(
    db: Session, client_ids: Sequence[int], choice: Choice, dimension: str, touch: str
) -> SourceFigures:
    """The source report for the choice, and its comparison."""
    report = queries.source_report(db, client_ids, choice.period, dimension, touch)
    before = choice.previous
    return SourceFigures(
        report,
        None if before is None else queries.source_report(db, client_ids, before, dimension, touch),
    )


@dataclass
class SeriesFigures:
    """Calls per day of a period and, with a comparison, of the period before (day i of
    one against day i of the other)."""

    days: list[DayCount]
    before: list[DayCount] | None


def series_figures(db: Session, client_ids: Sequence[int], choice: Choice) -> SeriesFigures:
    """Calls per local day for the choice, and its comparison."""
    before = choice.previous
    return SeriesFigures(
        queries.calls_per_day(db, client_ids, choice.period),
        None if before is None else queries.calls_per_day(db, client_ids, before),
    )


@dataclass
class OverviewFigures:
    """One line per client, and each client's line in the compared period."""

    rows: list[ClientSummary]
    before: dict[int, ClientSummary]

    def total(self, name: str, before: bool = False) -> int:
        """A count summed over the clients."""
        rows = self.before.values() if before else self.rows
        return sum(getattr(r, name) for r in rows)


def overview_figures(
    db: Session,
    clients: Sequence[Client],
    choice: Choice,
    overflow: float = DEFAULT_OVERFLOW,
    now: datetime | None = None,
) -> OverviewFigures:
    """The agency overview for the choice (each client in its own days), compared."""
    period = choice.period
    rows = queries.overview(db, clients, period.start, period.end, overflow, now)
    before = choice.previous
    earlier = (
        []
        if before is None
        else queries.overview(db, clients, before.start, before.end, overflow, now)
    )
    return OverviewFigures(rows, {r.client_id: r for r in earlier})


def pool_figures(
    db: Session,
    client_ids: Sequence[int],
    choice: Choice,
    overflow: float,
    timezones: queries.Timezones,
) -> list[PoolHealth]:
    """Pool health for the choice (a pool's recommendation has no comparison)."""
    return queries.pool_health(db, client_ids, choice.period, overflow, timezones=timezones)
