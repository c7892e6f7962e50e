"""Daily and weekly summaries: in the client's time zone, once per period, after the
client's summary hour, with the report's figures and their change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ringtrail.accounts.auth import cli_principal, user_principal
from ringtrail.outbound import messages, preferences, summaries
from tests.helpers import PUBLIC_URL, add_call, make_site, make_user

# Monday 30 November 2026, 08:30 in Chicago (UTC-6).
MONDAY_0830_CHICAGO = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)


@pytest.fixture
def chicago(db):
    setup = make_site(db, numbers=1)
    setup.client.name = "Acme Plumbing"
    setup.client.timezone = "America/Chicago"
    db.commit()
    # Saturday 28 (local): one answered google call.
    add_call(db, setup, datetime(2026, 11, 28, 18, 0, tzinfo=UTC), source="google")
    # Sunday 29 (local): two google calls (one from the "boilers" campaign) and a missed
    # bing call at 21:00 Chicago, already Monday in UTC.
    add_call(db, setup, datetime(2026, 11, 29, 16, 0, tzinfo=UTC), source="google")
    add_call(
        db,
        setup,
        datetime(2026, 11, 29, 17, 0, tzinfo=UTC),
        source="google",
        visit={"campaign": "boilers"},
    )
    add_call(
        db,
        setup,
        datetime(2026, 11, 30, 3, 0, tzinfo=UTC),
        source="bing",
        medium="organic",
        answered=False,
        talk=None,
    )
    # Monday 30 (local), before the summary: not in yesterday's figures.
    add_call(db, setup, datetime(2026, 11, 30, 14, 0, tzinfo=UTC), source="yahoo")
    return setup


def wants(db, setup, user, **choices):
    preferences.set_preferences(db, user_principal(user), user, setup.client, choices)
    db.commit()


def deliver(db) -> None:
    messages.send_due(db, datetime.now(UTC) + timedelta(seconds=1))


@pytest.mark.postgres
def test_the_daily_summary_covers_the_clients_yesterday_once_after_its_hour(app, db, chicago, smtp):
    app.config["SMTP_URL"] = smtp.url
    user = make_user(db, chicago, "report_only", client=chicago.client)
    wants(db, chicago, user, daily_summary=True)

    early = MONDAY_0830_CHICAGO - timedelta(hours=1)  # 07:30 in Chicago
    assert summaries.queue_due(db, early) == {"daily": 0, "weekly": 0}
    assert summaries.queue_due(db, MONDAY_0830_CHICAGO) == {"daily": 1, "weekly": 0}
    assert summaries.queue_due(db, MONDAY_0830_CHICAGO + timedelta(hours=1))["daily"] == 0
    deliver(db)

    [mail] = smtp.inbox
    assert mail.recipients == [user.email]
    assert mail.subject == "Daily summary for Acme Plumbing: Sun 29 Nov 2026"
    body = mail.body
    assert "Compared with Sat 28 Nov 2026 (America/Chicago)" in body
    assert "Calls: 3 (+200 % vs 1)" in body
    assert "Answered: 67 % (-33 points vs 100 %)" in body
    assert "  google: 2 calls (+100 %)" in body
    assert "  bing: 1 call (new)" in body
    assert "yahoo" not in body  # Monday's call is today's, not yesterday's
    assert "  boilers: 1 call (new)" in body
    assert f"{PUBLIC_URL}/dashboard/clients/{chicago.client.id}" in body


def test_the_weekly_summary_goes_on_monday_to_those_who_asked_and_to_slack_once(
    app, db, chicago, smtp, slack
):
    app.config["SMTP_URL"] = smtp.url
    weekly = make_user(db, chicago, "client_manager", client=chicago.client)
    daily = make_user(db, chicago, "agency_admin")
    wants(db, chicago, weekly, weekly_summary=True, by_slack=True)
    wants(db, chicago, daily, daily_summary=True, by_slack=True, by_email=False)
    preferences.set_client_settings(
        db, cli_principal(), chicago.client, {"slack_webhook_url": slack.url, "summary_hour": 6}
    )
    db.commit()

    tuesday = MONDAY_0830_CHICAGO + timedelta(days=1)
    assert summaries.queue_due(db, MONDAY_0830_CHICAGO) == {"daily": 1, "weekly": 2}
    assert summaries.queue_due(db, tuesday)["weekly"] == 0  # weekly: Mondays only
    deliver(db)

    assert [m.subject for m in smtp.inbox] == [
        "Weekly summary for Acme Plumbing: Mon 23 Nov 2026 to Sun 29 Nov 2026"
    ]
    assert "Compared with Mon 16 Nov 2026 to Sun 22 Nov 2026" in smtp.inbox[0].body
    assert "Calls: 4 (none before)" in smtp.inbox[0].body
    texts = sorted(post["text"].split("\n")[0] for post in slack.posts)
    assert texts == [
        "*Daily summary for Acme Plumbing: Mon 30 Nov 2026*",  # Tuesday's run
        "*Daily summary for Acme Plumbing: Sun 29 Nov 2026*",
        "*Weekly summary for Acme Plumbing: Mon 23 Nov 2026 to Sun 29 Nov 2026*",
    ]


def test_each_client_is_summed_up_in_its_own_days(app, db, chicago, smtp):
    app.config["SMTP_URL"] = smtp.url
    tokyo = make_site(db, numbers=1, number_start=40, agency=chicago.agency)
    tokyo.client.name = "Tokyo Dental"
    tokyo.client.timezone = "Asia/Tokyo"
    db.commit()
    admin = make_user(db, chicago, "agency_admin")
    wants(db, chicago, admin, daily_summary=True)
    preferences.set_preferences(
        db, user_principal(admin), admin, tokyo.client, {"daily_summary": True}
    )
    db.commit()
    # 14:30 UTC is 23:30 Monday in Tokyo (its yesterday: Sunday 29) and 08:30 in Chicago.
    assert summaries.queue_due(db, MONDAY_0830_CHICAGO)["daily"] == 2
    # 22:00 UTC Monday is 07:00 Tuesday in Tokyo (before its hour) and 16:00 in Chicago.
    assert summaries.queue_due(db, datetime(2026, 11, 30, 22, 0, tzinfo=UTC))["daily"] == 0
    deliver(db)
    assert sorted(m.subject for m in smtp.inbox) == [
        "Daily summary for Acme Plumbing: Sun 29 Nov 2026",
        "Daily summary for Tokyo Dental: Sun 29 Nov 2026",
    ]
