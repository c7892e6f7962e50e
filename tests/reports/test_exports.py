"""The CSV policy: formula triggers neutralised, phone numbers kept readable, reversible."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from ringtrail.reports import exports
from ringtrail.reports.queries import DayCount, Period, SourceReport, SourceRow
from ringtrail.storage.models import Call, VisitSnapshot
from ringtrail.web.responses import csv_response


@pytest.mark.parametrize(
    ("value", "written"),
    [
        # Formula triggers get one apostrophe.
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\n=1+1", "'\n=1+1"),
        ("  =1+1", "'  =1+1"),  # leading blanks do not hide a formula
        # E.164 numbers outside the phone columns: the same rule, text with their +.
        ("+14155550100", "'+14155550100"),
        ("+442071838750", "'+442071838750"),
        # A value that starts with an apostrophe gets one more: the rule is reversible.
        ("'quoted", "''quoted"),
        ("'=1+1", "''=1+1"),
        # Everything else is written as stored.
        ("google", "google"),
        ("sip:alice@example.com", "sip:alice@example.com"),
        ("client:agent", "client:agent"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("https://shop.example/?q=a,b", "https://shop.example/?q=a,b"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        # Numbers Ringtrail computed stay numbers (negative ones included).
        (42, 42),
        (-3, -3),
        (0.25, 0.25),
        (True, "yes"),
        (False, "no"),
        (date(2024, 5, 1), "2024-05-01"),
        (datetime(2024, 5, 1, 9, 30, tzinfo=UTC), "2024-05-01T09:30:00+00:00"),
    ],
)
def test_safe_cell_policy(value, written):
    assert exports.safe_cell(value) == written


@pytest.mark.parametrize(
    "stored",
    ["+14155550100", "=1+1", "'x", "''=x", "-", "@", "\tx", "plain", "", "'"],
)
def test_removing_one_leading_apostrophe_gives_back_the_stored_text(stored):
    written = exports.safe_cell(stored)
    restored = written[1:] if written.startswith("'") else written
    assert restored == stored


def read(text: str) -> list[list[str]]:
    assert text.startswith(exports.BOM)
    return list(csv.reader(io.StringIO(text.removeprefix(exports.BOM))))


def test_csv_text_quotes_what_needs_quoting_and_keeps_the_rest():
    text = exports.to_text(
        ["name", "note"],
        [["a,b", 'say "hi"'], ["line\nbreak", "=2*3"], ["<script>x</script>", 7]],
    )
    assert text.endswith("\r\n")
    assert read(text) == [
        ["name", "note"],
        ["a,b", 'say "hi"'],
        ["line\nbreak", "'=2*3"],
        ["<script>x</script>", "7"],
    ]


def test_no_cell_of_a_hostile_call_row_can_start_a_formula():
    visit = VisitSnapshot(
        landing_url="javascript:window.__pwned=1",
        landing_title='=WEBSERVICE("http://evil.example")',
        referrer="-1+1",
        campaign="@evil",
        term="+SUM(1)",
        content="<script>window.__pwned=1</script>",
        click_ids={"gclid": "=1"},
        device="desktop",
        pages=[[0, "/=1"], [10, "/contact"]],
    )
    call = Call(
        call_sid="CA1",
        caller_number="+14155550100",
        tracking_number="+16285550101",
        started_at=datetime(2024, 5, 1, 12, tzinfo=UTC),
        status="completed",
        answered=True,
        talk_seconds=61,
        confidence="exact",
        source="=cmd",
        medium="cpc",
    )
    row = exports.call_row(call, visit, "-Client", "repeat", ZoneInfo("America/New_York"))
    [header, cells] = read(exports.to_text(exports.CALL_HEADER, [row]))
    written = dict(zip(header, cells, strict=True))
    assert written["started (local)"] == "2024-05-01T08:00:00-04:00"
    # The one formula: a strictly E.164 number as text, shown without an apostrophe.
    assert written["caller"] == '="+14155550100"'
    assert written["tracking number"] == '="+16285550101"'
    assert written["first-time or repeat caller"] == "repeat"
    assert written["attribution"] == "Matched to a visit"
    assert written["confidence"] == "exact"
    assert written["source"] == "'=cmd"
    assert written["client"] == "'-Client"
    assert written["landing url"] == "javascript:window.__pwned=1"
    assert written["content"] == "<script>window.__pwned=1</script>"
    assert written["pages viewed"] == "/=1 > /contact"
    assert written["click ids"] == "gclid==1"
    phones = {written["caller"], written["tracking number"]}
    for cell in cells:
        assert cell in phones or not cell.lstrip().startswith(exports.TRIGGERS), cell


@pytest.mark.parametrize(
    ("number", "written"),
    [
        ("+14155550100", '="+14155550100"'),
        ("+442071838750", '="+442071838750"'),
        # Anything but a plus sign and digits never becomes a formula.
        ('+1415")&HYPERLINK("http://evil.example', '\'+1415")&HYPERLINK("http://evil.example'),
        ("+1 415 555 0100", "'+1 415 555 0100"),
        ("+14155550100\n", "'+14155550100\n"),
        ("+0123", "'+0123"),
        ("+1234567890123456", "'+1234567890123456"),
        ("anonymous", "anonymous"),
        ("sip:alice@example.com", "sip:alice@example.com"),
        ("=1+1", "'=1+1"),
        ("", ""),
        (None, ""),
    ],
)
def test_phone_cells_are_a_text_formula_only_for_strict_e164(number, written):
    assert exports.phone_cell(number) == written


def test_report_exports_carry_every_column():
    period = Period(date(2024, 5, 1), date(2024, 5, 2))
    row = SourceRow("=google", calls=4, unique_callers=3, first_time_callers=2, answered=3)
    row.talk_seconds, row.talked, row.with_click_id, row.visits = 90, 3, 1, 8
    row.visits_called = 2
    report = SourceReport("source", "last", period, [row], SourceRow("Total", calls=4))
    header, rows = exports.source_report_rows(report)
    [head, first, total] = read(exports.to_text(header, rows))
    assert head[0] == "Source" and len(head) == 11
    assert head[-2:] == ["visits that called", "share of visits that called"]
    assert first == ["'=google", "4", "3", "2", "3", "0.75", "30.0", "1", "8", "2", "0.25"]
    assert total[0] == "Total" and total[8] == ""  # no visits counted: empty, not zero
    header, rows = exports.series_rows([DayCount(date(2024, 5, 1), 3, 2)])
    assert read(exports.to_text(header, rows)) == [
        ["day", "calls", "answered"],
        ["2024-05-01", "3", "2"],
    ]


def test_download_name_is_sanitised(app):
    with app.test_request_context():
        response = csv_response('a"b\r\n/c.csv', ["x"], [["1"]])
    assert response.headers["Content-Disposition"] == 'attachment; filename="a-b---c.csv"'
