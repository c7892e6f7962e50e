"""Reports on real SQL (SQLite, and PostgreSQL when RINGTRAIL_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ringtrail.reports import calllog
from ringtrail.reports import queries as reports
from ringtrail.reports.queries import Period
from ringtrail.reports.sizing import DEFAULT_VISIT_SECONDS, erlang_b, recommend
from ringtrail.storage.models import DailyVisits, PoolHour
from tests.helpers import add_call, make_site

pytestmark = pytest.mark.postgres

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_period_bounds_follow_the_local_day_across_a_dst_change():
    # 10 March 2024: Los Angeles springs forward, so that local day has 23 hours.
    period = Period(date(2024, 3, 10), date(2024, 3, 10), LA)
    lo, hi = period.bounds
    assert lo == utc(2024, 3, 10, 8)
    assert hi == utc(2024, 3, 11, 7)
    assert period.days() == [date(2024, 3, 10)]
    assert period.local_day(utc(2024, 3, 11, 6, 59)) == date(2024, 3, 10)


def test_period_refuses_backwards_and_huge_ranges():
    with pytest.raises(ValueError, match="ends before"):
        Period(date(2024, 3, 2), date(2024, 3, 1))
    with pytest.raises(ValueError, match="at most"):
        Period(date(2020, 1, 1), date(2024, 1, 1))


@pytest.fixture
def two_clients(db, db_backend):
    """Client A (New York) with a varied month of calls, and client B of another agency."""
    a = make_site(db)
    b = make_site(db, number_start=100)
    a.client.timezone = "America/New_York"
    db.commit()
    gclid = {
        "landing_url": "https://shop.example/offer?gclid=abc",
        "term": "plumber",
        "campaign": "Spring",
        "click_ids": {"gclid": "abc"},
        "referrer": "https://www.google.com/",
    }  # noqa: E501
    # Repeat caller: first ever call in April (outside the period), from Facebook.
    add_call(
        db,
        a,
        utc(2024, 4, 20, 15),
        caller="+13105550001",
        source="facebook",
        medium="social",
        visit={"landing_url": "https://shop.example/fb", "referrer": "https://m.facebook.com/x"},
    )
    add_call(db, a, utc(2024, 5, 3, 15), caller="+13105550001", visit=gclid)
    add_call(db, a, utc(2024, 5, 4, 15), caller="+13105550002", visit=gclid, talk=120)
    add_call(
        db, a, utc(2024, 5, 4, 16), caller="+13105550002", answered=False, talk=None, visit=gclid
    )
    add_call(
        db,
        a,
        utc(2024, 5, 5, 15),
        caller="+266696687",  # Twilio's "anonymous"
        source="(direct)",
        medium="(none)",
        talk=30,
        visit={"landing_url": "https://shop.example/", "referrer": ""},
    )
    add_call(
        db,
        a,
        utc(2024, 5, 6, 15),
        caller=None,
        source="",
        medium="",
        answered=False,
        talk=None,
        confidence="none",
    )
    # 03:00 UTC on 1 June is still 31 May in New York: inside a May period there.
    add_call(db, a, utc(2024, 6, 1, 3), caller="+13105550003", visit=gclid, talk=90)
    # Another tenant's call on the same day, same source: never counted for A.
    add_call(db, b, utc(2024, 5, 4, 15), caller="+13105550009", visit=gclid)
    for day, source, medium, visits in [
        (date(2024, 5, 3), "google", "cpc", 40),
        (date(2024, 5, 4), "google", "cpc", 60),
        (date(2024, 5, 4), "facebook", "social", 25),
        (date(2024, 5, 5), "(direct)", "(none)", 10),
        (date(2024, 6, 2), "google", "cpc", 999),  # outside the period
    ]:
        db.add(DailyVisits(site_id=a.site.id, day=day, source=source, medium=medium, visits=visits))
    db.add(
        DailyVisits(
            site_id=b.site.id, day=date(2024, 5, 4), source="google", medium="cpc", visits=7
        )
    )
    db.commit()
    return a, b


MAY = Period(date(2024, 5, 1), date(2024, 5, 31), NY)


def test_source_report_by_source(db, two_clients):
    a, _ = two_clients
    report = reports.source_report(db, [a.client.id], MAY, "source")
    rows = {r.label: r for r in report.rows}
    assert [r.label for r in report.rows][:1] == ["google"]
    google = rows["google"]
    assert google.calls == 4
    assert google.unique_callers == 3
    # +13105550001 first called in April: a repeat caller, not a first-time one.
    assert google.first_time_callers == 2
    assert google.answered == 3 and google.answered_rate == pytest.approx(0.75)
    assert google.average_duration == pytest.approx((60 + 120 + 90) / 3)
    assert google.with_click_id == 4
    assert google.visits == 100
    assert google.calls_per_visit == pytest.approx(0.04)
    direct = rows["(direct)"]
    assert (direct.calls, direct.unique_callers, direct.first_time_callers) == (1, 0, 0)
    assert direct.visits == 10 and direct.with_click_id == 0
    unattributed = rows[reports.NOT_SET]
    assert unattributed.calls == 1 and unattributed.visits == 0
    # Visits with no calls still get a row: the source that never rings is news too.
    assert rows["facebook"].calls == 0 and rows["facebook"].visits == 25
    assert rows["facebook"].calls_per_visit == 0
    total = report.total
    assert (total.calls, total.unique_callers, total.visits) == (6, 3, 135)
    assert total.answered_rate == pytest.approx(4 / 6)


def test_source_report_by_source_medium_and_medium(db, two_clients):
    a, _ = two_clients
    by_pair = {
        r.label: r for r in reports.source_report(db, [a.client.id], MAY, "source_medium").rows
    }
    assert by_pair["google / cpc"].calls == 4 and by_pair["google / cpc"].visits == 100
    by_medium = {r.label: r for r in reports.source_report(db, [a.client.id], MAY, "medium").rows}
    assert by_medium["social"].visits == 25 and by_medium["cpc"].calls == 4


@pytest.mark.parametrize(
    ("dimension", "label", "calls"),
    [
        ("campaign", "Spring", 4),
        ("keyword", "plumber", 4),
        ("landing_page", "/offer", 4),
        ("landing_page", "/", 1),
        ("landing_page", reports.NO_VISIT, 1),
        ("referrer_domain", "google.com", 4),
        ("referrer_domain", "(direct)", 1),
        ("campaign", reports.NOT_SET, 2),
    ],
)
def test_source_report_by_visit_dimensions(db, two_clients, dimension, label, calls):
    a, _ = two_clients
    report = reports.source_report(db, [a.client.id], MAY, dimension)
    rows = {r.label: r for r in report.rows}
    assert rows[label].calls == calls
    if dimension == "referrer_domain":
        # Visits are not counted by referrer domain: there they would be invented.
        assert all(r.visits is None for r in report.rows) and report.total.visits is None
        assert rows[label].conversion_rate is None
    else:
        # Counts kept before campaign, keyword and landing page were counted fall under
        # "(not set)"; every row's share of visits that called is a real rate.
        assert report.total.visits == sum(r.visits for r in report.rows)
        for row in report.rows:
            assert row.conversion_rate is None or 0 <= row.conversion_rate <= 1


def test_first_touch_credits_the_callers_first_attributed_call(db, two_clients):
    a, _ = two_clients
    last = {r.label: r.calls for r in reports.source_report(db, [a.client.id], MAY).rows}
    first = {
        r.label: r.calls for r in reports.source_report(db, [a.client.id], MAY, touch="first").rows
    }
    # +13105550001 called from Google in May, but first called from Facebook in April.
    assert last["google"] == 4 and last["facebook"] == 0
    assert first["google"] == 3 and first["facebook"] == 1
    landing = {
        r.label: r.calls
        for r in reports.source_report(db, [a.client.id], MAY, "landing_page", "first").rows
    }
    assert landing["/fb"] == 1
    with pytest.raises(ValueError):
        reports.source_report(db, [a.client.id], MAY, touch="middle")


def test_hipaa_callers_are_counted_by_their_keyed_hash(db, db_backend):
    """HIPAA calls have no number, only a hash: it tells first-time from repeat callers."""
    setup = make_site(db)
    setup.client.hipaa = True
    db.commit()
    one, two = "a" * 64, "b" * 64
    hidden = {"caller": None}
    # The first caller first called in April, from Facebook, with a visit to /fb.
    add_call(
        db,
        setup,
        utc(2024, 4, 20, 15),
        source="facebook",
        medium="social",
        visit={"landing_url": "https://shop.example/fb"},
        caller_hash=one,
        **hidden,
    )
    add_call(db, setup, utc(2024, 5, 3, 15), caller_hash=one, **hidden)
    add_call(db, setup, utc(2024, 5, 4, 15), caller_hash=two, **hidden)
    add_call(db, setup, utc(2024, 5, 5, 15), caller_hash=two, **hidden)
    add_call(db, setup, utc(2024, 5, 6, 15), **hidden)  # no hash: an anonymous caller
    report = reports.source_report(db, [setup.client.id], MAY)
    google = {r.label: r for r in report.rows}["google"]
    assert (google.calls, google.unique_callers, google.first_time_callers) == (4, 2, 1)
    first = {
        r.label: r.calls
        for r in reports.source_report(db, [setup.client.id], MAY, touch="first").rows
    }
    assert first["facebook"] == 1 and first["google"] == 3
    [row] = reports.overview(db, [setup.client], MAY.start, MAY.end)
    assert (row.calls, row.first_time_callers, row.hipaa) == (4, 1, True)


def test_the_hash_wins_over_the_number_and_anonymous_callers_are_never_unique(db, db_backend):
    setup = make_site(db)
    same = "c" * 64
    # One caller whose number the carrier wrote two ways: the hash is the same.
    add_call(db, setup, utc(2024, 5, 3, 15), caller="+13105550001", caller_hash=same)
    add_call(db, setup, utc(2024, 5, 4, 15), caller="3105550001", caller_hash=same)
    # Calls from before hashes existed count by their number.
    add_call(db, setup, utc(2024, 5, 5, 15), caller="+13105550002")
    add_call(db, setup, utc(2024, 5, 6, 15), caller="+13105550002")
    # Withheld numbers have no hash and name nobody.
    add_call(db, setup, utc(2024, 5, 7, 15), caller="+266696687")
    add_call(db, setup, utc(2024, 5, 8, 15), caller="anonymous")
    total = reports.source_report(db, [setup.client.id], MAY).total
    assert (total.calls, total.unique_callers, total.first_time_callers) == (6, 2, 2)


@pytest.mark.parametrize("withheld", ["+7378742833", "+2562533", "+8656696", "+86282452253"])
def test_every_withheld_id_twilio_sends_is_a_call_never_a_caller(db, withheld):
    """Two calls from Twilio's stand-in for a withheld number were once one first-time
    caller: every stand-in the phones module knows names nobody."""
    setup = make_site(db)
    add_call(db, setup, utc(2024, 5, 7, 15), caller=withheld)
    add_call(db, setup, utc(2024, 5, 8, 15), caller=withheld)
    total = reports.source_report(db, [setup.client.id], MAY).total
    assert (total.calls, total.unique_callers, total.first_time_callers) == (2, 0, 0)


def test_timezone_decides_which_day_a_call_belongs_to(db, two_clients):
    a, _ = two_clients
    late_may_ny = Period(date(2024, 5, 31), date(2024, 5, 31), NY)
    late_may_utc = Period(date(2024, 5, 31), date(2024, 5, 31), ZoneInfo("UTC"))
    assert reports.source_report(db, [a.client.id], late_may_ny).total.calls == 1
    assert reports.source_report(db, [a.client.id], late_may_utc).total.calls == 0
    june_utc = Period(date(2024, 6, 1), date(2024, 6, 1), ZoneInfo("UTC"))
    assert reports.source_report(db, [a.client.id], june_utc).total.calls == 1


def test_scope_is_the_only_tenant_seen(db, two_clients):
    a, b = two_clients
    assert reports.source_report(db, [b.client.id], MAY).total.calls == 1
    assert reports.source_report(db, [b.client.id], MAY).total.visits == 7
    assert reports.source_report(db, [], MAY).total.calls == 0
    both = reports.source_report(db, [a.client.id, b.client.id], MAY)
    assert both.total.calls == 7


def test_unknown_dimension_is_refused(db, two_clients):
    a, _ = two_clients
    with pytest.raises(ValueError, match="dimension"):
        reports.source_report(db, [a.client.id], MAY, "favourite_colour")


def test_calls_per_day_is_zero_filled_in_local_days(db, two_clients):
    a, _ = two_clients
    days = reports.calls_per_day(db, [a.client.id], MAY)
    assert len(days) == 31 and days[0].day == date(2024, 5, 1)
    by_day = {d.day: d for d in days}
    assert by_day[date(2024, 5, 4)].calls == 2 and by_day[date(2024, 5, 4)].answered == 1
    assert by_day[date(2024, 5, 31)].calls == 1  # 03:00 UTC on 1 June
    assert by_day[date(2024, 5, 10)].calls == 0
    assert sum(d.calls for d in days) == 6


def test_calls_by_confidence_lists_every_confidence(db, two_clients):
    a, _ = two_clients
    counts = reports.calls_by_confidence(db, [a.client.id], MAY)
    assert list(counts) == ["exact", "late", "ambiguous", "repeat", "source", "none"]
    assert counts == {"exact": 5, "late": 0, "ambiguous": 0, "repeat": 0, "source": 0, "none": 1}


def pool_hours(db, setup, rows):
    for hour, new, exhausted, peak, held, ended in rows:
        db.add(
            PoolHour(
                pool_id=setup.pool.id,
                hour=hour,
                new_leases=new,
                exhausted=exhausted,
                peak_leases=peak,
                held_seconds=held,
                ended_leases=ended,
            )
        )
    db.commit()


def test_pool_health_sizes_the_pool_with_erlang_b(db, db_backend):
    setup = make_site(db, numbers=10, lease_seconds=1500)
    setup.pool.created_at = utc(2024, 4, 1)
    setup.pool.rest_seconds = 0  # no rest: the FACTS table's figures, held time alone
    db.commit()
    day = Period(date(2024, 5, 4), date(2024, 5, 4), ZoneInfo("UTC"))
    pool_hours(
        db,
        setup,
        [
            # The busiest hour: 90 leased, 10 turned away; 100 leases of 1,800 s each ended.
            (utc(2024, 5, 4, 14), 90, 10, 10, 100 * 1800, 100),
            (utc(2024, 5, 4, 15), 20, 0, 7, 20 * 1800, 20),
            (utc(2024, 5, 5, 14), 500, 50, 10, 0, 0),  # another day: not in the period
        ],
    )
    add_call(db, setup, utc(2024, 5, 4, 14, 30), confidence="exact")
    add_call(db, setup, utc(2024, 5, 4, 14, 40), confidence="ambiguous")
    add_call(db, setup, utc(2024, 5, 4, 20), confidence="late")
    [health] = reports.pool_health(db, [setup.client.id], day, now=utc(2024, 6, 1))
    assert health.size == 10
    assert health.peak_leases == 10 and health.peak_utilisation == 1.0
    assert health.hours == 24
    assert health.average_leases == pytest.approx(120 * 1800 / (24 * 3600))
    assert health.average_utilisation == pytest.approx(health.average_leases / 10)
    assert health.exhausted == 10 and health.new_leases == 110
    assert health.peak_hour == utc(2024, 5, 4, 14) and health.peak_arrivals == 100
    assert health.hold_seconds == 1800 and health.hold_observed
    # 100 arrivals an hour holding 30 minutes each: 50 Erlangs, 64 numbers for 1 % (FACTS).
    assert health.load == pytest.approx(50)
    assert health.recommended == 64 == recommend(100, 1800, 0.01)
    assert health.change == 54
    assert health.expected_overflow == pytest.approx(erlang_b(10, 50))
    assert health.confidence["exact"] == 1 and health.confidence["ambiguous"] == 1
    assert health.calls == 3
    assert health.calls_per_number_hour == pytest.approx(3 / (10 * 24))
    looser = reports.pool_health(db, [setup.client.id], day, overflow=0.05, now=utc(2024, 6, 1))
    assert looser[0].recommended == recommend(100, 1800, 0.05) < 64
    assert health.rest_cost == 0 and health.days == 1 and health.days_met == 1.0
    # The default rest is the match window (an hour): the holding time grows by it, and
    # the page says how many numbers that costs.
    setup.pool.rest_seconds = None
    db.commit()
    [rested] = reports.pool_health(db, [setup.client.id], day, now=utc(2024, 6, 1))
    assert rested.rest_seconds == 3600 and rested.hold_seconds == 1800 + 3600
    assert rested.recommended == recommend(100, 5400) > 64
    assert rested.rest_cost == recommend(100, 5400) - 64


def test_the_arrival_rate_is_a_high_share_of_days_not_the_single_busiest_hour(db, db_backend):
    """30 days of a true 60 an hour (busiest hours 50 to 79), one wild day of 200: the
    recommendation meets its target on 90 % of days, and the wild day does not size it."""
    setup = make_site(db, numbers=10, lease_seconds=1800)
    setup.pool.created_at = utc(2024, 4, 1)
    db.commit()
    busiest = [50 + i for i in range(29)] + [200]
    pool_hours(
        db,
        setup,
        [(utc(2024, 5, 1, 14) + timedelta(days=d), n, 0, 5, 0, 0) for d, n in enumerate(busiest)]
        + [(utc(2024, 5, 1, 9) + timedelta(days=d), 20, 0, 2, 0, 0) for d in range(30)],
    )
    month = Period(date(2024, 5, 1), date(2024, 5, 30), ZoneInfo("UTC"))
    [health] = reports.pool_health(db, [setup.client.id], month, now=utc(2024, 6, 1))
    assert health.days == 30
    assert health.peak_arrivals == 76  # the 27th of 30 busiest hours: 90 % of days
    assert health.peak_hour == utc(2024, 5, 30, 14)  # shown, but not sized for
    assert health.recommended == recommend(76, health.hold_seconds)
    assert health.days_met == pytest.approx(27 / 30)


def test_pool_health_without_ended_leases_assumes_lease_plus_a_visit(db, db_backend):
    setup = make_site(db, numbers=3, lease_seconds=600)
    setup.pool.created_at = utc(2024, 5, 4, 10, 20)
    db.commit()
    day = Period(date(2024, 5, 4), date(2024, 5, 4), ZoneInfo("UTC"))
    pool_hours(db, setup, [(utc(2024, 5, 4, 11), 12, 0, 2, 0, 0)])
    [health] = reports.pool_health(db, [setup.client.id], day, now=utc(2024, 5, 4, 12, 30))
    assert not health.hold_observed
    assert health.hold_seconds == 600 + DEFAULT_VISIT_SECONDS + 3600  # the rest too
    assert health.recommended == recommend(12, 600 + DEFAULT_VISIT_SECONDS + 3600)
    # Observed from the hour the pool was made (10:00) to the end of the current hour.
    assert health.hours == 3
    assert health.average_leases == 0


def test_pool_health_of_a_quiet_pool_and_of_other_tenants(db, db_backend):
    setup = make_site(db, numbers=4)
    other = make_site(db, number_start=50)
    day = Period(date(2024, 5, 4), date(2024, 5, 4), ZoneInfo("UTC"))
    [quiet] = reports.pool_health(db, [setup.client.id], day, now=utc(2024, 5, 4, 12))
    assert quiet.peak_arrivals == 0 and quiet.peak_hour is None and quiet.recommended == 1
    assert quiet.calls == 0 and quiet.exhausted == 0
    assert [p.pool_id for p in reports.pool_health(db, [other.client.id], day)] == [other.pool.id]
    with pytest.raises(ValueError):
        reports.pool_health(db, [setup.client.id], day, overflow=0)


def test_overview_uses_each_clients_own_timezone(db, db_backend):
    east = make_site(db)
    west = make_site(db, agency=east.agency, number_start=20)
    east.client.timezone, west.client.timezone = "America/New_York", "America/Los_Angeles"
    east.client.name, west.client.name = "East", "West"
    db.commit()
    # 05:00 UTC on 2 May is 01:00 on 2 May in New York but 22:00 on 1 May in Los Angeles.
    add_call(db, east, utc(2024, 5, 2, 5))
    add_call(db, west, utc(2024, 5, 2, 5), confidence="none", answered=False)
    add_call(db, west, utc(2024, 5, 1, 18), source="bing")
    rows = reports.overview(db, [east.client, west.client], date(2024, 5, 1), date(2024, 5, 1))
    by_name = {r.name: r for r in rows}
    assert by_name["East"].calls == 0
    assert by_name["West"].calls == 2
    assert by_name["West"].answered_rate == 0.5
    assert by_name["West"].attributed_rate == 0.5
    assert by_name["West"].top_source in ("google", "bing")


def test_pages_across_clients_apply_the_dates_in_each_clients_timezone(db, db_backend):
    east = make_site(db)
    west = make_site(db, agency=east.agency, number_start=20)
    east.client.timezone, west.client.timezone = "America/New_York", "America/Los_Angeles"
    east.pool.created_at = west.pool.created_at = utc(2024, 4, 1)
    db.commit()
    # 05:00 UTC on 2 May: 2 May in New York, still 1 May in Los Angeles.
    add_call(db, east, utc(2024, 5, 2, 5))
    add_call(db, west, utc(2024, 5, 2, 5))
    pool_hours(db, east, [(utc(2024, 5, 2, 5), 30, 0, 3, 0, 0)])
    pool_hours(db, west, [(utc(2024, 5, 2, 5), 60, 0, 6, 0, 0)])
    ids = [east.client.id, west.client.id]
    tzs = {east.client.id: NY, west.client.id: LA}
    may1 = Period(date(2024, 5, 1), date(2024, 5, 1), ZoneInfo("UTC"))
    log = calllog.call_log(db, ids, may1, timezones=tzs)
    assert [c.client_id for c, *_ in log.rows] == [west.client.id] and log.total == 1
    health = {
        h.client_id: h
        for h in reports.pool_health(db, ids, may1, timezones=tzs, now=utc(2024, 6, 1))
    }
    assert health[west.client.id].peak_arrivals == 60 and health[west.client.id].calls == 1
    assert health[east.client.id].peak_arrivals == 0 and health[east.client.id].calls == 0
    # 1 May in Los Angeles is 07:00 UTC on 1 May to 07:00 UTC on 2 May: 24 hours observed.
    assert health[west.client.id].hours == 24
