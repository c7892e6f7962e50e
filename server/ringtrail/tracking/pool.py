"""Tracking-number pools in Redis: leasing, renewal, expiry and lease history.

A lease is owned by its visitor session id, a random 128-bit token that only that
visitor's browser holds; renewing is leasing again with the same id. The race the
single script prevents::

    t0  visitor A asks for a number; the pool has one free number, N
    t0  visitor B asks for a number at the same moment
        with a read-then-write in Python, both read "N is free" and both get N;
        lease.lua runs atomically, so B sees N gone and falls to the exhaustion policy.

Expiry is decided inside the script, on Redis's own clock (``TIME``), so every web node
reads one clock and no sweeper job is needed; tests and the simulator pass a time in.

A released number rests (by default for the pool's match window) before another visitor
gets it, so a late call from its last holder cannot reach a new one. The boundary rule is
one, here and in ``lease.lua``: a lease is live on ``[start, end)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis
from redis.cluster import RedisCluster
from redis.exceptions import LockError, NoScriptError

from ringtrail.context import state
from ringtrail.storage import lua
from ringtrail.storage.clients import get_redis
from ringtrail.tracking.visit_counts import VisitKey

log = logging.getLogger(__name__)

LEASE_LUA = lua("lease.lua")
SYNC_ADD_LUA = lua("sync_add.lua")
SYNC_PRUNE_LUA = lua("sync_prune.lua")
ERASE_SESSION_LUA = lua("erase_session.lua")
VISIT_COUNTS_TTL = 3 * 86400  # the hourly flush copies them to SQL long before
SYNC_WAIT = 30.0  # seconds PoolStore.sync waits for a sync another process is running
CHUNK = 250  # numbers per sync script call: well under 1 ms of Redis time (a few on a busy machine)
LOCK_SECONDS = 10.0  # a dead syncer's lock outlives it this long at most
STAGING_SECONDS = 600  # an abandoned sync's staging set outlives its last chunk this long


def numbers_version(numbers: Sequence[str]) -> str:
    """A short fingerprint of a pool's number list; a change makes Redis resync."""
    return hashlib.sha256("\n".join(sorted(numbers)).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Lease:
    """What a visitor got from a pool: a status and, unless none was given, a number."""

    status: str  # new | renewed | shared | overflow | original | source
    number: str | None
    shared: bool
    at: float = 0.0  # the time the script used (Redis's clock unless one was passed in)


@dataclass(frozen=True)
class LeaseRequest:
    """One pool to lease from, for one session (see :meth:`PoolStore.lease`)."""

    pool_id: int
    session: str
    numbers: Sequence[str]
    lease_seconds: int
    policy: str = "reuse_oldest"
    history_seconds: int = 3600 + 86400  # the match window, and a day of replays
    visit_field: str = ""
    version: str | None = None
    allocation: str = "lru"  # "random" (or a fraction) exists only so the simulator can compare
    rest_seconds: int = 3600  # a released number waits this long before its next visitor
    has_source_number: bool = False  # on exhaustion, show the source's own number instead
    site_limit: int = 0  # session starts per minute on the pool (0: none)
    client_limit: int = 0  # session starts per anonymous client per 10 minutes (0: none)
    client: str = ""  # that client's keyed, window-salted hash ("" when unknown)


@dataclass(frozen=True)
class LeaseRecord:
    """One lease of a number: who held it and from when to when."""

    session: str
    start: float
    end: float
    shared: bool
    last: float | None = None  # the visitor's latest activity (None: not recorded)

    def present(self, t: float, seconds: float, tolerance: float = 0.0) -> bool:
        """Whether the visitor was on the page around ``t``: active within ``seconds``
        before it, or at any time after it."""
        return self.last is None or self.last + seconds + tolerance >= t

    def live(self, t: float, tolerance: float = 0.0) -> bool:
        """Whether the lease was live at ``t``: on ``[start, end)``, as lease.lua says."""
        return self.start <= t + tolerance and t - tolerance < self.end

    def could_call(self, t: float, match_window: float, tolerance: float = 0.0) -> bool:
        """Whether its visitor could have called at ``t``: shown the number by then, and
        no more than the match window after the lease ended."""
        return self.start <= t + tolerance and t - tolerance < self.end + match_window


class PoolKeys:
    """Every Redis key of one pool. All share the hash tag ``{pool:ID}`` (one cluster slot).

    - ``numbers``  SET   every leasable number of the pool
    - ``free``     ZSET  number → time it was last released (0 = never used)
    - ``busy``     ZSET  number → latest expiry among its live leases
    - ``leases``   HASH  number → JSON {session: [start, expires, shared, last activity]}
    - ``holders``  HASH  session → number
    - ``history``  HASH  number → its ended leases, oldest first, as text: ``COUNT\n``,
      then ``session start end shared last\n`` per lease (``last`` empty when unknown).
      Appended to by lease.lua, never decoded whole there, so a lease costs the same
      however many visits each number served. Older versions wrote a JSON array, newest
      first: it is read as it is, and rewritten as text when its number is reclaimed.
    - ``stats``    HASH  version (of the number list synced), syncing (the version a sync
      under way is making), and running totals: leases, exhausted, shared
    - ``visits(day)`` HASH  "source|medium" → visits that day (expires after 3 days)
    - ``hours(day)``  HASH  new:HH, exhausted:HH, peak:HH, held:HH, ended:HH: the pool's
      load by hour (new leases, exhaustions, most live leases, seconds held by and count
      of the leases that ended), expires after 3 days
    - ``refused``  ZSET  session → when its refusal ends: a visitor turned away on
      exhaustion is answered the same way, and counted once, while it stays active
    - ``starts(minute)``  STRING  session starts this minute (expires after a minute)
    - ``client(hash)``    STRING  session starts of one anonymous client in a 10-minute
      window: the hash is keyed and salted per window, and the key expires with it
    - ``sync_lock`` STRING  the token of the process syncing the pool (expires unless
      renewed; see ``poolsync.py``)
    - ``staging(version)`` SET  the numbers of that version a sync has added so far
      (expires when the sync is abandoned)
    """

    def __init__(self, pool_id: int):
        self.pool_id = pool_id
        self.prefix = f"ringtrail:{{pool:{pool_id}}}"

    @property
    def numbers(self) -> str:
        return f"{self.prefix}:numbers"

    @property
    def free(self) -> str:
        return f"{self.prefix}:free"

    @property
    def busy(self) -> str:
        return f"{self.prefix}:busy"

    @property
    def leases(self) -> str:
        return f"{self.prefix}:leases"

    @property
    def holders(self) -> str:
        return f"{self.prefix}:holders"

    @property
    def history(self) -> str:
        return f"{self.prefix}:history"

    @property
    def stats(self) -> str:
        return f"{self.prefix}:stats"

    @property
    def refused(self) -> str:
        return f"{self.prefix}:refused"

    @property
    def sync_lock(self) -> str:
        return f"{self.prefix}:sync_lock"

    def staging(self, version: str) -> str:
        return f"{self.prefix}:staging:{version}"

    def starts(self, minute: int) -> str:
        return f"{self.prefix}:starts:{minute}"

    def client(self, fingerprint: str) -> str:
        return f"{self.prefix}:client:{fingerprint or '-'}"

    def visits(self, day: str) -> str:
        return f"{self.prefix}:visits:{day}"

    def hours(self, day: str) -> str:
        return f"{self.prefix}:hours:{day}"


class PoolStore:
    """Leases numbers of pools kept in one Redis (or Redis Cluster)."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._lease = client.register_script(LEASE_LUA)
        self.sync_add = client.register_script(SYNC_ADD_LUA)
        self.sync_prune = client.register_script(SYNC_PRUNE_LUA)
        self._erase_session = client.register_script(ERASE_SESSION_LUA)

    def sync(self, pool_id: int, numbers: Sequence[str]) -> int:
        """Make the pool's leasable numbers match ``numbers`` now, in chunks and behind
        the pool's sync lock (waiting for a sync another process runs); returns how many
        were added. For jobs, the CLI and tests: requests never sync (``poolsync.py``)."""
        added = self.sync_in_chunks(pool_id, numbers, wait=SYNC_WAIT)
        if added is None:
            raise redis.exceptions.LockError(f"pool {pool_id}: another sync held the lock")
        return added

    def sync_in_chunks(
        self,
        pool_id: int,
        numbers: Sequence[str],
        version: str | None = None,
        *,
        wait: float | None = None,
        chunk: int = CHUNK,
    ) -> int | None:
        """Sync one pool to ``numbers``, ``chunk`` numbers per script call, behind the
        pool's lock (see ``poolsync.py``); how many numbers were added, or None when
        another process held the lock (for ``wait`` seconds, or at once without it) or
        took it over. ``version`` is :func:`numbers_version` of ``numbers``."""
        version = version or numbers_version(numbers)
        k = PoolKeys(pool_id)
        lock = self.redis.lock(
            k.sync_lock, timeout=LOCK_SECONDS, blocking=wait is not None, blocking_timeout=wait
        )
        if not lock.acquire():
            return None
        try:
            if self.redis.hget(k.stats, "version") == version:
                return 0  # another process finished it while we waited
            staging = k.staging(version)
            added = 0
            for start in range(0, len(numbers), chunk):
                part = numbers[start : start + chunk]
                keys = [k.numbers, k.free, k.busy, k.stats, staging]
                added += int(self.sync_add(keys=keys, args=[version, STAGING_SECONDS, *part]))
                lock.reacquire()  # renewed: raises if the lock expired and another took it
            cursor = "0"
            while True:
                keys = [k.numbers, k.free, k.stats, staging]
                cursor, _removed = self.sync_prune(keys=keys, args=[version, cursor, chunk])
                if int(cursor) == 0:  # "0" (or b"0" from a client that does not decode)
                    return added
                lock.reacquire()
        except LockError:
            log.warning("pool sync: lost the lock of pool %s; another process syncs it", pool_id)
            return None
        finally:
            with contextlib.suppress(LockError, redis.RedisError):
                lock.release()

    def lease(
        self,
        pool_id: int,
        session: str,
        *,
        numbers: Sequence[str],
        lease_seconds: int,
        policy: str = "reuse_oldest",
        history_seconds: int = 3600 + 86400,
        visit_field: str = "",
        now: float | None = None,
        version: str | None = None,
        rest_seconds: int = 3600,
        has_source_number: bool = False,
    ) -> Lease:
        """Lease (or renew) a number of the pool for ``session``.

        ``numbers`` is the pool's leasable list from SQL and ``version`` its
        :func:`numbers_version` (pass it when cached: hashing a big pool per request is
        not free). When Redis holds another version (first use, a flushed or restarted
        Redis, an edited pool) the pool is synced first.
        """
        request = LeaseRequest(
            pool_id,
            session,
            numbers,
            lease_seconds,
            policy,
            history_seconds,
            visit_field,
            version,
            rest_seconds=rest_seconds,
            has_source_number=has_source_number,
        )
        return self.lease_all([request], now=now)[0]

    def lease_all(
        self,
        requests: Sequence[LeaseRequest],
        *,
        now: float | None = None,
        also: Callable[[redis.client.Pipeline], None] | None = None,
        unsynced: Callable[[LeaseRequest], None] | None = None,
    ) -> list[Lease]:
        """Run several leases, plus any commands ``also`` adds, in one round trip.

        Without ``now`` the script reads Redis's clock; with it (tests, the simulator)
        that time is used. A pool Redis holds another version of is synced first and
        leased again, unless ``unsynced`` is given (requests): then it is called with
        that pool's request and the lease says ``unsynced``, with no number.
        """
        calls = [self._call(r, now) for r in requests]
        results = self._pipeline(calls, also)
        if any(isinstance(r, NoScriptError) for r in results):
            # The script cache is empty after a restart, failover or SCRIPT FLUSH.
            self.redis.script_load(LEASE_LUA)
            results = self._pipeline(calls, also)
        for result in results:
            if isinstance(result, Exception):
                raise result
        leases = []
        for request, (keys, args), result in zip(requests, calls, results, strict=False):
            status, number, shared, at = result
            if status == "unsynced" and unsynced is not None:
                unsynced(request)
            elif status == "unsynced":
                self.sync(request.pool_id, request.numbers)
                status, number, shared, at = self._lease(keys=keys, args=args)
            leases.append(
                Lease(status, number or None, bool(int(shared)), float(at)),
            )
        return leases

    def _call(self, r: LeaseRequest, now: float | None) -> tuple[list[str], list]:
        k = PoolKeys(r.pool_id)
        # The day's counter keys must be named here (Redis Cluster), so from this
        # process's clock; the script counts the hour on its own clock.
        clock = time.time() if now is None else now
        day = time.strftime("%Y-%m-%d", time.gmtime(clock))
        keys = [
            *(k.numbers, k.free, k.busy, k.leases, k.holders, k.history, k.stats),
            *(k.visits(day), k.hours(day), k.refused),
            *(k.starts(int(clock // 60)), k.client(r.client)),
        ]
        # "random" draws here; the simulator may pass its own draw (a fraction) instead.
        allocation = repr(random.random()) if r.allocation == "random" else r.allocation
        args = [
            "" if now is None else repr(now),
            r.session,
            int(r.lease_seconds),
            r.policy,
            r.version or numbers_version(r.numbers),
            int(clock // 86400),
            int(r.history_seconds),
            r.visit_field,
            allocation,
            int(r.rest_seconds),
            "1" if r.has_source_number else "0",
            int(r.site_limit),
            int(r.client_limit) if r.client else 0,
        ]
        return keys, args

    def _pipeline(self, calls, also) -> list:
        if isinstance(self.redis, RedisCluster):
            # Cluster pipelines refuse EVALSHA: one call per pool (each to its own slot).
            out: list = []
            for keys, args in calls:
                try:
                    out.append(self._lease(keys=keys, args=args))
                except redis.RedisError as exc:
                    out.append(exc)
            if also is not None:
                pipe = self.redis.pipeline()
                also(pipe)
                out += pipe.execute(raise_on_error=False)
            return out
        pipe = self.redis.pipeline(transaction=False)
        for keys, args in calls:
            pipe.evalsha(self._lease.sha, len(keys), *keys, *args)
        if also is not None:
            also(pipe)
        return pipe.execute(raise_on_error=False)

    def records(self, pool_id: int, number: str) -> list[LeaseRecord]:
        """Every lease of ``number`` still remembered: live ones and recent history."""
        k = PoolKeys(pool_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(k.leases, number)
        pipe.hget(k.history, number)
        live_raw, history_raw = pipe.execute()
        live = json.loads(live_raw) if live_raw else {}
        return [_record(session, *lease) for session, lease in live.items()] + _history(history_raw)

    def holder_count(self, pool_id: int) -> int:
        """Numbers with a live (not yet reclaimed) lease."""
        return int(self.redis.zcard(PoolKeys(pool_id).busy))

    def stats(self, pool_id: int) -> dict[str, str]:
        """The pool's running totals: leases, exhausted, shared."""
        return self.redis.hgetall(PoolKeys(pool_id).stats)

    def hours(self, pool_id: int, day: str) -> dict[str, int]:
        """The pool's load by hour on ``day`` (YYYY-MM-DD), as counted by the lease script."""
        return {k: int(v) for k, v in self.redis.hgetall(PoolKeys(pool_id).hours(day)).items()}

    def count_visit(self, pool_id: int, day: str, key: VisitKey) -> None:
        """Count one visit that took no lease (an aggregate, with no visitor id)."""
        name = PoolKeys(pool_id).visits(day)
        if self.redis.hincrby(name, key.field, 1) == 1:
            self.redis.expire(name, VISIT_COUNTS_TTL)

    def visit_counts(self, pool_id: int, day: str) -> dict[VisitKey, int]:
        """Visits on ``day`` (YYYY-MM-DD) by what they are counted by, leased or not."""
        out: dict[VisitKey, int] = {}
        for field, value in self.redis.hgetall(PoolKeys(pool_id).visits(day)).items():
            key = VisitKey.parse(field)
            out[key] = out.get(key, 0) + int(value)
        return out

    def erase_session(self, pool_id: int, session: str, stand_in: str) -> int:
        """Replace ``session`` in the pool's leases and history by ``stand_in`` (erasure);
        returns how many references went. The timeline stays, so other visitors' calls
        are attributed as before and a late call to the number still finds it rested."""
        k = PoolKeys(pool_id)
        keys = [k.leases, k.holders, k.history]
        erased = int(self._erase_session(keys=keys, args=[session, stand_in]))
        return erased + int(self.redis.zrem(k.refused, session))

    def synced_versions(self, pool_ids: Sequence[int]) -> list[str | None]:
        """The number-list version each pool holds in Redis (None: never synced)."""
        pipe = self.redis.pipeline(transaction=False)
        for pool_id in pool_ids:
            pipe.hget(PoolKeys(pool_id).stats, "version")
        return pipe.execute()

    def forget(self, pool_id: int, days: Sequence[str] = ()) -> None:
        """Delete the pool's lease state and its counters of ``days`` (the simulator
        clears a pool between runs)."""
        k = PoolKeys(pool_id)
        day_keys = [key for day in days for key in (k.visits(day), k.hours(day))]
        self.redis.delete(
            k.numbers, k.free, k.busy, k.leases, k.holders, k.history, k.stats, k.refused, *day_keys
        )


def _history(raw: str | None) -> list[LeaseRecord]:
    """A number's lease history as records, newest first, in either stored form."""
    if not raw:
        return []
    if raw.startswith("["):  # the JSON array of older versions, newest first
        return [_record(*entry) for entry in json.loads(raw)]
    lines = raw.split("\n")[1:-1]  # the count, the lines, and "" after the last newline
    out = []
    for line in reversed(lines):
        session, start, end, shared, last = line.split(" ")
        out.append(LeaseRecord(session, float(start), float(end), shared == "1", _seen(last)))
    return out


def _seen(last: str) -> float | None:
    return float(last) if last else None


def _record(session, start, end, shared, last=None, *_) -> LeaseRecord:
    """A stored lease as a record (leases stored before ``last`` existed have none)."""
    return LeaseRecord(
        session, float(start), float(end), bool(shared), None if last is None else float(last)
    )


def get_pools() -> PoolStore:
    """The app's pool store, on the lease Redis."""
    shared = state()
    if "pools" not in shared:
        shared["pools"] = PoolStore(get_redis())
    return shared["pools"]
