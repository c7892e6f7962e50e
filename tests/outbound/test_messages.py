"""The durable outbox: messages are written with the change that asked for them, sent by
jobs through a real SMTP server and a Slack stand-in, and delayed (never lost, never
sent twice) by a receiver that is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ringtrail.accounts.sealing import rotate
from ringtrail.crypto import unseal
from ringtrail.errors import Invalid
from ringtrail.outbound import messages
from ringtrail.storage.models import OutboundMessage
from tests.helpers import run_jobs
from tests.outbound.standins import SmtpServer


@pytest.fixture
def now() -> datetime:
    """The injected clock's start: just after the messages a test writes."""
    return datetime.now(UTC) + timedelta(seconds=1)


def rows(db) -> list[OutboundMessage]:
    query = select(OutboundMessage).order_by(OutboundMessage.id)
    return list(db.scalars(query.execution_options(populate_existing=True)))


@pytest.mark.postgres
def test_an_email_is_written_with_its_transaction_and_sent_through_smtp(app, db, smtp, now):
    app.config["SMTP_URL"] = smtp.url
    app.config["MAIL_FROM"] = "Calls <calls@example.org>"
    messages.queue_email(db, ["b@example.com", "a@example.com"], "Rolled back", "never")
    db.rollback()
    assert rows(db) == []

    messages.queue_email(db, ["a@example.com"], "New call", "A call came in.\n", agency_id=None)
    db.commit()
    assert messages.send_due(db, now) == {"sent": 1, "retry": 0, "failed": 0}

    [got] = smtp.inbox
    assert got.recipients == ["a@example.com"]
    assert got.subject == "New call"
    assert got.message["From"] == "Calls <calls@example.org>"
    assert got.body.strip() == "A call came in."
    [row] = rows(db)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, now)
    assert messages.send_due(db, now + timedelta(hours=1))["sent"] == 0
    assert len(smtp.inbox) == 1


def test_a_commit_enqueues_the_job_that_sends(app, db, smtp):
    app.config["SMTP_URL"] = smtp.url
    messages.queue_email(db, ["a@example.com"], "Right away", "body")
    db.commit()
    assert run_jobs(app) >= 1
    assert [m.subject for m in smtp.inbox] == ["Right away"]


@pytest.mark.postgres
def test_a_mail_server_that_is_down_delays_the_message_which_is_sent_once_it_is_back(app, db, now):
    server = SmtpServer()  # not started: its port refuses connections
    app.config["SMTP_URL"] = server.url
    messages.queue_email(db, ["a@example.com"], "Delayed", "body")
    db.commit()

    assert messages.send_due(db, now) == {"sent": 0, "retry": 1, "failed": 0}
    [row] = rows(db)
    assert row.status == "queued" and row.attempts == 1
    assert row.next_attempt_at == now + timedelta(seconds=messages.FIRST_BACKOFF)
    assert "Connection" in row.last_error or "refused" in row.last_error

    # Still down a minute later: the wait doubles.
    later = row.next_attempt_at
    assert messages.send_due(db, later)["retry"] == 1
    assert rows(db)[0].next_attempt_at == later + timedelta(seconds=2 * messages.FIRST_BACKOFF)

    server.start()
    try:
        assert messages.send_due(db, later + timedelta(seconds=30))["sent"] == 0  # not yet due
        back = later + timedelta(seconds=2 * messages.FIRST_BACKOFF)
        assert messages.send_due(db, back)["sent"] == 1
        assert messages.send_due(db, back + timedelta(hours=2))["sent"] == 0
        assert [m.subject for m in server.inbox] == ["Delayed"]
    finally:
        server.stop()
    [row] = rows(db)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, "")


def test_the_backoff_doubles_up_to_an_hour():
    waits = [messages.backoff(n).total_seconds() for n in range(1, 10)]
    assert waits[:4] == [60, 120, 240, 480]
    assert waits[-1] == messages.MAX_BACKOFF


def test_without_an_smtp_url_mail_waits_then_expires_with_the_reason(app, db, smtp, now):
    assert app.config["SMTP_URL"] is None
    messages.queue_email(db, ["a@example.com"], "Held", "body")
    db.commit()
    with app.app_context():
        assert not messages.mail_enabled()
    assert messages.send_due(db, now + timedelta(hours=1)) == {"sent": 0, "retry": 0, "failed": 0}
    [row] = rows(db)
    assert (row.status, row.attempts) == ("queued", 0)

    # Set within the three days: it goes.
    app.config["SMTP_URL"] = smtp.url
    assert messages.send_due(db, now + timedelta(hours=2))["sent"] == 1
    assert len(smtp.inbox) == 1

    app.config["SMTP_URL"] = None
    messages.queue_email(db, ["a@example.com"], "Too late", "body")
    db.commit()
    messages.send_due(db, datetime.now(UTC) + messages.MAX_AGE + timedelta(minutes=1))
    late = rows(db)[-1]
    assert (late.status, late.last_error) == ("expired", messages.MAIL_OFF)


def test_a_permanent_refusal_fails_at_once(app, db, slack, now):
    slack.status = 404
    messages.queue_slack(db, slack.url, "hello")
    db.commit()
    assert messages.send_due(db, now)["failed"] == 1
    [row] = rows(db)
    assert row.status == "failed" and "404" in row.last_error
    assert messages.send_due(db, now + timedelta(days=1))["failed"] == 0


@pytest.mark.postgres
def test_slack_posts_json_text_and_its_url_is_sealed_at_rest(app, db, slack, now):
    messages.queue_slack(db, slack.url, "A call from google", client_id=None)
    db.commit()
    [row] = rows(db)
    assert slack.url not in row.slack_url and "secret" not in row.slack_url
    assert unseal(row.slack_url) == slack.url

    slack.status = 500  # Slack down: delayed, not lost
    assert messages.send_due(db, now)["retry"] == 1
    slack.status = 200
    assert messages.send_due(db, now + timedelta(minutes=5))["sent"] == 1
    assert slack.posts == [{"text": "A call from google"}]
    assert slack.paths == ["/services/T000/B000/secret"]

    assert rotate(db) >= 1  # the sealed URL is among the secrets a key rotation reseals
    assert unseal(rows(db)[0].slack_url) == slack.url


def test_a_slack_url_that_is_not_a_url_is_refused(app, db):
    with pytest.raises(Invalid, match="https://"):
        messages.queue_slack(db, "javascript:alert(1)", "x")


@pytest.mark.postgres
def test_a_key_writes_a_message_once(app, db):
    first = messages.queue_email(db, ["a@example.com"], "Once", "body", key="user1:call1:new")
    again = messages.queue_email(db, ["a@example.com"], "Once", "body", key="user1:call1:new")
    db.commit()
    third = messages.queue_email(db, ["a@example.com"], "Once", "body", key="user1:call1:new")
    db.commit()
    assert first is not None and again is None and third is None
    assert len(rows(db)) == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", ("mail.example.com", 25, False, False, None, None)),
        (
            "smtp://me%40x.org:p%3Ass@mail.example.com:587?starttls=1",
            ("mail.example.com", 587, False, True, "me@x.org", "p:ss"),
        ),
        ("smtps://u:p@mail.example.com", ("mail.example.com", 465, True, False, "u", "p")),
    ],
)
def test_smtp_urls_are_read(url, expected):
    c = messages.parse_smtp_url(url)
    assert (c.host, c.port, c.tls, c.starttls, c.user, c.password) == expected


def test_an_smtp_url_of_another_scheme_is_refused():
    with pytest.raises(ValueError, match="smtp://"):
        messages.parse_smtp_url("http://mail.example.com")
