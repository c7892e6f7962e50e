"""Dashboard logins held on the server, so that ending one ends it everywhere.

A signed cookie alone stays valid until it expires, whatever happens on the server. Here
the cookie carries only a random token; the server keeps its SHA-256 in
``login_sessions`` (so a copy of the database holds no usable cookie) and a login lives
exactly as long as its row: logout deletes it, a password change and deactivation delete
every row of the person, and each request looks its row up.

A login whose password was right but that still owes a second factor is a *pending*
row: it lives :data:`PENDING_SECONDS`, allows :data:`MAX_CODE_TRIES` wrong codes, and
grants nothing but the code form.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ringtrail.context import setting
from ringtrail.storage.models import LoginSession, User, utcnow

PENDING_SECONDS = 300
MAX_CODE_TRIES = 5


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(db: Session, user: User, *, pending: bool = False) -> str:
    """A new login for the user; returns the token for the cookie (the caller commits)."""
    now = utcnow()
    db.execute(delete(LoginSession).where(LoginSession.expires_at < now))  # tidy up
    lifetime = (
        timedelta(seconds=PENDING_SECONDS)
        if pending
        else timedelta(hours=float(setting("LOGIN_HOURS")))
    )
    token = secrets.token_urlsafe(32)
    db.add(
        LoginSession(
            user_id=user.id,
            token_hash=_digest(token),
            pending_second_factor=pending,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    db.flush()
    return token


def find(db: Session, token: object) -> LoginSession | None:
    """The live login this token stands for, or None (unknown, ended or expired)."""
    if not isinstance(token, str) or not token:
        return None
    row = db.scalar(select(LoginSession).where(LoginSession.token_hash == _digest(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    return row


def end(db: Session, token: object) -> None:
    """End the login this token stands for (the caller commits)."""
    if isinstance(token, str) and token:
        db.execute(delete(LoginSession).where(LoginSession.token_hash == _digest(token)))


def end_all(db: Session, user_id: int, keep: LoginSession | None = None) -> int:
    """End every login of a person, but ``keep``; returns how many ended."""
    query = delete(LoginSession).where(LoginSession.user_id == user_id)
    if keep is not None:
        query = query.where(LoginSession.id != keep.id)
    return db.execute(query).rowcount or 0


def code_failed(db: Session, row: LoginSession) -> bool:
    """Count a wrong second-factor code; True if the pending login is now ended."""
    row.failed_codes += 1
    if row.failed_codes >= MAX_CODE_TRIES:
        db.delete(row)
        return True
    return False
