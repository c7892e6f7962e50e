"""Links from a report row to the call log, filtered to exactly the calls the row counts.

The call log reads ``source``, ``medium``, ``campaign``, ``keyword`` and ``landing``,
and ``touch`` for first-touch rows. A "(not set)" row (or "(no visit)" for landing pages)
is asked for with the literal value ``__none__``: an empty parameter would mean "no
filter" and open every call. The period goes along as ``from`` and ``to`` (local days).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import url_for

from ringtrail.reports import calllog
from ringtrail.reports.queries import Period


def filters(dimension: str, label: str, touch: str = "last") -> dict[str, str] | None:
    """The call log's filter for one row (None for a dimension it cannot filter by): the
    call log's own rule (``calllog.drill_args``), so a row and its drill-down agree."""
    if dimension not in calllog.DRILL and dimension != "source_medium":
        return None
    out = calllog.drill_args(dimension, label)
    if touch != "last":
        out["touch"] = touch
    return out


def calls_url(
    client_id: int, period: Period, dimension: str, label: str, touch: str = "last"
) -> str | None:
    """The call log of one client and period, filtered to one report row."""
    row = filters(dimension, label, touch)
    if row is None:
        return None
    args = {"client": client_id, "from": period.start.isoformat(), "to": period.end.isoformat()}
    return url_for("reportpages.calls") + "?" + urlencode(args | row)


def total_url(client_id: int, period: Period) -> str:
    """The call log of one client and period, unfiltered (a report's total row)."""
    args = {"client": client_id, "from": period.start.isoformat(), "to": period.end.isoformat()}
    return url_for("reportpages.calls") + "?" + urlencode(args)
