"""Outcome figures in the source report: qualified leads, value and calls by tag per row
(source, campaign …), in the page and the CSV; blocked calls counted apart."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from ringtrail.accounts import automation
from ringtrail.accounts.auth import cli_principal
from ringtrail.calls import outcomes
from ringtrail.reports.outcomes import outcome_figures
from ringtrail.reports.queries import Period, source_report
from tests.helpers import add_call, log_in, make_site, make_user

NOW = datetime.now(UTC).replace(microsecond=0)


def _world(db):
    setup = make_site(db, numbers=1)
    setup.client.timezone = "UTC"
    db.commit()
    for name in ("booked", "hot lead"):
        automation.create_tag(db, cli_principal(), setup.client, name)
    when = NOW - timedelta(hours=3)
    plan = [
        ("google", "spring", {"lead_status": "qualified", "tags": ["booked"],
                              "value": {"amount_minor": 10000, "currency": "USD"}}),
        ("google", "spring", {"lead_status": "customer", "tags": ["booked", "hot lead"],
                              "value": {"amount_minor": 2550, "currency": "USD"}}),
        ("google", "fall", {"lead_status": "spam"}),
        ("bing", "spring", {"value": {"amount_minor": 500, "currency": "EUR"}}),
    ]  # fmt: skip
    for i, (source, campaign, change) in enumerate(plan):
        call = add_call(
            db, setup, when + timedelta(minutes=i), source=source, visit={"campaign": campaign}
        )
        outcomes.apply(db, call, change, cli_principal())
    blocked = add_call(db, setup, when, source="")
    blocked.blocked, blocked.lead_status = True, "spam"
    db.commit()
    return setup


def test_figures_follow_the_reports_rows_and_blocked_calls_stay_apart(db):
    setup = _world(db)
    period = Period(NOW.date() - timedelta(days=1), NOW.date())
    report = source_report(db, [setup.client.id], period, "source")
    assert {r.label: r.calls for r in report.rows} == {"google": 3, "bing": 1}  # not blocked
    figures = outcome_figures(db, [setup.client.id], period, "source")
    google, bing = figures.row("google"), figures.row("bing")
    assert google.qualified == 2 and google.value_text() == "125.50 USD"
    assert google.tags_text() == "booked: 2; hot lead: 1"
    assert bing.qualified == 0 and bing.value_text() == "5.00 EUR" and bing.tags_text() == ""
    assert figures.total.value_text() == "5.00 EUR; 125.50 USD"
    assert figures.blocked == 1
    by_campaign = outcome_figures(db, [setup.client.id], period, "campaign")
    assert by_campaign.row("spring").qualified == 2 and by_campaign.row("fall").qualified == 0


def test_the_client_page_and_its_csv_carry_the_outcome_columns(client, db):
    setup = _world(db)
    log_in(client, make_user(db, setup))
    page = client.get(f"/dashboard/clients/{setup.client.id}").get_data(as_text=True)
    assert "Qualified leads" in page and "125.50 USD" in page and 'id="blocked-calls"' in page
    res = client.get(f"/dashboard/clients/{setup.client.id}/report.csv?dimension=campaign")
    rows = list(csv.reader(io.StringIO(res.get_data(as_text=True))))
    assert rows[0][-3:] == ["qualified leads", "value", "calls by tag"]
    by_label = {r[0]: r for r in rows[1:]}
    assert by_label["spring"][-3:] == ["2", "5.00 EUR; 125.50 USD", "booked: 2; hot lead: 1"]
    assert by_label["Total"][-3] == "2"
