"""What follows a change to a call: listeners that higher layers register at start.

A call starts (its first voice event is applied), completes (its rules have run), or is
updated (its outcome, a note or its recording changed). :func:`emit` tells every
registered listener, inside the transaction that made the change, so that whatever a
listener writes (a webhook delivery, a notification) commits with the change or not at
all. A listener only writes rows; sending happens later, in jobs, so a receiver or a mail
server that is down never touches a call.

The calls layer cannot import the layers above it (outbound webhooks, notifications, ad
platform uploads); they register here instead, from ``web.init_app``, which every process
(web and worker) runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ringtrail.storage.models import Call

log = logging.getLogger(__name__)

STARTED = "started"
COMPLETED = "completed"
UPDATED = "updated"
KINDS = (STARTED, COMPLETED, UPDATED)

# (db, call, kind, details) -> None. details: for "updated", {"what": "outcome" | "note"
# | "recording", "changes": ..., "audit_id": ...}; empty for the others.
Listener = Callable[[Session, Call, str, dict[str, Any]], None]

_listeners: dict[str, Listener] = {}


def register(name: str, listener: Listener) -> None:
    """Add (or replace, by name) a listener; registering twice is harmless."""
    _listeners[name] = listener


def emit(db: Session, call: Call, kind: str, details: dict[str, Any] | None = None) -> None:
    """Tell every listener that ``call`` has ``kind`` (one of :data:`KINDS`).

    A job may apply the same change twice (jobs are at-least-once), so a listener keys
    what it writes on the call and the change, and writes it once. A listener that raises
    is logged and skipped, and what it wrote is rolled back to a savepoint: what follows
    a call never costs the call its record.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown call change {kind!r}")
    db.flush()  # the change is written (and its transaction begun) before any savepoint
    for name, listener in list(_listeners.items()):
        try:
            # A savepoint each: on PostgreSQL a failed statement aborts the whole
            # transaction, the call's change with it, unless it is rolled back to here.
            with db.begin_nested():
                listener(db, call, kind, dict(details or {}))
        except Exception:
            log.exception("hooks: listener %s failed on call %s (%s)", name, call.id, kind)
