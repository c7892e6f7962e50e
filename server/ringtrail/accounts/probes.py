"""Attempts at objects that are not the principal's, audited off the request path.

An id that is not the principal's answers 404 at once, whether the object is missing or
another tenant's, and the request does exactly the same work either way: it hands the
attempt to :func:`note`, which queues a job, without looking the object up. Status,
message and time then tell a prober nothing. The job (:func:`record_probe`) looks the
object up and writes:

- to the prober's agency, a "denied" entry, always: missing or another tenant's, the
  prober's own log must not tell them apart either (it shows the method, the path and
  the id asked for, and nothing of the owner);
- to the owning agency, when the object is another agency's, a "probed" entry whose
  actor is "another agency": the owner learns that its object was asked for, and how,
  but not by whom. When prober and owner are one agency (a client's key asking for a
  sibling client's object), the "denied" entry names the client whose object it was.

If the queue cannot take the job, the attempt goes to this process's background writer,
which writes it to SQL itself, retrying; an attempt that still cannot be written is
logged as lost, never dropped silently.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

from rq import Retry
from sqlalchemy import select
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.context import running_app
from ringtrail.storage.clients import get_queue
from ringtrail.storage.models import (
    Agency,
    ApiKey,
    AuditEntry,
    BlockedCaller,
    Call,
    Client,
    ClientTag,
    DailyVisits,
    Pool,
    PoolHour,
    Rule,
    Site,
    TrackingNumber,
    User,
    VisitSnapshot,
    WebhookDelivery,
    WebhookEndpoint,
)
from ringtrail.storage.sql import new_session

log = logging.getLogger(__name__)

JOB = "ringtrail.accounts.probes.record_probe"
RETRY_INTERVALS = [10, 60, 300]
WRITER_TRIES = 6  # the background writer's attempts, 1, 2, 4 … 32 s apart
OTHER_AGENCY = "another agency"

OBJECT_TYPES: dict[type, str] = {
    Agency: "agency",
    Client: "client",
    Site: "site",
    Pool: "pool",
    TrackingNumber: "number",
    Call: "call",
    VisitSnapshot: "visit",
    User: "user",
    ApiKey: "api_key",
    AuditEntry: "audit_entry",
    PoolHour: "pool_hour",
    DailyVisits: "daily_visits",
    ClientTag: "tag",
    Rule: "rule",
    BlockedCaller: "block",
    WebhookEndpoint: "webhook",
    WebhookDelivery: "webhook_delivery",
}
MODELS = {name: model for model, name in OBJECT_TYPES.items()}


def tenant_of(db: Session, obj: Any) -> tuple[int | None, int | None]:
    """The (agency id, client id) an object belongs to."""
    if isinstance(obj, Agency):
        return obj.id, None
    if isinstance(obj, Client):
        return obj.agency_id, obj.id
    if isinstance(obj, User | ApiKey):
        return obj.agency_id, obj.client_id
    if isinstance(obj, AuditEntry):
        return obj.agency_id, None
    if isinstance(obj, WebhookDelivery):
        obj = db.get(WebhookEndpoint, obj.endpoint_id)
    if isinstance(obj, WebhookEndpoint):
        return obj.agency_id, obj.client_id
    client_id = None
    if isinstance(obj, Call):
        if obj.client_id is None:
            return obj.agency_id, None
        client_id = obj.client_id
    elif isinstance(obj, Site | ClientTag | Rule | BlockedCaller):
        client_id = obj.client_id
    elif isinstance(obj, Pool):
        client_id = obj.site.client_id
    elif isinstance(obj, TrackingNumber):
        client_id = obj.pool.site.client_id
    elif isinstance(obj, VisitSnapshot | DailyVisits):
        client_id = db.get(Site, obj.site_id).client_id
    elif isinstance(obj, PoolHour):
        client_id = db.get(Pool, obj.pool_id).site.client_id
    if client_id is None:
        return None, None
    return db.get(Client, client_id).agency_id, client_id


def note(principal: Principal, object_type: str, ref: int | str) -> None:
    """Audit, later, an attempt at an object the principal may not see or that does not
    exist (``ref``: its id, or a tracking number as text). Costs the request the same
    either way, and never raises."""
    if principal.agency_id is None:
        return  # the command line sees everything: nothing is another tenant's to it
    method, path = audit.origin.get()
    args = [
        object_type,
        ref,
        principal.kind,
        principal.id,
        principal.agency_id,
        principal.client_id,
        method,
        path,
        time.time(),
    ]
    try:
        get_queue().enqueue(
            JOB,
            *args,
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            result_ttl=0,
            failure_ttl=30 * 24 * 3600,
            description="audit a denied attempt",
        )
    except Exception:
        log.warning("audit: queue unavailable; the background writer records the attempt")
        writer.put(running_app(), args)


def _actor(db: Session, kind: str, actor_id: int | None) -> str:
    """The prober's label, read now: a job's arguments carry ids, not e-mail addresses."""
    if kind == "user" and actor_id is not None:
        return db.scalar(select(User.email).where(User.id == actor_id)) or ""
    if kind == "key" and actor_id is not None:
        return db.scalar(select(ApiKey.prefix).where(ApiKey.id == actor_id)) or ""
    return kind


def _target(db: Session, object_type: str, ref: int | str) -> tuple[Any, int | None, int | None]:
    """The object asked for, with its (agency id, client id); (None, None, None) if none."""
    model = MODELS.get(object_type)
    if model is TrackingNumber and isinstance(ref, str):
        obj = db.scalar(select(TrackingNumber).where(TrackingNumber.number == ref))
    elif model is not None and isinstance(ref, int):
        obj = db.get(model, ref)
    else:
        obj = None
    if obj is None:
        return None, None, None
    return (obj, *tenant_of(db, obj))


def record_probe(
    object_type: str,
    ref: int | str,
    kind: str,
    actor_id: int | None,
    agency_id: int,
    client_id: int | None,
    method: str,
    path: str,
    at: float,
) -> str:
    """The job: write the attempt to the prober's log, and to the owner's when the object
    is another agency's (see the module doc)."""
    when = datetime.fromtimestamp(at, UTC)
    with new_session() as db:
        obj, owner, owner_client = _target(db, object_type, ref)
        details: dict[str, Any] = {"method": method, "path": path}
        if isinstance(ref, str):
            details["number"] = ref
        denied = AuditEntry(
            agency_id=agency_id,
            actor_type=kind,
            actor_id=actor_id,
            actor=_actor(db, kind, actor_id)[:254],
            action="denied",
            object_type=object_type,
            object_id=ref if isinstance(ref, int) else None,
            details=dict(details),
            created_at=when,
        )
        if obj is not None and owner == agency_id:
            denied.details = details | {"target_client_id": owner_client}
        db.add(denied)
        if obj is not None and owner is not None and owner != agency_id:
            db.add(
                AuditEntry(
                    agency_id=owner,
                    actor_type="other",
                    actor_id=None,
                    actor=OTHER_AGENCY,
                    action="probed",
                    object_type=object_type,
                    object_id=obj.id,
                    details=details,
                    created_at=when,
                )
            )
        db.commit()
    return "recorded"


class Writer:
    """This process's background writer of attempts the queue could not take: one thread
    that writes each to SQL, retrying with growing pauses."""

    def __init__(self) -> None:
        self.pending: queue.Queue = queue.Queue(maxsize=10_000)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, app, args: list[Any]) -> None:
        """Write the attempt soon, in the background."""
        try:
            self.pending.put_nowait((app, args, 1))
        except queue.Full:
            log.error("audit: a denied attempt was lost (writer full): %s %s", args[0], args[1])
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="ringtrail-audit", daemon=True
                )
                self._thread.start()

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until everything put so far is written or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.pending.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _run(self) -> None:
        while True:
            app, args, tries = self.pending.get()
            try:
                with app.app_context():
                    record_probe(*args)
            except Exception:
                if tries >= WRITER_TRIES:
                    log.exception("audit: a denied attempt was lost: %s %s", args[0], args[1])
                else:
                    time.sleep(2 ** (tries - 1))
                    try:
                        self.pending.put_nowait((app, args, tries + 1))
                    except queue.Full:
                        log.error("audit: a denied attempt was lost: %s %s", args[0], args[1])
            finally:
                self.pending.task_done()


writer = Writer()
