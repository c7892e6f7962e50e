"""CSV exports of calls and reports, safe to open in Excel, LibreOffice Calc and Google Sheets.

Formula injection. A spreadsheet reads a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, in some, a tab or carriage return) as a formula, so a caller id, landing URL,
referrer or UTM value chosen by a stranger could run ``=HYPERLINK(...)``,
``=WEBSERVICE(...)`` or an old DDE command on the analyst's machine. The policy:

- Every text cell whose first non-blank character is one of ``= + - @`` or that begins
  with a tab, carriage return or line feed gets one leading apostrophe (``'``), as OWASP
  recommends. All three spreadsheets treat a leading apostrophe as "this is text"; none
  of them evaluates what follows.
- A text cell that already begins with an apostrophe gets one more, so the rule is exactly
  reversible: a program that reads the file back removes one leading apostrophe from any
  cell that starts with one, and gets the stored value.
- Numbers that Ringtrail computes (counts, rates, seconds) are written as numbers.

Phone numbers. E.164 numbers (``+14155550100``) start with ``+``, so they fall under the
same rule and are written ``'+14155550100``. We chose that over the alternatives:

- Written bare, ``+14155550100`` is read as the number 14155550100: the ``+`` is lost, and
  Excel shows a longer one, ``+442071838750``, as ``4.42072E+11``. Bare is only safe for
  strictly valid E.164, and a caller id is whatever the carrier sent (``sip:``, ``client:``
  or anything a non-Twilio PBX posts), so the writer would have to trust a validator.
- A leading tab or space hides the prefix but some importers (Google Sheets among them)
  trim leading whitespace and then parse what is left, which brings the formula back.
- ``tel:+14155550100`` or a national format changes the value itself, and a national format
  drops the country.
- The apostrophe keeps the number as text, exactly as stored, in every tool: the cell
  shows ``+14155550100`` where the apostrophe is read as a text marker and
  ``'+14155550100`` where it is shown, which is still the number, still readable, and one
  character to strip when importing into a CRM. One rule for every cell is easier to
  audit than a rule with exceptions.

HTML and script. ``<script>`` and ``javascript:`` values are plain text in a CSV; the
files are served as ``text/csv`` attachments with ``nosniff`` so a browser never renders
them, and no cell is turned into a formula, so nothing can become a ``HYPERLINK``.

The files start with a UTF-8 byte order mark, without which Excel on Windows reads UTF-8
as the local code page; LibreOffice and Google Sheets ignore it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from ringtrail.reports.figures import SOURCE_FIELDS, row_values
from ringtrail.reports.queries import DIMENSIONS, DayCount, PoolHealth, SourceReport
from ringtrail.terms import CONFIDENCES, ROUTE_LABELS

BOM = "\ufeff"
TRIGGERS = ("=", "+", "-", "@")
CONTROL = ("\t", "\r", "\n")


def safe_cell(value: Any) -> str | int | float:
    """One cell as written: numbers as numbers, text neutralised against formulas."""
    if value is None:
        return ""
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
    "status",
    "answered",
    "talk seconds",
    "duration seconds",
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


def call_row(call, visit, client_name: str, tz) -> list[Any]:
    """One call as a CSV row; times in the client's timezone."""
    pages = ""
    if visit is not None:
        pages = " > ".join(str(p[1]) for p in (visit.pages or []) if len(p) > 1)
    started = call.started_at.astimezone(tz) if call.started_at else None
    return [
        call.call_sid,
        started,
        client_name,
        call.tracking_number,
        call.caller_number,
        call.status,
        call.answered,
        call.talk_seconds,
        call.duration_seconds,
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
