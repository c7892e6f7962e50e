"""The call log's doors: the dashboard page, its CSV and GET /api/v1/calls share one
service; badges, plain words, the caller's other calls and the journey with titles."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from ringtrail import hashing
from ringtrail.storage.models import Call
from ringtrail.tracking.visits import VisitKeys, decode
from tests.helpers import (
    add_call,
    bearer,
    call_params,
    log_in,
    make_site,
    make_user,
    new_key,
    run_jobs,
    twilio_post,
)

ORIGIN = "https://shop.example"


@pytest.fixture
def shop(app, db):
    """One agency, one client in Chicago with a repeat caller and a HIPAA-style caller;
    another agency whose caller has the same number."""
    a = make_site(db)
    b = make_site(db, number_start=100)
    a.client.name, b.client.name = "Acme Plumbing", "Bravo"
    a.client.timezone = "America/Chicago"
    db.commit()
    now = datetime.now(UTC).replace(microsecond=0)
    visit = {
        "landing_url": "https://shop.example/offer?gclid=x",
        "campaign": "Spring Sale",
        "term": "emergency plumber",
        "pages": [[0, "/offer", "Offer"], [0.4, "/pricing", "Prices"], [7, "/contact", ""]],
    }
    calls = {
        "first": add_call(db, a, now - timedelta(days=3), caller="+13125550101", visit=visit),
        "again": add_call(
            db, a, now - timedelta(hours=5), caller="+13125550101", answered=False, talk=None
        ),
        "hashed": add_call(
            db,
            a,
            now - timedelta(hours=4),
            caller=None,
            caller_hash=hashing.caller_hash("+13125550177"),
            source="bing",
        ),
        "other": add_call(db, b, now - timedelta(hours=3), caller="+13125550101"),
    }
    a.extra["key"] = new_key(app, a.agency.id)
    return a, b, calls


def rows_of(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-call="(\d+)"', html)]


def test_the_call_log_searches_filters_sorts_and_keeps_it_in_the_url(client, db, shop):
    a, _, calls = shop
    log_in(client, make_user(db, a))
    html = client.get("/dashboard/calls?q=555-0101").get_data(as_text=True)
    assert rows_of(html) == [calls["again"].id, calls["first"].id]
    assert 'value="555-0101"' in html  # the search stays in the form
    # Badges: first-time and repeat; plain words with the technical term in the tooltip.
    assert 'data-caller="repeat"' in html and 'data-caller="first"' in html
    assert ">Matched to a visit</span>" in html and 'title="exact: ' in html
    html = client.get("/dashboard/calls?caller=first&status=answered").get_data(as_text=True)
    assert rows_of(html) == [calls["hashed"].id, calls["first"].id]
    html = client.get("/dashboard/calls?campaign=Spring+Sale&per_page=25").get_data(as_text=True)
    assert rows_of(html) == [calls["first"].id]
    assert '<option value="25" selected>' in html
    # Sorting by a column: its header links to the other direction.
    html = client.get("/dashboard/calls?sort=source").get_data(as_text=True)
    assert rows_of(html)[0] == calls["hashed"].id  # bing before google
    assert 'aria-sort="ascending"' in html and "sort=-source" in html
    # The CSV follows the same filters.
    text = client.get("/dashboard/calls.csv?q=555-0101").get_data(as_text=True)
    reader = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [r["first-time or repeat caller"] for r in reader] == ["repeat", "first"]
    assert {r["caller"] for r in reader} == {'="+13125550101"'}
    assert {r["attribution"] for r in reader} == {"Matched to a visit"}


def test_hipaa_callers_are_found_by_the_whole_number_only_and_the_page_says_so(client, db, shop):
    a, _, calls = shop
    a.client.hipaa = True
    db.commit()
    log_in(client, make_user(db, a))
    html = client.get("/dashboard/calls?q=5550177").get_data(as_text=True)
    assert rows_of(html) == [] and 'id="hipaa-search"' in html
    html = client.get("/dashboard/calls?q=%28312%29+555-0177").get_data(as_text=True)
    assert rows_of(html) == [calls["hashed"].id]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("per_page=30", "per_page must be one of: 25, 50, 100, 250"),
        ("sort=drop+table", "sort must be one of"),
        ("caller=maybe", "caller must be one of"),
    ],
)
def test_bad_call_log_parameters_are_a_400_with_the_reason(client, db, shop, query, reason):
    a, _, _ = shop
    log_in(client, make_user(db, a))
    response = client.get(f"/dashboard/calls?{query}")
    assert response.status_code == 400 and reason in response.get_data(as_text=True)


def test_a_calls_page_lists_the_callers_other_calls_and_the_journey(client, db, shop):
    a, _, calls = shop
    log_in(client, make_user(db, a, "report_only", a.client))
    html = client.get(f"/dashboard/calls/{calls['again'].id}").get_data(as_text=True)
    section = html[html.index('id="caller-calls"') :]
    assert f'data-call="{calls["first"].id}"' in section
    assert f'data-call="{calls["other"].id}"' not in section  # another agency's client
    assert 'data-caller="repeat"' in html
    html = client.get(f"/dashboard/calls/{calls['first'].id}").get_data(as_text=True)
    journey = html[html.index('id="pages"') : html.index('id="caller-calls"')]
    assert "landed" in journey and "+0:00.4" in journey and "+0:07" in journey
    assert "Prices" in journey and "Offer" in journey
    assert "Matched to a visit" in html


def test_the_api_lists_with_the_same_filters_and_shows_caller_kinds(client, db, shop):
    a, _, calls = shop
    headers = bearer(a.extra["key"])

    def get(path):
        response = client.get("/api/v1" + path, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    listed = get("/calls?q=555-0101")
    assert [c["id"] for c in listed["items"]] == [calls["again"].id, calls["first"].id]
    assert [c["caller_kind"] for c in listed["items"]] == ["repeat", "first"]
    assert listed["items"][0]["attribution"] == "Matched to a visit"
    assert [c["id"] for c in get("/calls?caller=first&sort=started_at")["items"]] == [
        calls["first"].id,
        calls["hashed"].id,
    ]
    assert [c["id"] for c in get("/calls?source=BING")["items"]] == [calls["hashed"].id]
    assert get("/calls?campaign=__none__")["total"] == 2
    assert get("/calls?status=missed")["total"] == 1
    detail = get(f"/calls/{calls['again'].id}")
    assert detail["caller_kind"] == "repeat"
    assert [c["id"] for c in detail["caller_calls"]] == [calls["first"].id]
    bad = client.get("/api/v1/calls?sort=nope", headers=headers)
    assert bad.status_code == 422


def test_the_openapi_document_declares_the_filters(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"] for p in doc["paths"]["/api/v1/calls"]["get"]["parameters"]}
    expected = {"q", "source", "medium", "campaign", "keyword", "landing", "referrer"}
    expected |= {"touch", "tracking", "status", "caller", "confidence", "sort", "per_page"}
    assert expected <= params
    out = doc["components"]["schemas"]["CallOut"]["properties"]
    assert {"caller_kind", "attribution"} <= set(out)


def test_page_titles_sent_with_page_views_come_back_in_the_api(app, client, db, redis_client):
    """The bug: titles sent with each page view were dropped, so the API's were empty."""
    setup = make_site(db, numbers=2)
    headers = {"Origin": ORIGIN, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0"}

    def post(path, body):
        data = json.dumps({"site": setup.site_key, **body})
        return client.post(path, data=data, headers=headers, content_type="text/plain")

    answer = post(
        "/v1/sessions",
        {"url": ORIGIN + "/plumbing", "referrer": "", "title": "Plumbing\tin Chicago"},
    ).get_json()
    session = answer["session"]
    number = next(iter(answer["numbers"].values()))["e164"]
    res = post(f"/v1/sessions/{session}/pageviews", {"url": ORIGIN + "/prices", "title": "Prices"})
    assert res.status_code == 200
    pages = decode(redis_client.get(VisitKeys(session).visit)).pages
    assert [p[1:] for p in pages] == [["/plumbing", "Plumbing in Chicago"], ["/prices", "Prices"]]
    assert all(isinstance(p[0], int | float) and p[0] < 5 for p in pages)
    res = twilio_post(
        client, "/telephony/twilio/voice", call_params(setup, number, sid="CAtitle"), setup.token
    )
    assert res.status_code == 200
    run_jobs(app)
    call = db.query(Call).filter_by(call_sid="CAtitle").one()
    key = new_key(app, setup.agency.id)
    detail = client.get(f"/api/v1/calls/{call.id}", headers=bearer(key)).get_json()
    assert [(p["path"], p["title"]) for p in detail["visit"]["pages"]] == [
        ("/plumbing", "Plumbing in Chicago"),
        ("/prices", "Prices"),
    ]
