"""Report periods a marketer picks by name, and the period each is compared with.

Every period is whole local days in the client's time zone (:class:`Period`); presets
are counted from "today" in that zone, so "yesterday" in Chicago is Chicago's yesterday
whatever the server's clock says, and a day with a daylight-saving change is still one
day (its bounds are the local midnights, 23 or 25 hours apart).

Comparisons:

- ``previous``: the same number of days just before the period (the 7 days before "last
  7 days"; for a calendar month, the month before, whatever its length).
- ``last_year``: the same dates one year earlier (29 February becomes the 28th).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ringtrail.errors import Invalid
from ringtrail.reports.queries import MAX_PERIOD_DAYS, Period

PRESETS = {
    "today": "Today",
    "yesterday": "Yesterday",
    "last_7_days": "Last 7 days",
    "last_30_days": "Last 30 days",
    "this_month": "This month",
    "last_month": "Last month",
    "custom": "Custom",
}
DEFAULT_PRESET = "last_30_days"
COMPARISONS = {
    "none": "No comparison",
    "previous": "Previous period",
    "last_year": "Same period last year",
}


def today_in(tz: ZoneInfo, now: datetime | None = None) -> date:
    """The local date in ``tz`` at ``now`` (default: the current time)."""
    return (now or datetime.now(UTC)).astimezone(tz).date()


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def preset(name: str, tz: ZoneInfo, now: datetime | None = None) -> Period:
    """The period a preset names, in local days of ``tz`` (ValueError for "custom" or an
    unknown name)."""
    today = today_in(tz, now)
    if name == "today":
        return Period(today, today, tz)
    if name == "yesterday":
        day = today - timedelta(days=1)
        return Period(day, day, tz)
    if name == "last_7_days":
        return Period(today - timedelta(days=6), today, tz)
    if name == "last_30_days":
        return Period(today - timedelta(days=29), today, tz)
    if name == "this_month":
        return Period(_month_start(today), today, tz)
    if name == "last_month":
        end = _month_start(today) - timedelta(days=1)
        return Period(_month_start(end), end, tz)
    raise ValueError(f"preset must be one of {', '.join(p for p in PRESETS if p != 'custom')}")


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _whole_months(period: Period) -> bool:
    return period.start.day == 1 and period.end == _month_end(period.end)


def compared(period: Period, how: str) -> Period | None:
    """The period ``period`` is compared with (None for ``none``)."""
    if how == "none":
        return None
    if how == "previous":
        if _whole_months(period):  # months against the months before, whatever their length
            months = (period.end.year - period.start.year) * 12
            months += period.end.month - period.start.month + 1
            end = period.start - timedelta(days=1)
            index = end.year * 12 + end.month - 1 - (months - 1)
            return Period(date(index // 12, index % 12 + 1, 1), end, period.tz)
        length = (period.end - period.start).days + 1
        end = period.start - timedelta(days=1)
        return Period(end - timedelta(days=length - 1), end, period.tz)
    if how == "last_year":
        return Period(_year_earlier(period.start), _year_earlier(period.end), period.tz)
    raise ValueError(f"compare must be one of {', '.join(COMPARISONS)}")


def change(now: float | int | None, before: float | int | None) -> float | None:
    """The relative change from ``before`` to ``now`` (0.25 is +25 %); None when it has
    no meaning (nothing to compare, or nothing before)."""
    if now is None or before is None or before == 0:
        return None
    return (now - before) / before


@dataclass(frozen=True)
class Choice:
    """What a person (or an API caller) chose: a preset, the period it gave, and the
    comparison."""

    preset: str
    period: Period
    compare: str = "none"

    @property
    def previous(self) -> Period | None:
        """The comparison period, if any."""
        return compared(self.period, self.compare)


def choose(
    tz: ZoneInfo,
    *,
    preset_name: str | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
    days: str | int | None = None,
    compare: str | None = None,
    now: datetime | None = None,
) -> Choice:
    """The period asked for, the one rule for the dashboard, the API and the CSV.

    A preset by name (other than "custom") wins; else dates (``start``/``end``, local
    days, YYYY-MM-DD) make a custom period; else ``days`` (the last N days); else the
    last 30 days. Invalid when a value does not read.
    """
    how = compare or "none"
    if how not in COMPARISONS:
        raise Invalid(f"compare must be one of: {', '.join(COMPARISONS)}.")
    if preset_name and preset_name != "custom":
        if preset_name not in PRESETS:
            raise Invalid(f"preset must be one of: {', '.join(PRESETS)}.")
        return Choice(preset_name, preset(preset_name, tz, now), how)
    if start or end:
        try:
            first = _as_date(start)
            last = _as_date(end) or today_in(tz, now)
        except ValueError:
            raise Invalid("Dates must look like 2024-05-31, from 1970 to 2999.") from None
        first = first or last - timedelta(days=29)
        try:
            return Choice("custom", Period(first, last, tz), how)
        except ValueError as exc:
            raise Invalid(f"That date range does not work: {exc}.") from None
    if days not in (None, ""):
        text = str(days)
        if not text.isdigit() or not 1 <= int(text) <= MAX_PERIOD_DAYS:
            raise Invalid(f"days must be a whole number from 1 to {MAX_PERIOD_DAYS}.")
        named = {7: "last_7_days", 30: "last_30_days"}.get(int(text), "custom")
        return Choice(named, Period.last_days(int(text), tz, now), how)
    return Choice(DEFAULT_PRESET, preset(DEFAULT_PRESET, tz, now), how)


EARLIEST = date(1970, 1, 1)
LATEST = date(2999, 12, 31)


def _as_date(value: str | date | None) -> date | None:
    if value in (None, ""):
        return None
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    if not EARLIEST <= day <= LATEST:
        raise ValueError("out of range")
    return day
