"""The configuration the hot paths need, cached in process: sites by key, routes by number.

Both the public API and the voice webhook read this snapshot instead of SQL. A watcher
thread per process (``watcher.py``) keeps it current: every configuration change is
announced on a Redis channel when it commits, and the version row tells whether a reload
is needed, so a change reaches every process within about a second, with or without
Redis. When the database is away the last good snapshot stays in use, and a copy on disk
lets a freshly started process route calls before the database is back. That is how "a
call always connects" survives a database outage.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ringtrail.context import instance_path, setting, state
from ringtrail.phones import international_table, national_table
from ringtrail.storage.channel import ConfigChannel
from ringtrail.storage.clients import make_redis
from ringtrail.storage.models import (
    AdDestination,
    Agency,
    BlockedCaller,
    Client,
    ConfigVersion,
    Site,
    TrackingNumber,
)
from ringtrail.tracking.pool import numbers_version
from ringtrail.tracking.poolsync import get_syncer
from ringtrail.tracking.watcher import ConfigWatcher

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
    version: str = ""  # numbers_version(numbers), computed once per load
    rest_seconds: int | None = None  # None: the match window
    vanity_texts: tuple[str, ...] = ()  # texts on the page that stand for business_number

    @property
    def rest(self) -> int:
        """How long a released number rests before another visitor gets it."""
        return self.match_window if self.rest_seconds is None else self.rest_seconds


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
    # number -> its national format, for every number the site's pools can show: made
    # once when the directory loads (phones.national_table), so that an answer costs a
    # lookup, not a phonenumbers parse. Not written to directory.json (made on reading).
    display: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    # number -> its international format (phones.international_table), made with it
    international: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    share_subdomains: bool = False  # the visit spans the registrable domain's subdomains
    # The client sends calls to GA4 (and is not in HIPAA mode): the snippet reads GA4's
    # client and session ids, with consent, and sends them with the visit.
    ga4: bool = False

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
    # Consent, privacy and call flow (defaults keep an older directory.json readable).
    consent_mode: str = "all_party"
    us_state: str | None = None
    transcribe: bool = False
    whisper: bool = False
    hipaa: bool = False
    business_hours: dict | None = None
    timezone: str = "America/New_York"
    after_hours_number: str | None = None
    voicemail: bool = False
    voicemail_prompt: str = ""
    label: str = ""  # the pool's name, else the site's: what a whisper names


@dataclass
class Snapshot:
    sites: dict[str, SiteConfig]
    routes: dict[str, Route]
    # agency id -> (account sid, [current token, previous token]), sealed as SQL holds
    # them (crypto.unseal at the moment of use), so directory.json holds no clear token.
    tokens: dict[int, tuple[str | None, list[str]]]
    loaded_at: float
    version: int = -1  # ConfigVersion.version when loaded; -1: unknown (a copy from disk)
    # agency id -> its default forward number: where its calls that no route takes go
    defaults: dict[int, str] = field(default_factory=dict)
    # client id -> keyed hashes of the callers it blocked (``hashing.caller_hash``)
    blocked: dict[int, frozenset[str]] = field(default_factory=dict)
    # account sid -> agency id, made from ``tokens`` (account sids are unique in SQL)
    accounts: dict[str, int] = field(init=False, repr=False)
    # sealed token -> the signature checker made of it (telephony.webhooks), so a token
    # is opened once per snapshot, not once per call; in memory only, never on disk
    checkers: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.accounts = {sid: agency for agency, (sid, _) in self.tokens.items() if sid}

    def to_json(self) -> str:
        return json.dumps(
            {
                "sites": [
                    asdict(site, dict_factory=_without_display) for site in self.sites.values()
                ],
                "routes": [asdict(r) for r in self.routes.values()],
                "tokens": {str(k): [sid, toks] for k, (sid, toks) in self.tokens.items()},
                "defaults": {str(k): number for k, number in self.defaults.items()},
                "blocked": {str(k): sorted(hashes) for k, hashes in self.blocked.items()},
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> Snapshot:
        data = json.loads(raw)
        sites = {}
        for site in data["sites"]:
            pools = tuple(
                PoolConfig(
                    **(
                        pool
                        | {
                            "numbers": tuple(pool["numbers"]),
                            "vanity_texts": tuple(pool.get("vanity_texts", ())),
                        }
                    )
                )
                for pool in site["pools"]
            )
            sites[site["key"]] = with_display(
                SiteConfig(
                    **(site | {"pools": pools, "allowed_origins": tuple(site["allowed_origins"])})
                )
            )
        routes = {r["number"]: Route(**r) for r in data["routes"]}
        tokens = {int(k): (sid, toks) for k, (sid, toks) in data["tokens"].items()}
        defaults = {int(k): number for k, number in data.get("defaults", {}).items()}
        blocked = {int(k): frozenset(v) for k, v in data.get("blocked", {}).items()}
        # loaded_at 0: a copy of unknown age, never taken for fresh.
        return cls(
            sites=sites,
            routes=routes,
            tokens=tokens,
            loaded_at=0.0,
            defaults=defaults,
            blocked=blocked,
        )


DISPLAY_TABLES = ("display", "international")


def _without_display(items: list[tuple[str, object]]) -> dict:
    """``asdict`` of a site less its display tables, which are made again on reading."""
    return {key: value for key, value in items if key not in DISPLAY_TABLES}


def with_display(site: SiteConfig) -> SiteConfig:
    """The site with the national and international formats of every number its pools
    can show: a session's answer reads them, and parses nothing."""
    numbers = []
    for pool in site.pools:
        numbers += pool.numbers
        numbers += pool.source_numbers.values()
        if pool.overflow_number:
            numbers.append(pool.overflow_number)
    site.display.update(national_table(numbers))
    site.international.update(international_table(numbers))
    return site


def current_version(session: Session) -> int:
    """The configuration's version number (see ``models.ConfigVersion``)."""
    return int(session.scalar(select(ConfigVersion.version).where(ConfigVersion.id == 1)) or 0)


def load(session: Session) -> Snapshot:
    """Read every site, pool, number and agency token from SQL.

    Numbers are read as plain rows, not ORM objects: a pool may hold 100,000 of them.
    """
    version = current_version(session)
    sites: dict[str, SiteConfig] = {}
    routes: dict[str, Route] = {}
    by_pool: dict[int, list[tuple[str, str, str | None, bool | None]]] = {}
    retiring: set[str] = set()
    rows = session.execute(
        select(
            TrackingNumber.pool_id,
            TrackingNumber.number,
            TrackingNumber.role,
            TrackingNumber.source,
            TrackingNumber.record_calls,
            TrackingNumber.retiring_since,
        ).where(TrackingNumber.active.is_(True))
    )
    for pool_id, number, role, source, record, retiring_since in rows:
        by_pool.setdefault(pool_id, []).append((number, role, source, record))
        if retiring_since is not None:
            retiring.add(number)
    ga4_clients = set(
        session.scalars(
            select(AdDestination.client_id).where(
                AdDestination.platform == "ga4", AdDestination.enabled.is_(True)
            )
        )
    )
    query = select(Site).options(
        selectinload(Site.client).selectinload(Client.agency), selectinload(Site.pools)
    )
    for site in session.scalars(query):
        client = site.client
        pools = []
        for pool in site.pools:
            active = by_pool.get(pool.id, [])
            # A retiring number is routed (a late caller still gets through) but never
            # leased again.
            leasable = tuple(
                sorted(n for n, role, _, _ in active if role == "pool" and n not in retiring)
            )
            pools.append(
                PoolConfig(
                    id=pool.id,
                    business_number=pool.business_number,
                    lease_seconds=pool.lease_seconds,
                    match_window=pool.match_window_seconds,
                    rest_seconds=pool.rest_seconds,
                    vanity_texts=tuple(pool.vanity_texts or ()),
                    policy=pool.exhaustion_policy,
                    numbers=leasable,
                    version=numbers_version(leasable),
                    overflow_number=next(
                        (n for n, role, _, _ in active if role == "overflow"), None
                    ),
                    source_numbers={
                        (src or "*").lower(): n for n, role, src, _ in active if role == "source"
                    },
                )
            )
            # Recording: the number's override, else the pool's, else the client's.
            pool_record = client.record_calls if pool.record_calls is None else pool.record_calls
            for number, role, source, number_record in active:
                record = pool_record if number_record is None else number_record
                routes[number] = Route(
                    number=number,
                    role=role,
                    pool_id=pool.id,
                    site_id=site.id,
                    client_id=client.id,
                    agency_id=client.agency_id,
                    forward_to=pool.business_number,
                    record=bool(record),
                    notice=client.recording_notice or "",
                    suspended=bool(client.suspended),
                    match_window=pool.match_window_seconds,
                    source=source,
                    consent_mode=client.consent_mode or "all_party",
                    us_state=client.us_state,
                    transcribe=bool(client.transcribe),
                    whisper=bool(client.whisper),
                    hipaa=bool(client.hipaa),
                    business_hours=client.business_hours or None,
                    timezone=client.timezone or "UTC",
                    after_hours_number=client.after_hours_number or None,
                    voicemail=bool(client.voicemail),
                    voicemail_prompt=client.voicemail_prompt or "",
                    label=pool.name or site.name,
                )
        sites[site.public_key] = with_display(
            SiteConfig(
                id=site.id,
                key=site.public_key,
                client_id=client.id,
                allowed_origins=tuple(o.rstrip("/") for o in site.allowed_origins or ()),
                consent_mode=site.consent_mode,
                honor_dnt=bool(site.honor_dnt),
                pools=tuple(pools),
                share_subdomains=bool(site.share_subdomains),
                ga4=client.id in ga4_clients and not client.hipaa,
            )
        )
    agencies = session.scalars(select(Agency)).all()
    tokens = {
        a.id: (
            a.twilio_account_sid,
            [t for t in (a.twilio_auth_token, a.twilio_previous_auth_token) if t],
        )
        for a in agencies
    }
    defaults = {a.id: a.default_forward_number for a in agencies if a.default_forward_number}
    blocked: dict[int, set[str]] = {}
    for client_id, hashed in session.execute(
        select(BlockedCaller.client_id, BlockedCaller.caller_hash)
    ):
        blocked.setdefault(client_id, set()).add(hashed)
    return Snapshot(
        sites=sites,
        routes=routes,
        tokens=tokens,
        loaded_at=time.monotonic(),
        version=version,
        defaults=defaults,
        blocked={client: frozenset(hashes) for client, hashes in blocked.items()},
    )


# A snapshot confirmed current within this many seconds answers calls as configured. A
# healthy process confirms its snapshot about once a second (see ``watcher.py``), so this
# runs out only when the database and the change channel are both away, or a change was
# announced that the database could not yet give.
CURRENT_FOR = 5.0
# How long the first read in a process waits for SQL before answering from the copy on
# disk: a call must be answered within 2 s whatever is down.
COLD_WAIT = 1.0


class Directory:
    """The process-wide cache of :class:`Snapshot`, kept current by a watcher thread.

    Requests only read the snapshot held: once a process is warm no request waits on SQL
    or Redis. A :class:`~ringtrail.tracking.watcher.ConfigWatcher` thread rereads SQL when
    a change is announced on the change channel or the version row moved, and confirms
    the snapshot current about once a second. ``ttl`` is how often it reads the version
    row while the channel is up (a safety net); ``ttl == 0`` means no watcher and every
    read rereads SQL first (tests, debugging).
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        ttl: float,
        disk_path: str,
        channel: Callable[[], ConfigChannel] | None = None,
        on_load: Callable[[Snapshot], None] | None = None,
    ):
        self.sessions = sessions  # opens a database session of the directory's own
        self.ttl = ttl
        self.disk_path = disk_path
        self.channel = channel  # makes the change channel, for the watcher
        self.on_load = on_load  # told of every snapshot read from SQL (the pool syncer)
        self.current_for = CURRENT_FOR
        self.cold_wait = COLD_WAIT
        self._snapshot: Snapshot | None = None
        self._written: int | None = None
        self._lock = threading.Lock()  # one reader of SQL at a time
        self._swap = threading.Lock()  # a disk copy never replaces SQL's; one watcher
        self._watcher: ConfigWatcher | None = None
        self._watching = 0  # the pid of the process the watcher runs in
        self._first_read = threading.Event()  # the first attempt to read SQL is over

    def get(self) -> Snapshot | None:
        """The snapshot held; None only if neither SQL nor the disk copy could be read.

        A process starting cold waits up to ``cold_wait`` for its first read of SQL, then
        answers from the copy on disk, so a database that hangs cannot hold up its first
        calls.
        """
        if self.ttl <= 0:
            self.refresh(full=True)
            return self._snapshot
        if self._watching != os.getpid():  # not started yet, or left behind by a fork
            self._watch()
        if self._snapshot is None:
            self._cold_start()
        return self._snapshot

    def current(self, snapshot: Snapshot) -> bool:
        """Whether ``snapshot`` is known to hold the configuration as it is: read from SQL
        and confirmed within ``current_for`` seconds (by the version row, or by a change
        channel that stayed up with nothing announced). Time alone never makes a
        snapshot stale while the process can still confirm it."""
        return (
            snapshot.version >= 0
            and snapshot.loaded_at > 0
            and time.monotonic() - snapshot.loaded_at <= self.current_for
        )

    def confirm(self, at: float) -> None:
        """The snapshot held was current at ``at`` (monotonic), as the watcher proved."""
        snapshot = self._snapshot
        if snapshot is not None and snapshot.version >= 0 and at > snapshot.loaded_at:
            snapshot.loaded_at = at

    def invalidate(self) -> None:
        """After this process changed the configuration: reread SQL now, in this thread,
        so that its own next request sees the change (other processes hear of it on the
        change channel)."""
        if self.ttl > 0 and self._snapshot is not None:
            self.refresh()

    def refresh(self, full: bool = False) -> bool:
        """Reread SQL if the version row moved (always, if ``full``); True when the
        snapshot held is then known current, False if the database could not be read."""
        with self._lock:
            started = time.monotonic()
            try:
                snapshot = self._read(full)
            except Exception:
                log.warning("directory: database unavailable, keeping the last snapshot")
                if self._snapshot is None:
                    self._adopt_disk_copy()
                self._first_read.set()
                return False
            if snapshot is None:  # unchanged: what we hold is current as of ``started``
                self._snapshot.loaded_at = max(self._snapshot.loaded_at, started)
                return True
            snapshot.loaded_at = started
            with self._swap:
                self._snapshot = snapshot
            self._first_read.set()
            self._to_disk(snapshot)
        if self.on_load is not None:
            self.on_load(snapshot)
        return True

    def _read(self, full: bool) -> Snapshot | None:
        """A new snapshot from SQL, or None if the version row says ours is current."""
        # A session of its own: the request's session is not ours to close.
        with self.sessions() as db:
            known = self._snapshot
            if (
                not full
                and known is not None
                and known.version >= 0
                and current_version(db) == known.version
            ):
                return None
            return load(db)

    def _watch(self) -> None:
        with self._swap:
            if self._watching != os.getpid():
                self._watcher = ConfigWatcher(self, self.channel)
                self._watcher.start()
                self._watching = os.getpid()

    def _cold_start(self) -> None:
        """The first read in a process: SQL if it answers in time, else the disk copy."""
        if self._first_read.wait(self.cold_wait) and self._snapshot is not None:
            return
        if not self._adopt_disk_copy():
            self._first_read.wait()  # nothing else to answer from: wait for SQL

    def _adopt_disk_copy(self) -> bool:
        """Hold the copy on disk unless SQL's snapshot came first; False if there is none."""
        disk = self._from_disk()
        if disk is None:
            return False
        with self._swap:
            if self._snapshot is None:
                self._snapshot = disk
        return True

    def _to_disk(self, snapshot: Snapshot) -> None:
        raw = snapshot.to_json()
        digest = hash(raw)
        if digest == self._written:
            return  # unchanged: a big routing table is not rewritten every refresh
        tmp = f"{self.disk_path}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(raw)
            os.replace(tmp, self.disk_path)
            self._written = digest
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
    shared = state()
    if "directory" not in shared:
        url, timeout = setting("QUEUE_REDIS_URL"), float(setting("REDIS_TIMEOUT"))
        ttl = float(setting("CACHE_SECONDS"))
        syncer = get_syncer()
        shared["directory"] = Directory(
            shared["sessionmaker"],
            ttl=ttl,
            disk_path=os.path.join(instance_path(), "directory.json"),
            # The watcher's own client: its subscription holds a connection for good.
            # Bytes, because redis-py reads a decoded pong as a message of its characters.
            channel=lambda: ConfigChannel(make_redis(url, timeout, decode=False)),
            # Pools are synced off the request path: by the syncer's thread, or with no
            # watcher (ttl 0) right after each load, in the thread that loaded.
            on_load=syncer.loaded if ttl > 0 else syncer.sync_now,
        )
    return shared["directory"]


def site_for_key(key: str) -> SiteConfig | None:
    """The site with this public key, from the cache."""
    snapshot = get_directory().get()
    return snapshot.sites.get(key) if snapshot else None


def default_number(snapshot: Snapshot | None, agency_id: int | None) -> str | None:
    """Where a call of the agency that no route takes goes: the agency's default number,
    else ``RINGTRAIL_DEFAULT_FORWARD_NUMBER``; None when neither is set."""
    own = snapshot.defaults.get(agency_id) if snapshot and agency_id is not None else None
    return own or setting("DEFAULT_FORWARD_NUMBER") or None


def route_for(number: str) -> Route | None:
    """The route of a tracking number, from the cache."""
    snapshot = get_directory().get()
    return snapshot.routes.get(number) if snapshot else None
