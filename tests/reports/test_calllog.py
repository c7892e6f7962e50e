"""The call log's one service: search, filters, drill-downs, sorting, pages, caller kinds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from ringtrail import hashing
from ringtrail.errors import Invalid
from ringtrail.reports import calllog
from ringtrail.reports import queries as reports
from ringtrail.reports.calllog import NONE, CallFilter, call_log, parse_filter
from ringtrail.reports.queries import DIMENSIONS, TOUCHES, Period
from tests.helpers import add_call, make_site

pytestmark = pytest.mark.postgres

NY = ZoneInfo("America/New_York")
MAY = Period(date(2024, 5, 1), date(2024, 5, 31), NY)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def log_world(db, db_backend, app):
    """Client A (New York): repeat callers, a withheld caller, a call without a visit, a
    source-level number whose source is "Google" beside UTM "google", a HIPAA caller
    known only by hash; client B of another agency with look-alike calls."""
    a = make_site(db)
    b = make_site(db, number_start=100)
    a.client.timezone = "America/New_York"
    db.commit()
    spring = {
        "landing_url": "https://shop.example/offer?gclid=abc",
        "campaign": "Spring",
        "term": "emergency plumber",
        "click_ids": {"gclid": "abc"},
        "referrer": "https://www.google.com/",
        "landing_title": "Offer",
    }
    calls = {}
    # The repeat caller's first call ever is in April, outside the period, from Facebook.
    calls["april"] = add_call(
        db,
        a,
        utc(2024, 4, 20, 15),
        caller="+13105550001",
        source="facebook",
        medium="social",
        visit={"landing_url": "https://shop.example/fb", "referrer": "https://m.facebook.com/"},
    )
    calls["repeat"] = add_call(db, a, utc(2024, 5, 3, 15), caller="+13105550001", visit=spring)
    calls["first"] = add_call(
        db, a, utc(2024, 5, 4, 15), caller="+13105550002", visit=spring, talk=120
    )
    calls["missed"] = add_call(
        db,
        a,
        utc(2024, 5, 4, 16),
        caller="+13105550002",
        answered=False,
        talk=None,
        visit={"landing_url": "https://shop.example/pricing", "referrer": ""},
    )
    calls["withheld"] = add_call(
        db,
        a,
        utc(2024, 5, 5, 15),
        caller="+266696687",  # Twilio's "anonymous"
        source="(direct)",
        medium="(none)",
        visit={"landing_url": "https://shop.example/", "referrer": ""},
    )
    calls["novisit"] = add_call(
        db, a, utc(2024, 5, 6, 15), caller=None, source="", medium="", confidence="none"
    )
    calls["sourcelevel"] = add_call(
        db, a, utc(2024, 5, 7, 15), caller="+13105550004", source="Google", confidence="source"
    )
    calls["hipaa"] = add_call(
        db,
        a,
        utc(2024, 5, 8, 15),
        caller=None,
        caller_hash=hashing.caller_hash("+13105550077"),
        visit={"landing_url": "https://shop.example/offer", "campaign": "spring"},
    )
    # 03:00 UTC on 1 June is still 31 May in New York.
    calls["lastnight"] = add_call(
        db, a, utc(2024, 6, 1, 3), caller="+13105550003", source="bing", visit=spring
    )
    calls["lastnight"].tracking_number = a.numbers[1]
    calls["other"] = add_call(db, b, utc(2024, 5, 4, 15), caller="+13105550001", visit=spring)
    db.commit()
    return a, b, calls


def ids(page) -> set[int]:
    return {row.call.id for row in page.rows}


def log(db, a, **filters):
    return call_log(db, [a.client.id], MAY, CallFilter(**filters), per_page=250)


def test_search_finds_digits_text_and_hashed_callers_never_another_tenants(db, log_world):
    a, _, c = log_world
    assert ids(log(db, a, q="555 0001")) == {c["repeat"].id}  # partial digits, any spacing
    assert ids(log(db, a, q="(310) 555-0002")) == {c["first"].id, c["missed"].id}
    # Text, whatever its case: campaign, keyword, landing page, title, source, referrer.
    spring = {c["repeat"].id, c["first"].id, c["hipaa"].id, c["lastnight"].id}
    assert ids(log(db, a, q="SPRING")) == spring
    assert ids(log(db, a, q="Emergency")) == spring - {c["hipaa"].id}
    assert ids(log(db, a, q="/pricing")) == {c["missed"].id}
    assert ids(log(db, a, q="offer")) == spring
    assert c["sourcelevel"].id in ids(log(db, a, q="gOOgle"))
    # The tracking number by digits; LIKE's wildcards are plain characters.
    assert ids(log(db, a, q=a.numbers[1][-6:])) == {c["lastnight"].id}
    assert ids(log(db, a, q="7%")) == set() and ids(log(db, a, q="_")) == set()
    # HIPAA: no digits are stored, so partial digits find nothing; the whole number does.
    assert c["hipaa"].id not in ids(log(db, a, q="5550077"))
    assert ids(log(db, a, q="+1 310 555 0077")) == {c["hipaa"].id}
    assert ids(log(db, a, q="(310) 555-0077")) == {c["hipaa"].id}


def test_filters_combine(db, log_world):
    a, _, c = log_world
    assert ids(log(db, a, status="missed")) == {c["missed"].id}
    assert c["missed"].id not in ids(log(db, a, status="answered"))
    assert ids(log(db, a, confidence="source")) == {c["sourcelevel"].id}
    assert ids(log(db, a, tracking=a.numbers[1])) == {c["lastnight"].id}
    assert ids(log(db, a, tracking=a.numbers[1][-4:])) == {c["lastnight"].id}
    assert ids(log(db, a, campaign="Spring", status="answered", q="0002")) == {c["first"].id}
    assert ids(log(db, a, keyword="emergency plumber", caller="repeat")) == {c["repeat"].id}
    assert ids(log(db, a, landing="/offer")) == {
        c["repeat"].id,
        c["first"].id,
        c["hipaa"].id,
        c["lastnight"].id,
    }


def test_first_time_and_repeat_callers(db, log_world):
    a, _, c = log_world
    kinds = {row.call.id: row.caller_kind for row in log(db, a).rows}
    assert kinds[c["repeat"].id] == "repeat"  # first called in April
    assert kinds[c["first"].id] == "first" and kinds[c["missed"].id] == "repeat"
    assert kinds[c["withheld"].id] is None and kinds[c["novisit"].id] is None
    assert kinds[c["hipaa"].id] == "first"  # by its keyed hash
    assert ids(log(db, a, caller="first")) == {
        c["first"].id,
        c["sourcelevel"].id,
        c["hipaa"].id,
        c["lastnight"].id,
    }
    assert ids(log(db, a, caller="repeat")) == {c["repeat"].id, c["missed"].id}
    # The same number calling another agency's client is that client's first caller.
    b_kinds = call_log(db, [log_world[1].client.id], MAY).rows
    assert [r.caller_kind for r in b_kinds] == ["first"]
    assert calllog.caller_kind(db, c["missed"]) == "repeat"
    assert calllog.caller_kind(db, c["withheld"]) is None
    others = calllog.caller_calls(db, c["repeat"])
    assert [o.id for o in others] == [c["april"].id]  # never client B's call


def test_hipaa_callers_other_calls_go_through_the_keyed_hash(db, log_world):
    a, _, c = log_world
    again = add_call(
        db,
        a,
        utc(2024, 5, 20, 15),
        caller=None,
        caller_hash=hashing.caller_hash("+13105550077"),
    )
    assert [o.id for o in calllog.caller_calls(db, again)] == [c["hipaa"].id]
    assert calllog.caller_kind(db, again) == "repeat"
    assert calllog.caller_calls(db, c["withheld"]) == []


@pytest.mark.parametrize("touch", TOUCHES)
@pytest.mark.parametrize("dimension", list(DIMENSIONS))
def test_every_report_row_drills_down_to_exactly_its_calls(db, log_world, dimension, touch):
    a, _, _ = log_world
    report = reports.source_report(db, [a.client.id], MAY, dimension, touch)
    assert report.rows and report.total.calls == 8
    for row in report.rows:
        if not row.calls:
            continue  # a row of visits only: nothing to drill down to
        args = calllog.drill_args(dimension, row.label)
        filt = parse_filter({**args, "touch": touch})
        page = call_log(db, [a.client.id], MAY, filt, per_page=250)
        assert page.total == row.calls, (dimension, touch, row.label, args)
    labels = {r.label for r in report.rows}
    if dimension in ("campaign", "keyword", "landing_page", "referrer_domain"):
        assert labels & {reports.NOT_SET, reports.NO_VISIT}, labels


def test_drill_down_values(db, log_world):
    a, _, c = log_world
    assert calllog.drill_args("source_medium", "(not set) / (not set)") == {
        "source": NONE,
        "medium": NONE,
    }
    assert calllog.drill_args("landing_page", "(no visit)") == {"landing": NONE}
    assert ids(log(db, a, source=NONE)) == {c["novisit"].id}
    # "Google" and "google" are two rows; each drills down to its own calls, and a value
    # that is no row's label matches whatever its case.
    assert ids(log(db, a, source="Google")) == {c["sourcelevel"].id}
    assert c["sourcelevel"].id not in ids(log(db, a, source="google"))
    assert c["sourcelevel"].id in ids(log(db, a, source="GOOGLE"))
    assert len(ids(log(db, a, source="GOOGLE"))) == len(ids(log(db, a, source="google"))) + 1
    # First touch: the repeat caller's May call is credited to April's Facebook visit.
    assert ids(log(db, a, source="facebook", touch="first")) == {c["repeat"].id}
    assert ids(log(db, a, source="facebook")) == set()


def test_sorting_and_page_sizes(db, log_world):
    a, _, c = log_world
    newest = log(db, a).rows
    started = [r.call.started_at for r in newest]
    assert started == sorted(started, reverse=True)
    by_source = [r.call.source for r in log(db, a, sort="source").rows]
    assert by_source == sorted(by_source)
    by_caller = [r.call.caller_number for r in log(db, a, sort="-caller").rows]
    known = [n for n in by_caller if n is not None]
    assert known == sorted(known, reverse=True)
    assert by_caller.index(None) > by_caller.index(known[-1])  # empty ones last
    by_talk = [r.call for r in log(db, a, sort="-outcome").rows]
    assert by_talk[0].id == c["first"].id  # answered, the longest talk
    page = call_log(db, [a.client.id], MAY, CallFilter(), page=2, per_page=3)
    assert page.total == 8 and page.pages == 3 and len(page.rows) == 3
    assert [r.call.id for r in page.rows] == [r.call.id for r in newest[3:6]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"sort": "password"}, "sort must be one of"),
        ({"caller": "new"}, "caller must be one of"),
        ({"status": "busy"}, "status must be one of"),
        ({"touch": "middle"}, "touch must be one of"),
        ({"confidence": "sure"}, "confidence must be one of"),
        ({"q": "x" * 201}, "at most 200"),
        ({"campaign": "a\x00b"}, "control characters"),
    ],
)
def test_bad_filters_are_refused_with_the_reason(args, message):
    with pytest.raises(Invalid, match=message):
        parse_filter(args)


def test_a_filter_is_a_link(db, log_world):
    filt = parse_filter({"q": " plumber ", "caller": "first", "sort": "-started_at"})
    assert filt.as_args() == {"q": "plumber", "caller": "first"}
    assert parse_filter(filt.as_args()) == filt
