"""The configuration the hot paths need, cached in process: sites by key, routes by number.

Both the public API and the voice webhook read this snapshot instead of SQL. It is
refreshed every ``RINGTRAIL_CACHE_SECONDS``; when the database is away the last good
snapshot stays in use, and a copy on disk lets a freshly started process route calls
before the database is back. That is how "a call always connects" survives a database
outage.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .models import Agency, Client, Pool, Site

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolConfig:
    """One pool as the lease path needs it."""

    id: int
    business_number: str
    lease_seconds: int
    match_window: int
    policy: str
    numbers: tuple[str, ...]
    overflow_number: str | None
    source_numbers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SiteConfig:
    """One site as the snippet and the public API need it."""

    id: int
    key: str
    client_id: int
    allowed_origins: tuple[str, ...]
    consent_mode: str
    honor_dnt: bool
    pools: tuple[PoolConfig, ...]

    @property
    def hosts(self) -> tuple[str, ...]:
        """Host names of the allowed origins; a referrer from them is internal."""
        return tuple(urlsplit(o).hostname or "" for o in self.allowed_origins)


@dataclass(frozen=True)
class Route:
    """Where a call to one tracking number goes, and how it is handled."""

    number: str
    role: str
    pool_id: int
    site_id: int
    client_id: int
    agency_id: int
    forward_to: str
    record: bool
    notice: str
    suspended: bool
    match_window: int
    source: str | None = None


@dataclass
class Snapshot:
    sites: dict[str, SiteConfig]
    routes: dict[str, Route]
    # agency id -> (account sid, [current token, previous token])
    tokens: dict[int, tuple[str | None, list[str]]]
    loaded_at: float

    def to_json(self) -> str:
        return json.dumps(
            {
                "routes": [asdict(r) for r in self.routes.values()],
                "tokens": {str(k): [sid, toks] for k, (sid, toks) in self.tokens.items()},
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> Snapshot:
        data = json.loads(raw)
        routes = {r["number"]: Route(**r) for r in data["routes"]}
        tokens = {int(k): (sid, toks) for k, (sid, toks) in data["tokens"].items()}
        return cls(sites={}, routes=routes, tokens=tokens, loaded_at=0.0)


def load(session: Session) -> Snapshot:
    """Read every site, pool, number and agency token from SQL."""
    sites: dict[str, SiteConfig] = {}
    routes: dict[str, Route] = {}
    query = select(Site).options(
        selectinload(Site.client).selectinload(Client.agency),
        selectinload(Site.pools).selectinload(Pool.numbers),
    )
    for site in session.scalars(query):
        client = site.client
        pools = []
        for pool in site.pools:
            active = [n for n in pool.numbers if n.active]
            pools.append(
                PoolConfig(
                    id=pool.id,
                    business_number=pool.business_number,
                    lease_seconds=pool.lease_seconds,
                    match_window=pool.match_window_seconds,
                    policy=pool.exhaustion_policy,
                    numbers=tuple(sorted(n.number for n in active if n.role == "pool")),
                    overflow_number=next((n.number for n in active if n.role == "overflow"), None),
                    source_numbers={
                        (n.source or "*").lower(): n.number for n in active if n.role == "source"
                    },
                )
            )
            for n in active:
                routes[n.number] = Route(
                    number=n.number,
                    role=n.role,
                    pool_id=pool.id,
                    site_id=site.id,
                    client_id=client.id,
                    agency_id=client.agency_id,
                    forward_to=pool.business_number,
                    record=bool(client.record_calls),
                    notice=client.recording_notice or "",
                    suspended=bool(client.suspended),
                    match_window=pool.match_window_seconds,
                    source=n.source,
                )
        sites[site.public_key] = SiteConfig(
            id=site.id,
            key=site.public_key,
            client_id=client.id,
            allowed_origins=tuple(o.rstrip("/") for o in site.allowed_origins or ()),
            consent_mode=site.consent_mode,
            honor_dnt=bool(site.honor_dnt),
            pools=tuple(pools),
        )
    tokens = {
        a.id: (
            a.twilio_account_sid,
            [t for t in (a.twilio_auth_token, a.twilio_previous_auth_token) if t],
        )
        for a in session.scalars(select(Agency))
    }
    return Snapshot(sites=sites, routes=routes, tokens=tokens, loaded_at=time.monotonic())


class Directory:
    """The process-wide cache of :class:`Snapshot`, refreshed lazily and stale on error."""

    def __init__(self, ttl: float, disk_path: str):
        self.ttl = ttl
        self.disk_path = disk_path
        self._snapshot: Snapshot | None = None
        self._next_try = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the snapshot's age so the next read reloads from SQL."""
        self._next_try = 0.0

    def get(self) -> Snapshot | None:
        """The freshest snapshot we can have; None only if SQL and disk both fail."""
        if time.monotonic() >= self._next_try and self._lock.acquire(blocking=False):
            try:
                self._refresh()
            finally:
                self._lock.release()
        elif self._snapshot is None:
            with self._lock:  # another thread is loading the first snapshot
                pass
        return self._snapshot

    def _refresh(self) -> None:
        from .db import get_db

        self._next_try = time.monotonic() + self.ttl
        try:
            snapshot = load(get_db())
        except Exception:
            log.warning("directory: database unavailable, keeping the last snapshot")
            get_db().rollback()
            if self._snapshot is None:
                self._snapshot = self._from_disk()
            return
        self._snapshot = snapshot
        self._to_disk(snapshot)

    def _to_disk(self, snapshot: Snapshot) -> None:
        tmp = f"{self.disk_path}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(snapshot.to_json())
            os.replace(tmp, self.disk_path)
        except OSError:
            log.warning("directory: could not write %s", self.disk_path)

    def _from_disk(self) -> Snapshot | None:
        try:
            with open(self.disk_path) as fh:
                return Snapshot.from_json(fh.read())
        except (OSError, ValueError, KeyError, TypeError):
            return None


def get_directory() -> Directory:
    """The app's configuration cache."""
    state = current_app.extensions["ringtrail"]
    if "directory" not in state:
        state["directory"] = Directory(
            ttl=float(current_app.config["CACHE_SECONDS"]),
            disk_path=os.path.join(current_app.instance_path, "directory.json"),
        )
    return state["directory"]


def site_for_key(key: str) -> SiteConfig | None:
    """The site with this public key, from the cache."""
    snapshot = get_directory().get()
    return snapshot.sites.get(key) if snapshot else None


def route_for(number: str) -> Route | None:
    """The route of a tracking number, from the cache."""
    snapshot = get_directory().get()
    return snapshot.routes.get(number) if snapshot else None
