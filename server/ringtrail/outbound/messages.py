"""The durable outbox: e-mails and Slack posts written in SQL, sent later by jobs.

:func:`queue_email` and :func:`queue_slack` add a row in the caller's transaction (so a
message exists if and only if the change that asked for it committed). Once that
transaction commits, an RQ job is enqueued that sends what is due (:func:`send_job`);
the worker's periodic sweep (:data:`PERIODIC`, every minute) sends whatever that job
missed (Redis away, a worker killed mid-send). Every bit of sending state (``attempts``,
``next_attempt_at``, ``status``) is in SQL, so a Redis restart loses nothing.

A failed attempt is tried again after an exponential backoff (1 min, 2, 4 … capped at an
hour) until the message is :data:`MAX_AGE` old, then it is marked "expired". A refusal
that will not change (an address the mail server rejects for good, a 4xx from Slack
other than 408/429) marks it "failed" at once. A mail server or Slack that is down only
delays messages: sending never touches calls.

E-mail goes through ``RINGTRAIL_SMTP_URL``:

- ``smtp://host:25``: plain SMTP; ``smtp://user:pass@host:587?starttls=1``: upgraded with
  STARTTLS before logging in; ``smtps://user:pass@host:465``: TLS from the first byte.
  User and password are URL-encoded (``%40`` for ``@``).
- Without it, e-mail is off: messages stay queued (and are not tried) for up to
  :data:`MAX_AGE`, so that setting the URL soon after sends them; older ones are marked
  "expired" with the reason. Nothing is dropped without its row saying why.

Slack goes through an incoming-webhook URL (``POST {"text": ...}``); the URL is a secret
and is stored sealed (``ringtrail.crypto``), in the message row as in the settings.

Sent, failed and expired messages are deleted after :data:`KEEP_DONE` (30 days); a
notification about a call goes with the call (retention and erasure delete it).

Sending is at least once: a worker killed between the send and the commit that records
it sends that message again after :data:`CLAIM` (a duplicate e-mail, never a lost one).
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import delete, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ringtrail.context import setting
from ringtrail.crypto import seal, unseal
from ringtrail.errors import Invalid
from ringtrail.storage.jobs import Periodic
from ringtrail.storage.models import OutboundMessage

log = logging.getLogger(__name__)

EMAIL = "email"
SLACK = "slack"
QUEUED, SENT, FAILED, EXPIRED = "queued", "sent", "failed", "expired"
STATUSES = (QUEUED, SENT, FAILED, EXPIRED)

MAX_AGE = timedelta(hours=72)  # an unsent message older than this expires
FIRST_BACKOFF = 60  # seconds before the second attempt; doubles each time
MAX_BACKOFF = 3600
CLAIM = timedelta(minutes=15)  # a claimed message is tried again after this if unrecorded
BATCH = 50  # messages per claim; a job loops until nothing is due
KEEP_DONE = timedelta(days=30)  # sent, failed and expired messages are kept this long
JOB = "ringtrail.outbound.messages.send_job"
MAIL_OFF = "e-mail is off: RINGTRAIL_SMTP_URL is not set"


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


# ---------------------------------------------------------------- writing messages


def queue_email(
    db: Session,
    to: list[str],
    subject: str,
    body: str,
    *,
    agency_id: int | None = None,
    client_id: int | None = None,
    key: str | None = None,
    call_id: int | None = None,
) -> OutboundMessage | None:
    """Queue one plain-text e-mail to ``to`` in the caller's transaction (it is sent once
    that commits). ``key``, when given, makes it once-only: a second message with the same
    key is not written (returns None). ``call_id`` names the call it is about: the
    message goes when the call does (retention, erasure). Returns the message row."""
    recipients = sorted({a.strip() for a in to if a and a.strip()})
    if not recipients:
        return None
    return _add(
        db,
        OutboundMessage(
            channel=EMAIL,
            recipients=recipients,
            subject=subject[:300],
            body=body,
            agency_id=agency_id,
            client_id=client_id,
            dedupe_key=key,
            call_id=call_id,
        ),
    )


def queue_slack(
    db: Session,
    webhook_url: str,
    text: str,
    *,
    agency_id: int | None = None,
    client_id: int | None = None,
    key: str | None = None,
    sealed: bool = False,
    call_id: int | None = None,
) -> OutboundMessage | None:
    """Queue one Slack post of ``text`` to an incoming-webhook URL, in the caller's
    transaction. ``webhook_url`` is in clear, or already sealed when ``sealed`` (as a
    client's settings hold it): either way the row keeps it sealed. ``key`` as for
    :func:`queue_email`."""
    if not webhook_url:
        return None
    stored = webhook_url if sealed else seal(check_slack_url(webhook_url))
    return _add(
        db,
        OutboundMessage(
            channel=SLACK,
            recipients=[],
            body=text,
            slack_url=stored,
            agency_id=agency_id,
            client_id=client_id,
            dedupe_key=key,
            call_id=call_id,
        ),
    )


def check_slack_url(url: str) -> str:
    """An incoming-webhook URL as given, or Invalid saying what is wrong."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid("a Slack incoming-webhook URL starts with https://")
    if len(url) > 500:
        raise Invalid("that Slack URL is too long (500 characters at most)")
    return url


def _add(db: Session, message: OutboundMessage) -> OutboundMessage | None:
    key = message.dedupe_key
    if key is not None:
        if db.scalar(select(OutboundMessage.id).where(OutboundMessage.dedupe_key == key)):
            return None
        # A concurrent job may write the same key between our read and our insert: the
        # savepoint keeps the caller's transaction (a call's record) whole either way.
        try:
            with db.begin_nested():
                db.add(message)
        except IntegrityError:
            return None
    else:
        db.add(message)
        db.flush()
    _wake_after_commit(db)
    return message


def _wake_after_commit(db: Session) -> None:
    db.info["outbox_wake"] = True
    if not event.contains(db, "after_commit", _wake):
        event.listen(db, "after_commit", _wake)
        event.listen(db, "after_soft_rollback", _forget)


def _forget(session: Session, _previous) -> None:
    if not session.in_transaction():
        session.info.pop("outbox_wake", None)


def _wake(session: Session) -> None:
    """After the commit: a job to send now. If Redis is away, the minute's sweep sends.
    Releasing a savepoint fires this too, inside the outer transaction: it waits for the
    outermost commit, the one that makes the messages visible to the job."""
    if session.in_nested_transaction() or not session.info.pop("outbox_wake", False):
        return
    try:
        from ringtrail.storage.clients import get_queue

        get_queue().enqueue(JOB, result_ttl=0, failure_ttl=24 * 3600, description="outbox")
    except Exception as exc:
        log.warning("outbox: could not enqueue the send job (%s); the sweep will send", exc)


# ---------------------------------------------------------------- SMTP settings


@dataclass(frozen=True)
class Smtp:
    """Where e-mail goes, read from ``RINGTRAIL_SMTP_URL``."""

    host: str
    port: int
    tls: bool  # implicit TLS (smtps://)
    starttls: bool
    user: str | None
    password: str | None


def parse_smtp_url(url: str | None) -> Smtp | None:
    """``RINGTRAIL_SMTP_URL`` read (None when unset); ValueError when it cannot be."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("RINGTRAIL_SMTP_URL must look like smtp://user:pass@host:587?starttls=1")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    tls = parts.scheme == "smtps"
    starttls = query.get("starttls", "").lower() in ("1", "true", "yes", "on")
    return Smtp(
        host=parts.hostname,
        port=parts.port or (465 if tls else 587 if starttls else 25),
        tls=tls,
        starttls=starttls and not tls,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def smtp_config() -> Smtp | None:
    """The app's SMTP settings, or None when e-mail is off."""
    return parse_smtp_url(setting("SMTP_URL"))


def mail_enabled() -> bool:
    """Whether e-mail can be sent (``RINGTRAIL_SMTP_URL`` is set and readable)."""
    try:
        return smtp_config() is not None
    except ValueError:
        return False


class Permanent(Exception):
    """A refusal that another attempt will not change."""


class _Mailer:
    """One SMTP connection for a batch, opened on first use."""

    def __init__(self, config: Smtp, timeout: float) -> None:
        self.config, self.timeout, self.conn = config, timeout, None

    def send(self, message: OutboundMessage) -> None:
        mail = EmailMessage()
        mail["From"] = setting("MAIL_FROM")
        mail["To"] = ", ".join(message.recipients)
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain="ringtrail")
        mail.set_content(message.body)
        try:
            conn = self._connect()
            refused = conn.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise Permanent(f"every recipient refused: {codes}") from None
            raise
        except smtplib.SMTPResponseException as exc:
            self.close()
            if exc.smtp_code >= 500 and exc.smtp_code not in (530, 535, 554):
                raise Permanent(f"{exc.smtp_code} {exc.smtp_error!r}") from None
            raise
        except Exception:
            self.close()
            raise
        if refused:
            log.warning("outbox: message %s refused for %d recipient(s)", message.id, len(refused))

    def _connect(self) -> smtplib.SMTP:
        if self.conn is not None:
            return self.conn
        c = self.config
        if c.tls:
            conn = smtplib.SMTP_SSL(
                c.host, c.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            conn = smtplib.SMTP(c.host, c.port, timeout=self.timeout)
            if c.starttls:
                conn.starttls(context=ssl.create_default_context())
        if c.user:
            conn.login(c.user, c.password or "")
        self.conn = conn
        return conn

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except Exception as exc:  # a connection already gone: nothing left to close
                log.debug("outbox: closing the SMTP connection: %s", exc)
            self.conn = None


def post_slack(url: str, text: str, timeout: float) -> None:
    """POST ``{"text": text}`` to a Slack incoming webhook; Permanent for a refusal that
    stays (4xx other than 408 and 429), any other exception for one worth retrying."""
    url = check_slack_url(url)  # http(s) only, never file: or another scheme
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(  # noqa: S310 (the scheme was checked above)
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            answer.read(1024)
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise Permanent(f"Slack answered {exc.code}") from None
        raise RuntimeError(f"Slack answered {exc.code}") from None


# ---------------------------------------------------------------- sending


def backoff(attempts: int) -> timedelta:
    """How long after failed attempt number ``attempts`` (1, 2, …) to try again."""
    return timedelta(seconds=min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, attempts - 1)))


def _claim(db: Session, now: datetime, mail_on: bool) -> list[OutboundMessage]:
    """Take up to BATCH due messages for this sender (others skip them for CLAIM)."""
    query = (
        select(OutboundMessage)
        .where(OutboundMessage.status == QUEUED, OutboundMessage.next_attempt_at <= now)
        .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
        .limit(BATCH)
    )
    if not mail_on:
        expire_unsendable_mail(db, now)
        query = query.where(OutboundMessage.channel != EMAIL)
    taken = []
    for message in db.scalars(query.execution_options(populate_existing=True)).all():
        if message.created_at <= now - MAX_AGE:
            message.status, message.last_error = EXPIRED, message.last_error or "too old"
            continue
        claimed = db.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.id == message.id,
                OutboundMessage.status == QUEUED,
                OutboundMessage.next_attempt_at == message.next_attempt_at,
            )
            .values(next_attempt_at=now + CLAIM, attempts=OutboundMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            taken.append(message.id)
    db.commit()
    if not taken:
        return []
    rows = select(OutboundMessage).where(OutboundMessage.id.in_(taken))
    return list(db.scalars(rows.execution_options(populate_existing=True)).all())


def expire_unsendable_mail(db: Session, now: datetime) -> int:
    """With e-mail off, e-mails older than MAX_AGE are marked expired (with the reason)."""
    return (
        db.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.status == QUEUED,
                OutboundMessage.channel == EMAIL,
                OutboundMessage.created_at <= now - MAX_AGE,
            )
            .values(status=EXPIRED, last_error=MAIL_OFF)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )


def send_due(db: Session, now: datetime | None = None) -> dict[str, int]:
    """Send every message that is due at ``now``; returns counts by what happened
    ("sent", "retry", "failed"). Never raises for a receiver's failure."""
    now = _now(now)
    counts = {"sent": 0, "retry": 0, "failed": 0}
    try:
        config = smtp_config()
    except ValueError as exc:
        log.error("outbox: %s", exc)
        config = None
    timeout = float(setting("OUTBOX_TIMEOUT"))
    mailer = _Mailer(config, timeout) if config else None
    try:
        while batch := _claim(db, now, mailer is not None):
            for message in batch:
                outcome = _send_one(message, mailer, timeout, now)
                counts[outcome] += 1
                db.commit()
            if len(batch) < BATCH:
                break
    finally:
        if mailer is not None:
            mailer.close()
    return counts


def _send_one(message: OutboundMessage, mailer: _Mailer | None, timeout: float, now) -> str:
    try:
        if message.channel == EMAIL:
            if mailer is None:
                raise RuntimeError(MAIL_OFF)
            mailer.send(message)
        elif message.channel == SLACK:
            post_slack(unseal(message.slack_url), message.body, timeout)
        else:
            raise Permanent(f"unknown channel {message.channel!r}")
    except (Permanent, Invalid) as exc:
        message.status, message.last_error = FAILED, str(exc)[:500]
        log.warning("outbox: message %s refused for good: %s", message.id, exc)
        return "failed"
    except Exception as exc:
        message.last_error = f"{type(exc).__name__}: {exc}"[:500]
        message.next_attempt_at = now + backoff(message.attempts)
        log.info("outbox: message %s failed (attempt %s): %s", message.id, message.attempts, exc)
        return "retry"
    message.status, message.sent_at, message.last_error = SENT, now, ""
    return "sent"


def forget_done(db: Session, now: datetime | None = None) -> int:
    """Delete messages sent, failed or expired more than :data:`KEEP_DONE` ago (what they
    said is no longer needed); returns how many went. Commits."""
    cut = _now(now) - KEEP_DONE
    gone = db.execute(
        delete(OutboundMessage)
        .where(OutboundMessage.status != QUEUED, OutboundMessage.created_at < cut)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.commit()
    return gone or 0


def send_job() -> dict[str, int]:
    """The RQ job enqueued after a commit that queued messages (and the periodic sweep,
    which also forgets old messages)."""
    from ringtrail.storage.sql import get_db

    db = get_db()
    try:
        counts = send_due(db)
        forget_done(db)
        return counts
    finally:
        db.close()


PERIODIC = Periodic(send_job, cron="* * * * *", timeout=900)


def counts_by_status(db: Session, agency_id: int | None, client_id: int | None = None) -> dict:
    """How many messages of the agency (or of one client) are in each status."""
    query = select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
    if agency_id is not None:
        query = query.where(OutboundMessage.agency_id == agency_id)
    if client_id is not None:
        query = query.where(OutboundMessage.client_id == client_id)
    found = dict(db.execute(query).all())
    return {status: int(found.get(status, 0)) for status in STATUSES}
