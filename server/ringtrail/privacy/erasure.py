"""Erasure on request: everything Ringtrail holds about one caller, or one visitor session.

By **caller number** (any format; matched as stored and, in HIPAA mode, by its keyed
hash), within the requester's tenant:

- the carrier is asked to delete each call's recording and its call log (which holds the
  number); a call whose recording the carrier could not delete is kept, whole, so that
  running the erasure again finds it, and the receipt says so;
- the calls are deleted (not anonymised: a time and a tracking number still single a
  caller out in the business's own phone logs), and the visit snapshots behind them;
- every visitor session behind those calls is erased as below;
- call events waiting in the queue Redis (``ringtrail:event:*``), the RQ jobs that carry
  them in any registry (queued, scheduled, started, deferred, failed, finished), any
  other job whose stored data or traceback mentions the number, and this node's spool
  files are deleted.

By **session id** (a visitor's): the live visit in Redis, its visit snapshot, and its
place in the lease history of every pool (replaced by a stand-in, so other visitors'
calls are still attributed correctly) are erased. Calls attributed to it are detached
from it but kept: a call is its caller's, and is erased by number. Their webhook bodies
still kept (waiting to be sent, or in the delivery log) lose the visit.

Each run writes an :class:`~server.models.ErasureReceipt` (the kind, a keyed hash of the
subject, never the number itself, and counts per store) and an audit entry, in one
transaction. The command line, which acts for every agency, writes one per agency.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.results import Result
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ringtrail import phones
from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.calls.events import CallEvent
from ringtrail.calls.intake import get_spool, get_stash
from ringtrail.context import setting
from ringtrail.errors import Invalid
from ringtrail.hashing import caller_hash
from ringtrail.privacy.retention import delete_calls, delete_snapshots
from ringtrail.storage.clients import get_queue
from ringtrail.storage.jobs import all_job_ids, registries
from ringtrail.storage.models import (
    Agency,
    BlockedCaller,
    Call,
    Client,
    ErasureReceipt,
    Pool,
    Site,
    VisitSnapshot,
    WebhookDelivery,
)
from ringtrail.telephony import carrier
from ringtrail.tracking.pool import get_pools
from ringtrail.tracking.visits import get_visits

log = logging.getLogger(__name__)

KINDS = ("caller", "session")
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,40}$")
PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-\u2010-\u2015\u2212/]{4,40}$")
COUNT_KEYS = (
    "calls",
    "calls_detached",
    "snapshots",
    "recordings",
    "recordings_failed",
    "carrier_calls",
    "carrier_calls_failed",
    "queued_events",
    "jobs",
    "spool",
    "live_visits",
    "lease_history",
)


@dataclass(frozen=True)
class Subject:
    """What is to be erased: a caller (by the forms their number may be stored in) or a
    session."""

    kind: str
    canonical: str  # E.164 (or "+digits") for a caller, the id for a session
    forms: frozenset[str] = field(default_factory=frozenset)
    hashes: frozenset[str] = field(default_factory=frozenset)  # privacy.caller_hash

    def matches_number(self, value: Any) -> bool:
        """Whether a stored caller id is this caller's number."""
        if not isinstance(value, str) or not value:
            return False
        return value.strip() in self.forms or phones.possible(value) == self.canonical

    def matches_event(self, event: CallEvent) -> bool:
        """Whether a call event is this caller's (by number, or by hash in HIPAA mode)."""
        return self.matches_number(event.caller) or event.caller_hash in self.hashes

    def needles(self) -> list[bytes]:
        """Byte strings whose presence in a blob means it holds the subject."""
        if self.kind == "session":
            return [self.canonical.encode()]
        forms = {f for f in self.forms if sum(c.isdigit() for c in f) >= 8} | self.hashes
        return sorted(f.encode() for f in forms)


def caller_subject(raw: str, region: str = phones.DEFAULT_REGION) -> Subject:
    """A caller to erase, from a number in any common format; Invalid if it is none."""
    if not isinstance(raw, str) or not PHONE_CHARS.match(raw.strip()):
        raise Invalid("caller must be a phone number, e.g. +14155550143")
    raw = raw.strip()
    digits = re.sub(r"\D", "", raw)
    if not 6 <= len(digits) <= 15:
        raise Invalid("caller must be a phone number of 6 to 15 digits")
    canonical = phones.possible(raw, region) or f"+{digits}"
    forms = {raw, digits} | phones.written_forms(canonical)
    hashes = {h for h in (caller_hash(canonical), caller_hash(raw)) if h}
    return Subject("caller", canonical, frozenset(f for f in forms if f), frozenset(hashes))


def session_subject(raw: str) -> Subject:
    """A visitor session to erase; Invalid if the id is malformed."""
    if not isinstance(raw, str) or not SESSION_ID.match(raw.strip()):
        raise Invalid("session must be a visitor session id (8 to 40 letters, digits, - or _)")
    return Subject("session", raw.strip(), frozenset({raw.strip()}))


def subject_hash(subject: Subject) -> str:
    """A keyed hash of the subject for the receipt: proves what was erased to whoever can
    recompute it, and cannot be reversed by trying every phone number without the key."""
    key = str(setting("SECRET_KEY")).encode()
    message = f"ringtrail-erasure\n{subject.kind}\n{subject.canonical}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass
class Scope:
    """The tenant an erasure runs in: one agency, all or one of its clients."""

    agency: Agency
    client_ids: list[int]
    site_ids: list[int]
    pool_ids: list[int]
    # The whole agency: its calls of no client (numbers Ringtrail does not route) too.
    whole_agency: bool = False

    def calls(self):
        """The condition on Call for the calls of the scope."""
        theirs = Call.client_id.in_(self.client_ids)
        if not self.whole_agency:
            return theirs
        return or_(theirs, and_(Call.client_id.is_(None), Call.agency_id == self.agency.id))


def _scopes(db: Session, principal: Principal) -> list[Scope]:
    if principal.agency_id is None:
        agencies = db.scalars(select(Agency).order_by(Agency.id)).all()
    else:
        agencies = [db.get(Agency, principal.agency_id)]
    scopes = []
    for agency in agencies:
        stmt = select(Client.id).where(Client.agency_id == agency.id)
        if principal.client_id is not None:
            stmt = stmt.where(Client.id == principal.client_id)
        client_ids = list(db.scalars(stmt))
        site_ids = list(db.scalars(select(Site.id).where(Site.client_id.in_(client_ids))))
        pool_ids = list(db.scalars(select(Pool.id).where(Pool.site_id.in_(site_ids))))
        whole = principal.client_id is None
        scopes.append(Scope(agency, client_ids, site_ids, pool_ids, whole_agency=whole))
    return scopes


def erase(db: Session, principal: Principal, subject: Subject) -> list[ErasureReceipt]:
    """Erase the subject in the principal's tenant (every agency for the command line);
    returns the receipts, committed with their audit entries."""
    return [_erase(db, principal, scope, subject) for scope in _scopes(db, principal)]


def _erase(db: Session, principal: Principal, scope: Scope, subject: Subject) -> ErasureReceipt:
    counts: Counter[str] = Counter()
    calls = _matching_calls(db, scope, subject)
    sessions = {subject.canonical} if subject.kind == "session" else set()
    sessions |= {c.session_id for c in calls if c.session_id and subject.kind == "caller"}
    call_sids = {c.call_sid for c in calls} if subject.kind == "caller" else set()

    # Events not yet applied hold the number too: find their calls before deleting any.
    if subject.kind == "caller":
        call_sids |= _sweep_spool(scope, subject, call_sids, counts, first_pass=True)
        call_sids |= _voice_events_of(scope, subject)
    _sweep_queue(scope, subject, call_sids, counts)
    _sweep_spool(scope, subject, call_sids, counts, first_pass=False)
    _sweep_spool_leftovers(subject, counts)

    # A job applied between the first look and the sweep may have written more calls.
    if subject.kind == "caller":
        calls = _matching_calls(db, scope, subject)
        sessions |= {c.session_id for c in calls if c.session_id}
        _erase_calls(db, scope, calls, counts)
        _forget_blocked_number(db, scope, subject)
    else:
        counts["calls_detached"] += _detach_calls(db, scope, subject.canonical)
    for session_id in sorted(sessions):
        _erase_session(db, scope, session_id, counts)
    db.commit()

    receipt = ErasureReceipt(
        agency_id=scope.agency.id,
        kind=subject.kind,
        subject_hash=subject_hash(subject),
        requested_by=principal.label[:200],
        counts={k: counts[k] for k in COUNT_KEYS},
    )
    db.add(receipt)
    db.flush()
    audit.record(
        db,
        "erase",
        "erasure",
        receipt.id,
        {"kind": subject.kind, "counts": receipt.counts, "complete": complete(receipt)},
        principal=principal,
        agency_id=scope.agency.id,
    )
    db.commit()
    return receipt


def summary(receipt: ErasureReceipt) -> dict[str, Any]:
    """A receipt as the API, the dashboard and the command line show it."""
    return {
        "id": receipt.id,
        "agency_id": receipt.agency_id,
        "kind": receipt.kind,
        "subject_hash": receipt.subject_hash,
        "requested_by": receipt.requested_by,
        "counts": dict(receipt.counts or {}),
        "complete": complete(receipt),
        "created_at": receipt.created_at,
    }


def complete(receipt: ErasureReceipt) -> bool:
    """Whether nothing was left behind (the carrier did everything asked of it)."""
    counts = receipt.counts or {}
    return not counts.get("recordings_failed") and not counts.get("carrier_calls_failed")


# -- SQL --------------------------------------------------------------------------------


def _matching_calls(db: Session, scope: Scope, subject: Subject) -> list[Call]:
    if not scope.client_ids and not scope.whole_agency:
        return []
    stmt = select(Call).where(scope.calls())
    if subject.kind == "session":
        return list(db.scalars(stmt.where(Call.session_id == subject.canonical)))
    conditions = [Call.caller_number.in_(sorted(subject.forms))]
    if subject.hashes:
        conditions.append(Call.caller_hash.in_(sorted(subject.hashes)))
    return list(db.scalars(stmt.where(or_(*conditions))))


def _forget_blocked_number(db: Session, scope: Scope, subject: Subject) -> None:
    """A blocked caller's number goes; the block stays, kept by its keyed hash alone (the
    client asked for it, and the hash says nothing without the key)."""
    if not subject.hashes or not scope.client_ids:
        return
    db.execute(
        update(BlockedCaller)
        .where(
            BlockedCaller.client_id.in_(scope.client_ids),
            BlockedCaller.caller_hash.in_(sorted(subject.hashes)),
        )
        .values(number=None)
    )


def _erase_calls(db: Session, scope: Scope, calls: list[Call], counts: Counter) -> None:
    """Delete the calls once the carrier has let go of their recordings and logs."""
    deletable = []
    for call in calls:
        if call.recording_sid or call.recording_url:
            if call.provider != "twilio":
                counts["recordings_failed"] += 1
                continue
            try:
                carrier.delete_recording(scope.agency, call.recording_sid or call.recording_url)
            except carrier.CarrierError as exc:
                log.warning("erasure: call %s: recording not deleted: %s", call.id, exc)
                counts["recordings_failed"] += 1
                continue
            counts["recordings"] += 1
            call.recording_sid = call.recording_url = None
        if call.provider == "twilio" and carrier.CALL_SID.fullmatch(call.call_sid):
            try:
                carrier.delete_call(scope.agency, call.call_sid)
            except carrier.NoCredentials:
                pass  # no Twilio account: the call did not come through Twilio's API
            except carrier.CarrierError as exc:
                log.warning("erasure: call %s: carrier's log not deleted: %s", call.id, exc)
                counts["carrier_calls_failed"] += 1
                db.commit()  # the recording is gone; remember that much
                continue
            else:
                counts["carrier_calls"] += 1
        deletable.append(call.id)
    db.flush()
    calls, snapshots = delete_calls(db, deletable)
    counts["calls"] += calls
    counts["snapshots"] += snapshots


def _detach_calls(db: Session, scope: Scope, session_id: str) -> int:
    if not scope.client_ids:
        return 0
    detached = select(Call.id).where(
        Call.client_id.in_(scope.client_ids), Call.session_id == session_id
    )
    _forget_visit_in_webhooks(db, list(db.scalars(detached)))
    result = db.execute(
        update(Call)
        .where(Call.client_id.in_(scope.client_ids), Call.session_id == session_id)
        .values(session_id=None, visit_id=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _forget_visit_in_webhooks(db: Session, call_ids: list[int]) -> None:
    """Webhook bodies of these calls that are kept (to send, or in the delivery log) lose
    the visit: a body waiting to be sent goes without it, under the same message id."""
    if not call_ids:
        return
    for row in db.scalars(select(WebhookDelivery).where(WebhookDelivery.call_id.in_(call_ids))):
        try:
            document = json.loads(row.body)
        except ValueError:
            continue
        data = document.get("data") if isinstance(document, dict) else None
        if not isinstance(data, dict):
            continue
        data["visit"] = None
        if isinstance(data.get("attribution"), dict):
            data["attribution"].update(campaign="", term="")
        row.body = json.dumps(document, separators=(",", ":"), sort_keys=True)


# -- Redis ------------------------------------------------------------------------------


def _in_scope(scope: Scope, event: CallEvent) -> bool:
    if event.route is None or event.route.client_id is None:  # a number of no client
        return scope.whole_agency and event.agency_id == scope.agency.id
    return event.route.client_id in scope.client_ids


def _of_agency(scope: Scope, agency_id: int | None) -> bool:
    """Whether an event is the scope's agency's: call ids are unique per agency only, so
    another agency's event with the same call id is not ours to erase (an event stashed
    before 0.3 names no agency, and its call id was unique then)."""
    return agency_id is None or agency_id == scope.agency.id


def _voice_event_matches(scope: Scope, subject: Subject, event: CallEvent) -> bool:
    return _in_scope(scope, event) and subject.matches_event(event)


def _voice_events_of(scope: Scope, subject: Subject) -> set[str]:
    """Call ids of stashed events from this caller to the scope's numbers."""
    return {
        event.call_sid
        for _eid, event in get_stash().scan()
        if event is not None and _voice_event_matches(scope, subject, event)
    }


def _sweep_queue(scope: Scope, subject: Subject, call_sids: set[str], counts: Counter) -> None:
    """Delete stashed events of the calls, and every RQ job carrying them or the subject."""
    stash = get_stash()
    erased_ids: set[str] = set()
    for event_id, event in stash.scan():
        if event is not None and event.call_sid in call_sids and _of_agency(scope, event.agency_id):
            stash.delete(event_id)
            erased_ids.add(event_id)
            counts["queued_events"] += 1
    counts["jobs"] += _delete_jobs(erased_ids, subject.needles())


def _delete_jobs(event_ids: set[str], needles: list[bytes]) -> int:
    """Delete RQ jobs named after the erased events, or whose stored data mentions the
    subject (a failed job's traceback may quote a row), from the queue and every registry."""
    queue = get_queue()
    deleted = 0
    conn = queue.connection
    for job_id in sorted(all_job_ids(queue)):
        blob = _job_blob(conn, job_id)
        if job_id not in event_ids and not any(n in blob for n in needles):
            continue
        try:
            job = Job.fetch(job_id, connection=conn, serializer=queue.serializer)
            job.delete(remove_from_queue=True)
        except NoSuchJobError:
            queue.remove(job_id)
            for registry in registries(queue):
                registry.remove(job_id)
            conn.delete(Job.key_for(job_id))
        deleted += 1
    return deleted


def _job_blob(conn, job_id: str) -> bytes:
    """Everything RQ stores for a job, readable: its hash (data and traceback are zlib
    compressed) and its results stream (which repeats the traceback)."""
    parts = []
    for value in conn.hgetall(Job.key_for(job_id)).values():
        try:
            parts.append(zlib.decompress(value))
        except zlib.error:
            parts.append(value)
    for _id, entry in conn.xrange(Result.get_key(job_id)):
        for value in entry.values():
            try:
                parts.append(zlib.decompress(value))
            except zlib.error:
                parts.append(value)
    return b"\n".join(parts)


def _erase_session(db: Session, scope: Scope, session_id: str, counts: Counter) -> None:
    """The live visit, the snapshot and the lease-history entries of one session."""
    visits = get_visits()
    visit = visits.get(session_id)
    if visit is not None and visit.site_id in scope.site_ids:
        visits.delete(session_id)
        counts["live_visits"] += 1
    snapshots = list(
        db.scalars(
            select(VisitSnapshot.id).where(
                VisitSnapshot.session_id == session_id,
                VisitSnapshot.site_id.in_(scope.site_ids),
            )
        )
    )
    counts["snapshots"] += delete_snapshots(db, snapshots)
    # The visit says which site's pools leased to it; without it, every pool of the scope.
    pools = scope.pool_ids
    if visit is not None and visit.site_id in scope.site_ids:
        pools = list(db.scalars(select(Pool.id).where(Pool.site_id == visit.site_id)))
    store = get_pools()
    stand_in = f"erased-{secrets.token_hex(4)}"
    for pool_id in pools:
        counts["lease_history"] += store.erase_session(pool_id, session_id, stand_in)


# -- the spool --------------------------------------------------------------------------


def _spooled(data: dict[str, Any]) -> CallEvent | None:
    try:
        return CallEvent.from_dict(data)
    except (ValueError, TypeError):
        return None


def _sweep_spool(
    scope: Scope, subject: Subject, call_sids: set[str], counts: Counter, *, first_pass: bool
) -> set[str]:
    """Remove spooled events: the caller's voice events first (returning their call ids),
    then every event of those calls."""
    found: set[str] = set()

    def voice_of_caller(data: dict[str, Any]) -> bool:
        event = _spooled(data)
        if event is None or subject.kind != "caller":
            return False
        if _voice_event_matches(scope, subject, event):
            found.add(event.call_sid)
            return True
        return False

    def of_erased_calls(data: dict[str, Any]) -> bool:
        return data.get("call_sid") in call_sids and _of_agency(scope, data.get("agency_id"))

    spool = get_spool()
    counts["spool"] += spool.remove(voice_of_caller if first_pass else of_erased_calls)
    return found


def _sweep_spool_leftovers(subject: Subject, counts: Counter) -> None:
    """Files set aside as unreadable, or claimed by a replayer that died, may hold it too."""
    needles = subject.needles()
    counts["spool"] += get_spool().remove_stray(lambda blob: any(n in blob for n in needles))
