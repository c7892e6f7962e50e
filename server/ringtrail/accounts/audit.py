"""The audit log: who changed what, in which tenant, and every cross-tenant attempt.

Changes are recorded in the same transaction as the change itself, so an entry exists
exactly when the change does. A "denied" entry is written in a transaction of its own,
because the request that provoked it ends in a 404 and writes nothing else.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from sqlalchemy.orm import Session

from ringtrail.accounts.auth import Principal
from ringtrail.storage.models import AuditEntry
from ringtrail.storage.sql import new_session

log = logging.getLogger(__name__)

# Where the attempt came from ("PATCH", "/api/v1/pools/5"), for "denied" entries: the web
# layer says so once per request; a service never reads the request itself.
origin: ContextVar[tuple[str, str]] = ContextVar("ringtrail_audit_origin", default=("", ""))


def set_origin(method: str, path: str) -> None:
    """Name the request that is acting (its method and path), for denied entries."""
    origin.set((method, path[:300]))


def _entry(
    principal: Principal | None,
    action: str,
    object_type: str,
    object_id: int | None,
    details: dict[str, Any] | None,
    agency_id: int | None,
) -> AuditEntry:
    return AuditEntry(
        agency_id=agency_id if agency_id is not None else (principal and principal.agency_id),
        actor_type=principal.kind if principal else "system",
        actor_id=principal.id if principal else None,
        actor=(principal.label if principal else "")[:254],
        action=action[:20],
        object_type=object_type[:40],
        object_id=object_id,
        details=details or {},
    )


def record(
    db: Session,
    action: str,
    object_type: str,
    object_id: int | None,
    details: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    agency_id: int | None = None,
) -> AuditEntry:
    """Add an entry to ``db`` (the caller commits it with the change it describes)."""
    entry = _entry(principal, action, object_type, object_id, details, agency_id)
    db.add(entry)
    return entry


def record_now(
    action: str,
    object_type: str,
    object_id: int | None,
    details: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    agency_id: int | None = None,
) -> None:
    """Write an entry in a transaction of its own (denied attempts, failed logins)."""
    entry = _entry(principal, action, object_type, object_id, details, agency_id)
    try:
        with new_session() as db:
            db.add(entry)
            db.commit()
    except Exception:  # the refusal still stands; losing its trace is the lesser harm
        log.exception("audit: could not record %s %s %s", action, object_type, object_id)


def describe(entry: AuditEntry) -> dict[str, Any]:
    """An entry as JSON."""
    return {
        "id": entry.id,
        "at": entry.created_at.isoformat(),
        "actor_type": entry.actor_type,
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "details": entry.details,
    }
