"""CSV exports of calls and reports, safe to open in Excel, LibreOffice Calc and Google Sheets.

Formula injection. A spreadsheet reads a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, in some, a tab or carriage return) as a formula, so a caller id, landing URL,
referrer or UTM value chosen by a stranger could run ``=HYPERLINK(...)``,
``=WEBSERVICE(...)`` or an old DDE command on the analyst's machine. The policy:

- Every text cell whose first non-blank character is one of ``= + - @`` or that begins
  with a tab, carriage return or line feed gets one leading apostrophe (``'``), as OWASP
  recommends. None of the three spreadsheets evaluates what follows (Excel and Google
  Sheets hide the apostrophe on typed input; LibreOffice Calc shows it).
- A text cell that already begins with an apostrophe gets one more, so the rule is exactly
  reversible: a program that reads the file back removes one leading apostrophe from any
  cell that starts with one, and gets the stored value.
- Numbers that Ringtrail computes (counts, rates, seconds) are written as numbers.

Phone numbers. E.164 numbers (``+14155550100``) start with ``+``: written bare, every
spreadsheet reads them as the number 14155550100 (the ``+`` lost, long ones shown as
``4.42072E+11``), and with the apostrophe above, LibreOffice Calc shows the apostrophe
(``'+14155550100``: its CSV import keeps it as part of the text). So the phone-number
columns (tracking number, caller) write a value that is strictly E.164
(``+`` and 2 to 15 digits, nothing else) as the text formula ``="+14155550100"``, which
Excel, LibreOffice Calc and Google Sheets all show as the text ``+14155550100``, no
apostrophe. That is the one formula the files hold, and it cannot carry an injection:
it is written only for a value made of a plus sign and digits, checked here by a strict
pattern, so nothing a stranger typed can reach it. Anything else in those columns
(``anonymous``, ``sip:…``, whatever a PBX posted) is ordinary text under the rule above.
A program reading the file back strips ``="`` and ``"`` around such a cell.
``tests/reports/test_spreadsheets.py`` opens a real export in LibreOffice Calc, headless,
and checks each cell's type.

HTML and script. ``<script>`` and ``javascript:`` values are plain text in a CSV; the
files are served as ``text/csv`` attachments with ``nosniff`` so a browser never renders
them, and no cell is turned into a formula, so nothing can become a ``HYPERLINK``.

The files start with a UTF-8 byte order mark, without which Excel on Windows reads UTF-8
as the local code page; LibreOffice and Google Sheets ignore it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ringtrail.reports.figures import SOURCE_FIELDS, row_values
from ringtrail.reports.outcomes import OutcomeReport
from ringtrail.reports.queries import DIMENSIONS, DayCount, PoolHealth, SourceReport
from ringtrail.terms import CONFIDENCE_LABELS, CONFIDENCES, ROUTE_LABELS

BOM = "\ufeff"
TRIGGERS = ("=", "+", "-", "@")
CONTROL = ("\t", "\r", "\n")


def safe_cell(value: Any) -> str | int | float:
    """One cell as written: numbers as numbers, text neutralised against formulas."""
    if value is None:
        return ""
    if isinstance(value, PhoneCell):
        return phone_cell(value.number)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text.startswith(("'", *CONTROL)) or text.lstrip().startswith(TRIGGERS):
        return "'" + text
    return text


E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@dataclass(frozen=True)
class PhoneCell:
    """A phone number for a CSV cell: see "Phone numbers" in the module's docstring."""

    number: str | None


def phone_cell(number: str | None) -> str:
    """A strictly E.164 number as the text formula ``="+1…"``; anything else safe text."""
    text = number or ""
    if E164.fullmatch(text):
        return f'="{text}"'
    return str(safe_cell(text))


def write_rows(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text, line by line (BOM first), every cell through :func:`safe_cell`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    yield BOM
    writer.writerow([safe_cell(h) for h in header])
    yield buf.getvalue()
    for row in rows:
        buf.seek(0)
        buf.truncate()
        writer.writerow([safe_cell(v) for v in row])
        yield buf.getvalue()


def to_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The whole CSV as one string."""
    return "".join(write_rows(header, rows))


def _rate(value: float | None) -> float | str:
    return round(value, 4) if value is not None else ""


def _seconds(value: float | None) -> float | str:
    return round(value, 1) if value is not None else ""


def source_report_rows(report: SourceReport) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the source report, total last: the figures the API answers
    (:data:`ringtrail.reports.figures.SOURCE_FIELDS`), in that order."""
    header = [DIMENSIONS[report.dimension], *(h for _name, h in SOURCE_FIELDS)]
    rows = []
    for r in (*report.rows, report.total):
        values = row_values(r)
        rows.append([r.label, *("" if values[n] is None else values[n] for n, _ in SOURCE_FIELDS)])
    return header, rows


OUTCOME_HEADER = ("qualified leads", "value", "calls by tag")


def with_outcomes(
    header: list[str], rows: list[list[Any]], figures: OutcomeReport
) -> tuple[list[str], list[list[Any]]]:
    """The source report's header and rows (total last) with the outcome columns."""
    extra = [figures.row(row[0]) for row in rows[:-1]] + [figures.total]
    return [*header, *OUTCOME_HEADER], [
        [*row, f.qualified, f.value_text(), f.tags_text()]
        for row, f in zip(rows, extra, strict=True)
    ]


def series_rows(days: Sequence[DayCount]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of calls per day."""
    return ["day", "calls", "answered"], [[d.day, d.calls, d.answered] for d in days]


POOL_HEADER = (
    "client",
    "site",
    "pool",
    "numbers",
    "lease seconds",
    "peak concurrent leases",
    "average concurrent leases",
    "peak utilisation",
    "average utilisation",
    "new leases",
    "exhaustions",
    "calls",
    "exact",
    "late",
    "ambiguous",
    "repeat",
    "source",
    "none",
    "calls per number per hour",
    "peak hour (UTC)",
    "peak arrivals per hour",
    "mean hold seconds",
    "hold observed",
    "overflow target",
    "expected overflow at current size",
    "recommended numbers",
)


def pool_rows(pools: Sequence[PoolHealth]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of pool health."""
    rows = []
    for p in pools:
        avg = None if p.average_leases is None else round(p.average_leases, 2)
        rows.append(
            [
                p.client,
                p.site,
                p.name,
                p.size,
                p.lease_seconds,
                p.peak_leases,
                "" if avg is None else avg,
                _rate(p.peak_utilisation),
                _rate(p.average_utilisation),
                p.new_leases,
                p.exhausted,
                p.calls,
                *(p.confidence.get(c, 0) for c in CONFIDENCES),
                _rate(p.calls_per_number_hour),
                p.peak_hour,
                p.peak_arrivals,
                _seconds(p.hold_seconds),
                p.hold_observed,
                p.overflow,
                _rate(p.expected_overflow),
                p.recommended,
            ]
        )
    return list(POOL_HEADER), rows


CALL_HEADER = (
    "call id",
    "started (local)",
    "client",
    "tracking number",
    "caller",
    "first-time or repeat caller",
    "status",
    "answered",
    "talk seconds",
    "duration seconds",
    "attribution",
    "confidence",
    "source",
    "medium",
    "campaign",
    "keyword",
    "content",
    "landing title",
    "landing url",
    "referrer",
    "click ids",
    "device",
    "pages viewed",
    "route",
)


def call_row(call, visit, client_name: str, caller_kind: str | None, tz) -> list[Any]:
    """One call as a CSV row; times in the client's timezone."""
    pages = ""
    if visit is not None:
        pages = " > ".join(str(p[1]) for p in (visit.pages or []) if len(p) > 1)
    started = call.started_at.astimezone(tz) if call.started_at else None
    return [
        call.call_sid,
        started,
        client_name,
        PhoneCell(call.tracking_number),
        PhoneCell(call.caller_number),
        caller_kind or "",
        call.status,
        call.answered,
        call.talk_seconds,
        call.duration_seconds,
        CONFIDENCE_LABELS.get(call.confidence, call.confidence),
        call.confidence,
        call.source,
        call.medium,
        visit.campaign if visit else "",
        visit.term if visit else "",
        visit.content if visit else "",
        visit.landing_title if visit else "",
        visit.landing_url if visit else "",
        visit.referrer if visit else "",
        " ".join(f"{k}={v}" for k, v in sorted((visit.click_ids or {}).items())) if visit else "",
        visit.device if visit else "",
        pages,
        ROUTE_LABELS.get(call.route_kind, call.route_kind),
    ]
