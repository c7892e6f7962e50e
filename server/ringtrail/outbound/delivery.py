"""Sending deliveries: claim, sign, POST, and decide what follows.

Everything that matters is in SQL, so a Redis restart or a worker killed with SIGKILL
loses nothing:

- a delivery is **claimed** by one conditional UPDATE (``pending`` and due, or
  ``sending`` with an expired lease) committed before the request goes out; a worker
  that dies mid-request leaves it ``sending``, and once its lease (the timeout and a
  margin) is over the next sweep claims it again and sends the same message id;
- **order per call**: a call's delivery waits while an earlier one of the same call to
  the same endpoint is not yet delivered or given up;
- **answers**: 2xx delivered; 410 Gone disables the endpoint (what waits stays, and goes
  when it is enabled again); anything else (no answer, a timeout, 3xx, 4xx, 5xx) is
  retried with exponential backoff and jitter (:data:`SCHEDULE`, about four days) and
  then given up (``failed``; it can be sent again by hand);
- an endpoint with no success since its first failure :data:`PAUSE_AFTER` ago is
  **paused**: its deliveries wait, the dashboard says so, and its admins are told.

Jobs: :func:`send_due` (queued when a delivery is written, or a retry comes due within
two minutes) and :func:`periodic_sweep` (every minute, from the worker), which pauses
failing endpoints and sends whatever is due. Time is passed in (``now``) so that tests
run days in seconds; the ``webhook-timestamp`` of a request is always the real time
of the attempt, as receivers check it against their own clock.
"""

from __future__ import annotations

import logging
import random
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session, aliased
from standardwebhooks import Webhook

from ringtrail.accounts import audit
from ringtrail.context import setting
from ringtrail.outbound import notices
from ringtrail.outbound.webhooks import DISABLED, ENABLED, PAUSED, set_state, signing_secrets
from ringtrail.storage.jobs import Periodic
from ringtrail.storage.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, utcnow
from ringtrail.storage.sql import new_session

log = logging.getLogger(__name__)

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"
STATUSES = (PENDING, SENDING, DELIVERED, FAILED)
UNDONE = (PENDING, SENDING)
# Seconds before attempt n + 1 after n failed ones: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 14 h, 20 h, 24 h, 24 h; about 4.2 days in all, past the 3-day pause.
SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400, 86400)
JITTER = 0.1  # ± this share of each wait, so a fleet of retries does not stampede
PAUSE_AFTER = timedelta(days=3)
LEASE_MARGIN = 30  # seconds past the timeout before a claim is taken back
SOON = 120  # a retry due within this many seconds gets a job of its own
BATCH = 200  # deliveries per run of send_due; the next run carries on
USER_AGENT = "Ringtrail-Webhooks/1"
LOG_DAYS = 30  # delivered and given-up deliveries (their bodies) are kept this long


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook is answered where it was sent: a redirect is an answer like any other."""

    def redirect_request(self, *_args, **_kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def backoff(failed: int, rand: random.Random | None = None) -> float | None:
    """Seconds to wait after ``failed`` failed attempts; None: give up."""
    if failed < 1 or failed > len(SCHEDULE):
        return None
    spread = (rand or random).uniform(1 - JITTER, 1 + JITTER)
    return SCHEDULE[failed - 1] * spread


def timeout() -> float:
    """Seconds an attempt may take (``RINGTRAIL_WEBHOOKS_TIMEOUT``)."""
    return float(setting("WEBHOOKS_TIMEOUT"))


def signed_headers(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> dict[str, str]:
    """The Standard Webhooks headers of an attempt made now (one signature per secret)."""
    stamp = datetime.now(UTC).replace(microsecond=0)
    signatures = [
        Webhook(secret).sign(delivery.message_id, stamp, delivery.body)
        for secret in signing_secrets(endpoint)
    ]
    return {
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": " ".join(signatures),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def post(url: str, body: str, headers: dict[str, str], wait: float) -> tuple[int | None, str]:
    """POST the body; (status code, error in words). None: no answer at all."""
    if not url.startswith(("https://", "http://")):  # check_url let no other scheme in
        return None, "the URL is not http(s)"
    data = body.encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=wait) as response:  # noqa: S310
            response.read(1024)  # a little of the answer, never kept
            return response.status, ""
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, f"answered {exc.code}"
    except TimeoutError:
        return None, f"no answer within {wait:g} s"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            return None, f"no answer within {wait:g} s"
        return None, f"could not connect: {reason}"[:200]


def _earlier_undone():
    earlier = aliased(WebhookDelivery)
    return exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.call_id == WebhookDelivery.call_id,
        earlier.id < WebhookDelivery.id,
        earlier.status.in_(UNDONE),
    )


def _claimable(now: datetime):
    return or_(
        and_(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now),
        and_(WebhookDelivery.status == SENDING, WebhookDelivery.lease_until < now),
    )


def due(db: Session, now: datetime, endpoint_id: int | None = None, limit: int = BATCH):
    """Ids of deliveries to send now, oldest first: of enabled endpoints, due or
    abandoned mid-attempt, and not waiting for an earlier event of the same call."""
    stmt = (
        select(WebhookDelivery.id, WebhookDelivery.endpoint_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookEndpoint.state == ENABLED,
            _claimable(now),
            or_(WebhookDelivery.call_id.is_(None), ~_earlier_undone()),
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    return list(db.execute(stmt).all())


def claim(db: Session, delivery_id: int, now: datetime, *, manual: bool = False) -> bool:
    """Take the delivery for one attempt (committed); False if another took it or it is
    not due. A manual resend claims any delivery not in flight."""
    lease = now + timedelta(seconds=timeout() + LEASE_MARGIN)
    if manual:
        allowed = or_(
            WebhookDelivery.status != SENDING,
            WebhookDelivery.lease_until < now,
        )
    else:
        allowed = _claimable(now)
    result = db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, allowed)
        .values(status=SENDING, lease_until=lease)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    return result.rowcount == 1


def attempt(
    db: Session, delivery_id: int, now: datetime | None = None, *, manual: bool = False
) -> str | None:
    """Claim the delivery, send it once and record the attempt; its status after, or
    None when it could not be claimed."""
    now = now or utcnow()
    if not claim(db, delivery_id, now, manual=manual):
        return None
    delivery = db.get(WebhookDelivery, delivery_id, populate_existing=True)
    endpoint = db.get(WebhookEndpoint, delivery.endpoint_id)
    url, body, headers = endpoint.url, delivery.body, signed_headers(endpoint, delivery)
    db.commit()  # no transaction stays open while the receiver takes its time
    wait = timeout()
    started = time.monotonic()
    code, error = post(url, body, headers, wait)
    latency = int((time.monotonic() - started) * 1000)
    delivery = db.get(WebhookDelivery, delivery_id, populate_existing=True)
    endpoint = db.get(WebhookEndpoint, delivery.endpoint_id, populate_existing=True)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_code = code
    delivery.latency_ms = latency
    delivery.error = error
    delivery.lease_until = None
    db.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            at=now,
            response_code=code,
            latency_ms=latency,
            error=error,
            manual=manual,
        )
    )
    if code is not None and 200 <= code < 300:
        delivery.status = DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        endpoint.last_success_at = now
        endpoint.failing_since = None
    elif code == 410:
        delivery.status = PENDING  # it waits for the endpoint to be enabled again
        delivery.next_attempt_at = now
        if endpoint.state != DISABLED:
            set_state(endpoint, DISABLED, "the receiver answered 410 Gone", now)
            audit.record(
                db, "disable", "webhook", endpoint.id, {"reason": "410 Gone"},
                agency_id=endpoint.agency_id,
            )  # fmt: skip
    else:
        if endpoint.failing_since is None:
            endpoint.failing_since = now
        wait_next = backoff(delivery.attempts)
        if wait_next is None:
            delivery.status = FAILED
            delivery.next_attempt_at = None
        else:
            delivery.status = PENDING
            delivery.next_attempt_at = now + timedelta(seconds=wait_next)
    status = delivery.status
    retry_at = delivery.next_attempt_at if status == PENDING and code != 410 else None
    endpoint_id = endpoint.id
    db.commit()
    if retry_at is not None and (retry_at - now).total_seconds() <= SOON and not manual:
        _try_enqueue(endpoint_id, retry_at)
    return status


def send_due(endpoint_id: int | None = None, now: float | None = None) -> int:
    """The job: send what is due (of one endpoint, or of all); returns attempts made.

    After one failed attempt to an endpoint, its other deliveries wait for the next run,
    so a receiver that hangs costs one timeout per run, not one per delivery."""
    at = datetime.fromtimestamp(now, UTC) if now is not None else None
    with new_session() as db:
        return send_all_due(db, at, endpoint_id)


def send_all_due(db: Session, now: datetime | None = None, endpoint_id: int | None = None) -> int:
    """Send every due delivery (see :func:`send_due`) with this session."""
    made, failing = 0, set()
    while made < BATCH:
        rows = [r for r in due(db, now or utcnow(), endpoint_id) if r[1] not in failing]
        if not rows:
            break
        progressed = False
        for delivery_id, owner in rows:
            if owner in failing:
                continue
            status = attempt(db, delivery_id, now)
            if status is None:
                continue
            made += 1
            progressed = True
            if status != DELIVERED:
                failing.add(owner)
        if not progressed:
            break
    return made


def pause_failing(db: Session, now: datetime | None = None) -> list[int]:
    """Pause every enabled endpoint with no success since its first failure
    :data:`PAUSE_AFTER` ago; tell its admins. Returns the endpoints paused."""
    now = now or utcnow()
    failing = db.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.state == ENABLED,
            WebhookEndpoint.failing_since.is_not(None),
            WebhookEndpoint.failing_since <= now - PAUSE_AFTER,
        )
    ).all()
    paused = []
    for endpoint in failing:
        days = (now - endpoint.failing_since).days
        set_state(
            endpoint, PAUSED, f"failing for {days} days: no success since the first failure", now
        )
        audit.record(
            db, "pause", "webhook", endpoint.id,
            {"failing_since": endpoint.failing_since.isoformat(), "url": endpoint.url},
            agency_id=endpoint.agency_id,
        )  # fmt: skip
        notices.endpoint_paused(db, endpoint)
        paused.append(endpoint.id)
    db.commit()
    return paused


def forget_old(db: Session, now: datetime | None = None) -> int:
    """Delete deliveries delivered or given up more than :data:`LOG_DAYS` ago (a body
    holds the call's visit: it is not kept longer than the log needs it)."""
    cut = (now or utcnow()) - timedelta(days=LOG_DAYS)
    old = select(WebhookDelivery.id).where(
        WebhookDelivery.status.in_((DELIVERED, FAILED)),
        WebhookDelivery.created_at < cut,
        or_(WebhookDelivery.last_attempt_at.is_(None), WebhookDelivery.last_attempt_at < cut),
    )
    ids = list(db.scalars(old.limit(BATCH * 5)))
    if ids:
        db.execute(
            delete(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
    db.commit()
    return len(ids)


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Pause failing endpoints, send what is due, forget old log entries."""
    with new_session() as db:
        paused = pause_failing(db, now)
        sent = send_all_due(db, now)
        forgotten = forget_old(db, now)
    return {"paused": len(paused), "attempts": sent, "forgotten": forgotten}


def periodic_sweep() -> dict[str, int]:
    """The periodic job (every minute, see :data:`PERIODIC`)."""
    return sweep()


PERIODIC = Periodic(periodic_sweep, cron="* * * * *", timeout=600)


def resend(db: Session, delivery: WebhookDelivery, now: datetime | None = None) -> str | None:
    """Send a delivery again now, by hand, with the same message id (whatever its status
    and its endpoint's state); its status after, None if it is in flight."""
    return attempt(db, delivery.id, now, manual=True)


def enqueue_sending(endpoint_id: int) -> None:
    """Queue a :func:`send_due` job for the endpoint (the caller handles a Redis error)."""
    from ringtrail.storage.clients import get_queue

    get_queue().enqueue(send_due, endpoint_id, job_timeout=600, result_ttl=600)


def resend_job(delivery_id: int) -> str | None:
    """The job of a manual resend (or a test event): one attempt now, whatever the
    endpoint's state; its status after (None: another attempt was in flight)."""
    with new_session() as db:
        return attempt(db, delivery_id, manual=True)


def enqueue_resend(delivery_id: int) -> None:
    """Queue :func:`resend_job` (the caller handles a Redis error)."""
    from ringtrail.storage.clients import get_queue

    get_queue().enqueue(resend_job, delivery_id, job_timeout=600, result_ttl=600)


def _try_enqueue(endpoint_id: int, at: datetime) -> None:
    try:
        from ringtrail.storage.clients import get_queue

        get_queue().enqueue_at(at, send_due, endpoint_id, job_timeout=600, result_ttl=600)
    except Exception as exc:  # the sweep sends it
        log.info("webhooks: could not schedule a retry (%s)", exc)
