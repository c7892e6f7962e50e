"""Report periods: presets in the client's days (DST-safe), comparisons, and the one rule
that reads a period from a query string."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ringtrail.errors import Invalid
from ringtrail.reports.periods import change, choose, compared, preset
from ringtrail.reports.queries import Period

CHICAGO = ZoneInfo("America/Chicago")
# 03:30 UTC on 2 March 2026 is still 1 March (21:30) in Chicago.
NOW = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("today", date(2026, 3, 1), date(2026, 3, 1)),
        ("yesterday", date(2026, 2, 28), date(2026, 2, 28)),
        ("last_7_days", date(2026, 2, 23), date(2026, 3, 1)),
        ("last_30_days", date(2026, 1, 31), date(2026, 3, 1)),
        ("this_month", date(2026, 3, 1), date(2026, 3, 1)),
        ("last_month", date(2026, 2, 1), date(2026, 2, 28)),
    ],
)
def test_presets_count_from_today_in_the_clients_zone(name, start, end):
    period = preset(name, CHICAGO, NOW)
    assert (period.start, period.end, period.tz) == (start, end, CHICAGO)


def test_today_differs_by_zone_at_the_same_instant():
    assert preset("today", ZoneInfo("UTC"), NOW).start == date(2026, 3, 2)
    assert preset("today", CHICAGO, NOW).start == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25), (date(2026, 3, 9), 24)],
)
def test_a_day_with_a_clock_change_is_local_midnight_to_local_midnight(day, hours):
    lo, hi = Period(day, day, CHICAGO).bounds
    assert hi - lo == timedelta(hours=hours)
    assert lo.astimezone(CHICAGO).hour == 0 and hi.astimezone(CHICAGO).hour == 0


def test_yesterday_across_the_spring_change_is_one_whole_local_day():
    # 9 March 2026, 00:30 in Chicago (CDT, UTC-5): yesterday is 8 March, 23 hours long.
    now = datetime(2026, 3, 9, 5, 30, tzinfo=UTC)
    period = preset("yesterday", CHICAGO, now)
    assert period.start == period.end == date(2026, 3, 8)
    lo, hi = period.bounds
    assert lo == datetime(2026, 3, 8, 6, tzinfo=UTC) and hi == datetime(2026, 3, 9, 5, tzinfo=UTC)
    # And the 7 days before a week spanning the change are 7 local days too.
    week = preset("last_7_days", CHICAGO, now)
    before = compared(week, "previous")
    assert (before.end - before.start).days == 6 and before.end == week.start - timedelta(days=1)


@pytest.mark.parametrize(
    ("start", "end", "how", "want"),
    [
        # The same number of days just before.
        (date(2026, 3, 10), date(2026, 3, 16), "previous", (date(2026, 3, 3), date(2026, 3, 9))),
        (date(2026, 3, 1), date(2026, 3, 1), "previous", (date(2026, 2, 28), date(2026, 2, 28))),
        # A calendar month against the month before, whatever its length.
        (date(2026, 3, 1), date(2026, 3, 31), "previous", (date(2026, 2, 1), date(2026, 2, 28))),
        (date(2026, 1, 1), date(2026, 2, 28), "previous", (date(2025, 11, 1), date(2025, 12, 31))),
        # A year earlier; 29 February becomes the 28th.
        (date(2026, 3, 1), date(2026, 3, 7), "last_year", (date(2025, 3, 1), date(2025, 3, 7))),
        (date(2024, 2, 29), date(2024, 2, 29), "last_year", (date(2023, 2, 28), date(2023, 2, 28))),
    ],
)
def test_comparisons(start, end, how, want):
    before = compared(Period(start, end, CHICAGO), how)
    assert (before.start, before.end) == want and before.tz == CHICAGO


def test_no_comparison():
    assert compared(Period(date(2026, 3, 1), date(2026, 3, 2)), "none") is None


@pytest.mark.parametrize(
    ("now", "before", "want"),
    [(12, 10, 0.2), (5, 10, -0.5), (3, 0, None), (None, 3, None), (0.5, 0.25, 1.0)],
)
def test_change(now, before, want):
    assert change(now, before) == want


def test_choose_reads_presets_dates_days_and_defaults():
    pick = choose(CHICAGO, preset_name="yesterday", compare="previous", now=NOW)
    assert pick.preset == "yesterday" and pick.period.start == date(2026, 2, 28)
    assert pick.previous.start == date(2026, 2, 27)
    # A named preset wins over dates sent along (the picker sends both).
    assert choose(CHICAGO, preset_name="today", start="2026-01-01", now=NOW).preset == "today"
    custom = choose(CHICAGO, preset_name="custom", start="2026-01-01", end="2026-01-31", now=NOW)
    assert (custom.preset, custom.period.start, custom.period.end) == (
        "custom",
        date(2026, 1, 1),
        date(2026, 1, 31),
    )
    assert choose(CHICAGO, start="2026-01-05", now=NOW).period.end == date(2026, 3, 1)
    assert choose(CHICAGO, days="7", now=NOW).preset == "last_7_days"
    default = choose(CHICAGO, now=NOW)
    assert default.preset == "last_30_days" and default.previous is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"preset_name": "fortnight"},
        {"compare": "yesterday"},
        {"start": "2026-13-01"},
        {"start": "2026-03-05", "end": "2026-03-01"},
        {"days": "0"},
        {"days": "x"},
        {"start": "2020-01-01", "end": "2026-01-01"},
        {"start": "0001-01-01", "end": "0001-01-02"},
        {"start": "9999-12-30", "end": "9999-12-31"},
    ],
)
def test_choose_refuses_what_does_not_read(kwargs):
    with pytest.raises(Invalid):
        choose(CHICAGO, now=NOW, **kwargs)
