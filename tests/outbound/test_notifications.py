"""Notifications of calls: who is told, what they read, once, through a real SMTP server
and a Slack stand-in; a mail server that is down never touches the call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ringtrail import hashing
from ringtrail.accounts.auth import cli_principal, user_principal
from ringtrail.calls import outcomes
from ringtrail.calls.rules import on_completed
from ringtrail.outbound import messages, preferences
from ringtrail.storage.models import Call, OutboundMessage, VisitSnapshot
from tests.helpers import PUBLIC_URL, add_call, make_site, make_user
from tests.outbound.standins import SmtpServer

CALLER = "+12125550143"
STARTED = datetime(2026, 11, 30, 19, 5, tzinfo=UTC)  # 14:05 in New York


def later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=1)


def completed_call(db, setup, *, answered=True, caller=CALLER, started=STARTED, campaign=""):
    """A call as the intake leaves it before its rules run: completed, rules pending."""
    call = add_call(
        db,
        setup,
        started,
        caller=caller,
        answered=answered,
        talk=95 if answered else None,
        caller_hash=hashing.caller_hash(caller) if caller else None,
    )
    if campaign:
        snap = VisitSnapshot(
            session_id=f"s{call.id}",
            site_id=setup.site.id,
            started_at=started - timedelta(minutes=3),
            source="google",
            medium="cpc",
            campaign=campaign,
        )
        db.add(snap)
        db.flush()
        call.visit_id = snap.id
        db.commit()
    return call


def complete(db, call: Call) -> None:
    on_completed(db, call)
    db.commit()


def opt_in(db, user, client, **choices):
    prefs = preferences.set_preferences(db, user_principal(user), user, client, choices)
    db.commit()
    return prefs


@pytest.fixture
def site(db):
    setup = make_site(db, numbers=2)
    setup.client.name = "Acme Plumbing"
    setup.pool.name = "Main"
    db.commit()
    return setup


@pytest.mark.postgres
def test_a_user_who_asked_is_emailed_once_about_a_missed_first_time_call(app, db, site, smtp):
    app.config["SMTP_URL"] = smtp.url
    asked = make_user(db, site, "client_manager", client=site.client)
    make_user(db, site, "client_manager", client=site.client)  # asked for nothing
    opt_in(db, asked, site.client, missed_calls=True, first_time_callers=True)

    call = completed_call(db, site, answered=False, campaign="winter-boilers")
    complete(db, call)
    complete(db, call)  # a job that runs again writes nothing more
    assert messages.send_due(db, later())["sent"] == 1

    [mail] = smtp.inbox
    assert mail.recipients == [asked.email]
    assert mail.subject == "Missed call, first-time caller: Acme Plumbing"
    body = mail.body
    assert "Mon 30 Nov 2026, 14:05 (America/New_York)" in body
    assert "+1 212-555-0143" in body
    assert "pool Main" in body
    assert "google / cpc" in body and "winter-boilers" in body
    assert "not answered" in body
    assert f"{PUBLIC_URL}/dashboard/calls/{call.id}" in body
    assert "recording" not in body.lower()


def test_answered_calls_from_repeat_callers_reach_only_who_asked_about_every_call(
    app, db, site, smtp
):
    app.config["SMTP_URL"] = smtp.url
    every = make_user(db, site, "report_only", client=site.client)
    missed_only = make_user(db, site, "client_manager", client=site.client)
    opt_in(db, every, site.client, new_calls=True)
    opt_in(db, missed_only, site.client, missed_calls=True, first_time_callers=True)

    complete(db, completed_call(db, site, started=STARTED - timedelta(days=2)))
    smtp.inbox.clear()
    messages.send_due(db, later())
    smtp.inbox.clear()
    complete(db, completed_call(db, site))  # answered, and the caller called before
    messages.send_due(db, later())

    assert [(m.recipients, m.subject) for m in smtp.inbox] == [
        ([every.email], "New call: Acme Plumbing")
    ]
    assert "1 min 35 s, answered" in smtp.inbox[0].body


def test_a_call_becoming_qualified_is_announced_once(app, db, site, smtp):
    app.config["SMTP_URL"] = smtp.url
    user = make_user(db, site, "agency_admin")
    opt_in(db, user, site.client, qualified_leads=True)
    call = completed_call(db, site)
    complete(db, call)
    assert db.scalar(select(OutboundMessage.id)) is None  # completing is not qualifying

    outcomes.apply(db, call, {"lead_status": "qualified"}, cli_principal())
    db.commit()
    outcomes.apply(db, call, {"lead_status": "customer"}, cli_principal())
    outcomes.apply(db, call, {"lead_status": "qualified"}, cli_principal())
    db.commit()
    messages.send_due(db, later())
    assert [m.subject for m in smtp.inbox] == ["Qualified lead: Acme Plumbing"]
    assert "Outcome:" in smtp.inbox[0].body and "qualified" in smtp.inbox[0].body


@pytest.mark.postgres
def test_hipaa_mode_notifications_carry_no_caller_number(app, db, site, smtp, slack):
    app.config["SMTP_URL"] = smtp.url
    site.client.hipaa = True
    db.commit()
    user = make_user(db, site, "agency_admin")
    preferences.set_client_settings(
        db, cli_principal(), site.client, {"slack_webhook_url": slack.url}
    )
    opt_in(db, user, site.client, new_calls=True, by_slack=True)
    complete(db, completed_call(db, site))
    messages.send_due(db, later())

    [mail] = smtp.inbox
    [post] = slack.posts
    for text in (mail.body, mail.subject, post["text"]):
        assert "555" not in text.replace(site.numbers[0], "")
        assert "0143" not in text
    assert "hidden (HIPAA mode)" in mail.body and "hidden (HIPAA mode)" in post["text"]


def test_slack_gets_one_post_per_call_however_many_users_chose_it(app, db, site, slack):
    preferences.set_client_settings(
        db, cli_principal(), site.client, {"slack_webhook_url": slack.url}
    )
    for _ in range(3):
        user = make_user(db, site, "client_manager", client=site.client)
        opt_in(db, user, site.client, missed_calls=True, by_slack=True, by_email=False)
    complete(db, completed_call(db, site, answered=False))
    assert messages.send_due(db, later()) == {"sent": 1, "retry": 0, "failed": 0}
    [post] = slack.posts
    assert post["text"].startswith("*Missed call")


def test_blocked_calls_and_inactive_users_are_never_told(app, db, site, smtp):
    app.config["SMTP_URL"] = smtp.url
    gone = make_user(db, site, "client_manager", client=site.client)
    opt_in(db, gone, site.client, new_calls=True)
    gone.active = False
    here = make_user(db, site, "client_manager", client=site.client)
    opt_in(db, here, site.client, new_calls=True)
    blocked = completed_call(db, site)
    blocked.blocked = True
    db.commit()
    complete(db, blocked)
    complete(db, completed_call(db, site, caller="+13105550199"))
    messages.send_due(db, later())
    assert [m.recipients for m in smtp.inbox] == [[here.email]]


@pytest.mark.postgres
def test_a_mail_server_that_is_down_never_touches_the_call(app, db, site):
    server = SmtpServer()
    app.config["SMTP_URL"] = server.url  # nobody listens there yet
    user = make_user(db, site, "agency_admin")
    opt_in(db, user, site.client, new_calls=True)
    call = completed_call(db, site)
    complete(db, call)
    assert messages.send_due(db, later())["retry"] == 1
    db.expire_all()
    assert db.get(Call, call.id).rules_ran_at is not None
    server.start()
    try:
        assert messages.send_due(db, later() + timedelta(minutes=2))["sent"] == 1
        assert len(server.inbox) == 1
    finally:
        server.stop()


def test_another_agencys_user_is_never_told_about_the_client(app, db, site, smtp):
    app.config["SMTP_URL"] = smtp.url
    other = make_site(db, numbers=1, number_start=50)
    stranger = make_user(db, other, "agency_admin")
    with pytest.raises(Exception, match="cannot be told"):
        opt_in(db, stranger, site.client, new_calls=True)
    db.rollback()
    complete(db, completed_call(db, site))
    messages.send_due(db, later())
    assert smtp.inbox == []


@pytest.mark.postgres
def test_a_notification_goes_with_its_call(app, db, site, smtp):
    """Retention and erasure delete calls through ``delete_calls``: the messages about a
    call (which may name its caller) go with it, sent or not."""
    from ringtrail.privacy.retention import delete_calls

    app.config["SMTP_URL"] = smtp.url
    user = make_user(db, site, "agency_admin")
    opt_in(db, user, site.client, new_calls=True)
    kept, gone = completed_call(db, site), completed_call(db, site, caller="+13105550199")
    complete(db, kept)
    complete(db, gone)
    messages.send_due(db, later())
    assert len(smtp.inbox) == 2
    delete_calls(db, [gone.id])
    db.commit()
    left = db.scalars(select(OutboundMessage)).all()
    assert [m.call_id for m in left] == [kept.id]


def test_sent_messages_are_forgotten_after_thirty_days(app, db, smtp):
    app.config["SMTP_URL"] = smtp.url
    messages.queue_email(db, ["a@example.com"], "Old", "body")
    db.commit()
    messages.send_due(db, later())
    messages.queue_email(db, ["a@example.com"], "Waiting", "body")  # queued: kept
    db.commit()
    assert messages.forget_done(db, later() + timedelta(days=29)) == 0
    assert messages.forget_done(db, later() + timedelta(days=31)) == 1
    assert [m.subject for m in db.scalars(select(OutboundMessage))] == ["Waiting"]


def test_a_call_nobody_asked_about_writes_nothing(app, db, site):
    make_user(db, site, "agency_admin")
    call = completed_call(db, site, answered=False)
    complete(db, call)
    outcomes.apply(db, call, {"lead_status": "qualified"}, cli_principal())
    db.commit()
    assert db.scalars(select(OutboundMessage)).all() == []


@pytest.mark.postgres
def test_a_notification_that_fails_in_sql_never_costs_the_call_its_change(
    app, db, site, monkeypatch
):
    """A failed statement aborts a PostgreSQL transaction: the listener's savepoint keeps
    the call's own change (its rules ran) committable."""
    from sqlalchemy import text

    from ringtrail.outbound import notifications

    user = make_user(db, site, "agency_admin")
    opt_in(db, user, site.client, new_calls=True)

    def broken(db, call, client, reasons):
        db.execute(text("SELECT no_such_column FROM no_such_table"))

    monkeypatch.setattr(notifications, "content", broken)
    call = completed_call(db, site)
    complete(db, call)
    db.expire_all()
    assert db.get(Call, call.id).rules_ran_at is not None
    assert db.scalars(select(OutboundMessage)).all() == []


def test_a_worker_killed_mid_send_leaves_the_message_to_be_sent_again(app, db, smtp):
    """Claimed, then nothing recorded (the worker died): after the claim runs out, the
    next sweep sends it (at least once)."""
    app.config["SMTP_URL"] = smtp.url
    messages.queue_email(db, ["a@example.com"], "Survives", "body")
    db.commit()
    start = later()
    [claimed] = messages._claim(db, start, True)  # ... and the worker dies here
    assert claimed.attempts == 1
    assert messages.send_due(db, start + timedelta(minutes=1))["sent"] == 0
    assert messages.send_due(db, start + messages.CLAIM)["sent"] == 1
    assert [m.subject for m in smtp.inbox] == ["Survives"]
