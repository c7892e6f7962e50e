"""Pool syncs: making a pool's numbers in Redis match SQL without ever stalling Redis.

A pool's leasable list (``PoolConfig.numbers``) lives in SQL; the lease script needs it
in Redis (``PoolKeys.numbers`` and ``free``), tagged with its version. A pool is synced
when Redis does not hold its current version: first use, a flushed or restarted Redis,
an import, a purchase, a retirement.

- **In chunks.** One script call adds at most ``CHUNK`` numbers (``sync_add.lua``), then
  calls of ``sync_prune.lua`` scan the set ``CHUNK`` at a time for numbers that left
  the list; the last one writes the version. Each call stays far under 10 ms of Redis
  time (a 100,000-number list in one script took 0.8 s, and every lease waited behind
  it). Numbers added so far may be leased at once: the lease script accepts a pool whose
  ``syncing`` is the version it expects.
- **Once across all processes.** A pool's sync runs behind its lock (redis-py's
  ``Lock``: a random token, an expiry, renewed after every chunk, released by its owner
  only). The race it prevents::

      t0  worker A and worker B load the routing table; both see pool 7 unsynced
      t1  without the lock both send the same 100 chunks, twice the Redis time
      t1  with it, B's acquire fails at once; B leaves pool 7 to A
      t2  A dies mid-sync; its lock expires LOCK_SECONDS later, and the next pass of
          any worker (woken by a request that saw the pool unsynced) starts it again

- **Never inside a request.** A request that finds its pool unsynced answers without a
  lease (the source-level or business number, as when Redis is away) and wakes this
  process's :class:`PoolSyncer`, a daemon thread that syncs from the routing table it
  was last handed. The directory hands it every table it loads, so an import or a
  purchase is synced by the first process that reloads. With ``CACHE_SECONDS=0`` (tests,
  debugging: every read rereads SQL in the reading thread) the sync runs in that reading
  thread, right after the load.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from ringtrail.context import setting, state
from ringtrail.tracking.pool import (
    CHUNK,
    PoolStore,
    get_pools,
    numbers_version,
)

log = logging.getLogger(__name__)

RETRY = 1.0  # seconds before a pool another process was syncing is looked at again
PAUSE = 0.05  # seconds between two passes at least
IDLE = 5.0  # seconds a sleeping thread waits before it looks whether its syncer is gone


def sync_pool(
    store: PoolStore,
    pool_id: int,
    numbers: Sequence[str],
    version: str | None = None,
    *,
    wait: float | None = None,
    chunk: int = CHUNK,
) -> int | None:
    """Sync one pool to ``numbers`` in chunks, behind its lock; how many numbers were
    added, or None when another process held the lock (for ``wait`` seconds, or at once
    without it) or took it over (see :meth:`PoolStore.sync_in_chunks`)."""
    return store.sync_in_chunks(pool_id, numbers, version, wait=wait, chunk=chunk)


def pools_of(snapshot: Any) -> list[Any]:
    """Every pool of a routing table (``directory.Snapshot``), each once."""
    seen: dict[int, Any] = {}
    for site in snapshot.sites.values():
        for pool in site.pools:
            seen.setdefault(pool.id, pool)
    return list(seen.values())


def sync_pools(store: PoolStore, pools: Iterable[Any]) -> list[int]:
    """Sync every pool whose version Redis does not hold, skipping those another process
    is syncing; the ids of the pools still unsynced (locked elsewhere)."""
    pools = list(pools)
    held = store.synced_versions([p.id for p in pools])
    waiting = []
    for pool, version in zip(pools, held, strict=True):
        wanted = pool.version or numbers_version(pool.numbers)
        if version == wanted:
            continue
        if sync_pool(store, pool.id, pool.numbers, wanted) is None:
            waiting.append(pool.id)
    return waiting


class PoolSyncer:
    """This process's syncing thread (see the module's docstring).

    :meth:`loaded` hands it each routing table the directory loads; :meth:`wake` is
    what a request calls when its pool is unsynced. Both return at once. The thread
    starts on first use, and again in a forked child.
    """

    def __init__(self, store: PoolStore, background: bool = True):
        self.store = store
        self.background = background  # False: no thread, pools sync in sync_now only
        self._snapshot: Any = None
        self._wake = threading.Event()
        self._guard = threading.Lock()
        self._pid = 0

    def loaded(self, snapshot: Any) -> None:
        """The directory loaded ``snapshot``: sync what it says, in the background."""
        self._snapshot = snapshot
        self.wake()

    def wake(self, *_: Any) -> None:
        """Look at every pool again soon (a request found one unsynced)."""
        if not self.background:
            return
        self._start()
        self._wake.set()

    def sync_now(self, snapshot: Any) -> None:
        """Sync ``snapshot``'s pools in this thread (``CACHE_SECONDS=0``: no watcher)."""
        self._snapshot = snapshot
        try:
            sync_pools(self.store, pools_of(snapshot))
        except redis.RedisError as exc:
            log.warning("pool sync: redis unavailable (%s)", exc)

    def _start(self) -> None:
        if self._pid == os.getpid():
            return
        with self._guard:
            if self._pid != os.getpid():
                self._wake = threading.Event()  # a fork copies the parent's state
                thread = threading.Thread(
                    target=_run, args=(weakref.ref(self), self._wake), name="ringtrail-pool-sync"
                )
                thread.daemon = True
                thread.start()
                self._pid = os.getpid()

    def sync_pass(self) -> bool:
        """Sync the last table handed in; whether a pool must be looked at again later
        (another process holds its lock, or Redis is away)."""
        snapshot = self._snapshot
        if snapshot is None:
            return False
        try:
            return bool(sync_pools(self.store, pools_of(snapshot)))
        except redis.RedisError as exc:
            log.warning("pool sync: redis unavailable (%s); retrying", exc)
        except Exception:  # never let the thread die: leases depend on it
            log.exception("pool sync: unexpected error")
        return True


def _run(syncer_ref: weakref.ref, wake: threading.Event) -> None:
    """A syncer's thread: a pass each time it is woken. It holds its syncer only during a
    pass, and ends once the syncer is gone (its app was discarded: tests, reloads), so a
    discarded app leaves no thread retrying a Redis that is gone too."""
    while True:
        if not wake.wait(IDLE):
            if syncer_ref() is None:
                return
            continue
        wake.clear()
        syncer = syncer_ref()
        if syncer is None:
            return
        again = syncer.sync_pass()
        del syncer
        if again:
            # Another process holds a lock (or Redis is away): look again later.
            # Requests that find the pool unsynced meanwhile do not hurry us.
            time.sleep(RETRY)
            wake.set()
        else:
            time.sleep(PAUSE)  # a burst of wakes makes one more pass, not one each


def get_syncer() -> PoolSyncer:
    """The app's pool syncer, on the lease Redis."""
    shared = state()
    if "syncer" not in shared:
        # With no watcher (CACHE_SECONDS=0) the directory syncs after each load itself.
        background = float(setting("CACHE_SECONDS")) > 0
        shared["syncer"] = PoolSyncer(get_pools(), background=background)
    return shared["syncer"]
