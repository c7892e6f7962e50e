"""The reports API: the same figures as the dashboard and its CSV for the same period,
in the OpenAPI document, and tenant-scoped."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from ringtrail.accounts import automation
from ringtrail.accounts.auth import cli_principal
from ringtrail.calls import outcomes
from ringtrail.reports.exports import OUTCOME_HEADER
from ringtrail.reports.periods import preset
from ringtrail.reports.queries import zone
from ringtrail.storage.models import Call, DailyVisits
from tests.helpers import add_call, bearer, log_in, make_site, make_user, new_key

CHICAGO = "America/Chicago"


def _noon(day) -> datetime:
    return datetime.combine(day, time(12), zone(CHICAGO)).astimezone(UTC)


@pytest.fixture
def world(db):
    """Agency A: client "Acme" (Chicago) with calls this week and the week before, and
    client "Other"; agency B with a client of its own."""
    a = make_site(db)
    a2 = make_site(db, agency=a.agency, number_start=10)
    b = make_site(db, number_start=20)
    a.client.name, a2.client.name, b.client.name = "Acme", "Other", "Bravo"
    a.client.timezone = CHICAGO
    db.commit()
    week = preset("last_7_days", zone(CHICAGO))
    days = week.days()
    spring = {"campaign": "spring", "term": "boiler repair", "landing_url": "https://s.example/q"}
    add_call(db, a, _noon(days[0]), visit=spring)
    add_call(db, a, _noon(days[1]), caller="+13125550101", visit=spring, answered=False, talk=None)
    add_call(db, a, _noon(days[2]), caller="+13125550102", source="facebook", medium="social")
    add_call(
        db, a, _noon(days[3]), caller="+13125550103", visit={"landing_url": "https://s.example/"}
    )
    add_call(db, a, _noon(days[0] - timedelta(days=2)), caller="+13125550104", visit=spring)
    add_call(db, a2, _noon(days[1]), caller="+13125550105")
    add_call(db, b, _noon(days[1]), caller="+13125550106")
    for day, campaign, visits in ((days[0], "spring", 6), (days[2], "", 9)):
        db.add(
            DailyVisits(
                site_id=a.site.id,
                day=day,
                source="google",
                medium="cpc",
                campaign=campaign,
                dims=campaign,
                visits=visits,
            )
        )
    db.commit()
    return {"a": a, "a2": a2, "b": b}


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def _cell(value) -> str:
    return "" if value is None else str(value)


@pytest.mark.parametrize("dimension", ["source", "campaign", "keyword", "landing_page"])
def test_source_report_api_csv_and_dashboard_agree(app, client, db, world, dimension):
    a = world["a"]
    automation.create_tag(db, cli_principal(), a.client, "booked")
    calls = db.scalars(select(Call).where(Call.client_id == a.client.id).order_by(Call.id)).all()
    change = {"lead_status": "qualified", "value": {"amount_minor": 12500, "currency": "USD"}}
    outcomes.apply(db, calls[0], {**change, "tags": ["booked"]}, cli_principal())
    outcomes.apply(db, calls[3], {"tags": ["booked"], "lead_status": "customer"}, cli_principal())
    db.commit()
    key = new_key(app, a.agency.id)
    query = f"preset=last_7_days&compare=previous&dimension={dimension}"
    api = client.get(f"/api/v1/reports/clients/{a.client.id}/sources?{query}", headers=bearer(key))
    assert api.status_code == 200, api.get_data(as_text=True)
    body = api.get_json()
    assert body["period"]["timezone"] == CHICAGO and body["comparison"]["compare"] == "previous"
    log_in(client, make_user(db, a))
    rows = read_csv(client.get(f"/dashboard/clients/{a.client.id}/report.csv?{query}"))
    header, *lines = rows
    names = [
        "calls",
        "unique_callers",
        "first_time_callers",
        "answered",
        "answered_rate",
        "average_duration",
        "with_click_id",
        "visits",
        "visits_called",
        "conversion_rate",
    ]
    # The CSV's outcome columns (qualified leads, value, calls by tag) are the API's
    # outcomes, in words.
    assert len(header) == 1 + len(names) + len(OUTCOME_HEADER)
    assert tuple(header[-len(OUTCOME_HEADER) :]) == OUTCOME_HEADER

    def api_row(label: str, row: dict) -> list[str]:
        outcome = row["outcomes"]
        value = "; ".join(
            f"{v['amount_minor'] / 100:.2f} {v['currency']}" for v in outcome["value"]
        )
        tags = "; ".join(f"{tag}: {n}" for tag, n in outcome["calls_by_tag"].items())
        figures = [_cell(row["figures"][n]) for n in names]
        return [label, *figures, str(outcome["qualified_leads"]), value, tags]

    from_api = [api_row(r["label"], r) for r in body["rows"]]
    total = body["total"]
    from_api.append(api_row("Total", total))
    assert sorted(from_api[:-1]) == sorted(lines[:-1]) and from_api[-1] == lines[-1]
    assert total["outcomes"] == {
        "qualified_leads": 2,
        "value": [{"currency": "USD", "amount_minor": 12500}],
        "calls_by_tag": {"booked": 2},
    }
    assert body["blocked_calls"] == 0
    assert total["figures"]["calls"] == 4  # this week's four, not the one before
    assert total["previous"]["calls"] == 1 and total["change"]["calls"] == 3.0

    html = client.get(f"/dashboard/clients/{a.client.id}?{query}").get_data(as_text=True)
    assert f'id="kpi-calls">{total["figures"]["calls"]}<' in html
    shown = re.search(r'<tfoot><tr>.*?<td class="num">(\d+)', html, re.S)
    assert shown and int(shown.group(1)) == total["figures"]["calls"]
    for row in body["rows"]:
        if row["figures"]["calls"]:
            assert row["calls_url"] in html.replace("&amp;", "&")


def test_campaign_conversion_and_drill_down_links(app, client, world):
    a = world["a"]
    key = new_key(app, a.agency.id)
    body = client.get(
        f"/api/v1/reports/clients/{a.client.id}/sources?preset=last_7_days&dimension=campaign",
        headers=bearer(key),
    ).get_json()
    rows = {r["label"]: r for r in body["rows"]}
    spring = rows["spring"]["figures"]
    assert (spring["calls"], spring["visits"]) == (2, 6)
    not_set = rows["(not set)"]
    assert not_set["figures"]["calls"] == 2 and not_set["figures"]["visits"] == 9
    assert "campaign=__none__" in not_set["calls_url"]
    assert "campaign=spring" in rows["spring"]["calls_url"]
    for row in body["rows"]:
        rate = row["figures"]["conversion_rate"]
        assert rate is None or 0 <= rate <= 1


def test_calls_over_time_and_overview_agree_with_the_dashboard(app, client, db, world):
    a = world["a"]
    key = new_key(app, a.agency.id)
    series = client.get(
        f"/api/v1/reports/clients/{a.client.id}/calls-over-time?preset=last_7_days&compare=previous",
        headers=bearer(key),
    ).get_json()
    assert len(series["days"]) == len(series["previous"]) == 7
    log_in(client, make_user(db, a))
    daily = read_csv(client.get(f"/dashboard/clients/{a.client.id}/daily.csv?preset=last_7_days"))
    assert [[d["day"], str(d["calls"]), str(d["answered"])] for d in series["days"]] == daily[1:]
    assert sum(d["calls"] for d in series["previous"]) == 1

    overview = client.get(
        "/api/v1/reports/overview?preset=last_7_days&compare=previous", headers=bearer(key)
    ).get_json()
    assert [c["name"] for c in overview["clients"]] == ["Acme", "Other"]
    assert overview["totals"]["calls"] == 5 and overview["previous_totals"]["calls"] == 1
    html = client.get("/dashboard?preset=last_7_days&compare=previous").get_data(as_text=True)
    assert 'id="kpi-calls">5<' in html and "+400 %" in html


def test_pool_health_api_matches_the_csv_and_speaks_in_outcomes(app, client, db, world):
    a = world["a"]
    key = new_key(app, a.agency.id)
    body = client.get(
        f"/api/v1/reports/pools?client_id={a.client.id}&preset=last_7_days", headers=bearer(key)
    ).get_json()
    (pool,) = body["pools"]
    assert pool["leased_now"] == 0 and pool["numbers"] == 5
    assert pool["advice"].endswith("matched to a visit.") or "No visits yet" in pool["advice"]
    log_in(client, make_user(db, a))
    header, row = read_csv(
        client.get(f"/dashboard/pools.csv?client={a.client.id}&preset=last_7_days")
    )
    figures = dict(zip(header, row, strict=True))
    assert int(figures["recommended numbers"]) == pool["recommended"]
    assert int(figures["calls"]) == pool["calls"] == 4


def test_reports_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/reports/overview",
        "/api/v1/reports/clients/{client_id}/sources",
        "/api/v1/reports/clients/{client_id}/calls-over-time",
        "/api/v1/reports/pools",
    ):
        assert "get" in spec["paths"][path], path
    params = {p["name"] for p in spec["paths"]["/api/v1/reports/pools"]["get"]["parameters"]}
    assert {"preset", "from", "to", "compare", "client_id", "overflow"} <= params


def test_a_client_key_sees_only_its_client(app, client, world):
    a, a2, b = world["a"], world["a2"], world["b"]
    own = new_key(app, a.agency.id, a.client.id)
    overview = client.get("/api/v1/reports/overview", headers=bearer(own)).get_json()
    assert [c["client_id"] for c in overview["clients"]] == [a.client.id]
    pools = client.get("/api/v1/reports/pools", headers=bearer(own)).get_json()["pools"]
    assert {p["client_id"] for p in pools} == {a.client.id}
    for path in (
        f"/api/v1/reports/overview?client_id={a2.client.id}",
        f"/api/v1/reports/pools?client_id={a2.client.id}",
        f"/api/v1/reports/clients/{a2.client.id}/sources",
        f"/api/v1/reports/clients/{b.client.id}/calls-over-time",
        f"/api/v1/reports/pools?client_id={b.client.id}",
    ):
        assert client.get(path, headers=bearer(own)).status_code == 404, path
    agency_key = new_key(app, a.agency.id)
    for path in (
        f"/api/v1/reports/clients/{b.client.id}/sources",
        f"/api/v1/reports/overview?client_id={b.client.id}",
    ):
        assert client.get(path, headers=bearer(agency_key)).status_code == 404, path


@pytest.mark.parametrize(
    "query",
    ["preset=fortnight", "compare=later", "from=2026-13-01", "dimension=colour", "touch=middle"],
)
def test_bad_periods_are_a_400_with_a_reason(app, client, world, query):
    a = world["a"]
    key = new_key(app, a.agency.id)
    res = client.get(f"/api/v1/reports/clients/{a.client.id}/sources?{query}", headers=bearer(key))
    assert 400 <= res.status_code < 500 and res.get_json()["error"]
