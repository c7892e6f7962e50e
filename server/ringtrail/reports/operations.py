"""What operators watch: whether the stores answer (``/readyz``) and the figures
``/metrics`` reads from them at scrape time.

Every check runs in a thread of its own with a deadline of :data:`CHECK_SECONDS`, so a
store that hangs (a frozen server, a blackholed connection) makes the answer "not
ready" within about a second; it never holds the probe up. Reasons are fixed phrases
("timed out", "cannot connect"), never an exception's text: those name hosts, ports and
sometimes users, which a load balancer's log has no business holding.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ringtrail.calls.intake import INBOX, get_spool
from ringtrail.context import state
from ringtrail.storage.clients import get_queue, get_queue_redis, get_redis
from ringtrail.storage.metrics import carrier_errors
from ringtrail.storage.sql import get_engine
from ringtrail.tracking.directory import get_directory
from ringtrail.tracking.pool import get_pools

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0  # each store has this long to answer


@dataclass
class Check:
    """One store's answer: ``ok``, or the ``reason`` it is not; ``seconds`` it took."""

    ok: bool
    reason: str = ""
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "seconds": round(self.seconds, 3)}
        if self.reason:
            out["reason"] = self.reason
        return out | self.detail


def reason_of(exc: BaseException) -> str:
    """A short reason for a store's failure that names no host, port or user."""
    if isinstance(exc, redis.TimeoutError | TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, redis.AuthenticationError):
        return "refused our credentials"
    if isinstance(exc, redis.ConnectionError | ConnectionError):
        return "cannot connect"
    if isinstance(exc, redis.ResponseError):
        word = str(exc).split(" ", 1)[0]
        return f"answered {word}" if word.isupper() and word.isalpha() else "answered an error"
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "connection lost"
    if isinstance(exc, SQLAlchemyError):
        return f"database error ({type(exc).__name__})"
    return f"failed ({type(exc).__name__})"


_running: dict[str, tuple[threading.Thread, dict[str, Check]]] = {}  # probes under way
_running_lock = threading.Lock()


def _run(
    probes: dict[str, Callable[[], dict[str, Any] | None]], deadline: float, scope: str
) -> dict[str, Check]:
    """Run every probe in a daemon thread of its own; a probe still running at the
    deadline is reported as timed out (its thread ends when its socket gives up).

    At most one probe per check and app is under way (``scope`` names them): a request
    that comes while one is (a hung store, a flood of probes, two load balancers) waits
    for that one's answer instead of starting another, so threads cannot pile up.
    """

    def run(box: dict[str, Check], probe: Callable[[], dict[str, Any] | None]) -> None:
        started = time.monotonic()
        try:
            detail = probe() or {}
            box["check"] = Check(True, seconds=time.monotonic() - started, detail=detail)
        except Exception as exc:
            box["check"] = Check(False, reason_of(exc), time.monotonic() - started)

    waiting: dict[str, tuple[threading.Thread, dict[str, Check]]] = {}
    with _running_lock:
        for name, probe in probes.items():
            key = f"{scope}:{name}"
            under_way = _running.get(key)
            if under_way is None or not under_way[0].is_alive():
                box: dict[str, Check] = {}
                thread = threading.Thread(target=run, args=(box, probe), daemon=True)
                under_way = _running[key] = (thread, box)
                thread.start()
            waiting[name] = under_way
    end = time.monotonic() + deadline
    for thread, _ in waiting.values():
        thread.join(max(0.0, end - time.monotonic()))
    return {
        name: box.get("check") or Check(False, f"no answer within {deadline:g} s", deadline)
        for name, (_, box) in waiting.items()
    }


def readiness(deadline: float = CHECK_SECONDS) -> tuple[bool, dict[str, Any]]:
    """Whether this web process can serve everything: SQL, the lease Redis, the queue
    Redis and the queue answer. Returns (ready, the answer's body), which also says how
    many call events wait in this node's spool."""
    engine, leases, queue_redis, queue = get_engine(), get_redis(), get_queue_redis(), get_queue()

    def sql() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    probes = {
        "sql": sql,
        "leases": lambda: leases.ping() and None,
        "queue_redis": lambda: queue_redis.ping() and None,
        "queue": lambda: {"depth": queue.count, "inbox": queue_redis.llen(INBOX)},
    }
    checks = _run(probes, deadline, f"ready:{id(state())}")
    ready = all(check.ok for check in checks.values())
    body: dict[str, Any] = {
        "status": "ready" if ready else "not ready",
        "checks": {name: check.as_dict() for name, check in checks.items()},
    }
    try:
        body["spooled"] = len(get_spool())
    except OSError:
        body["spooled"] = None  # the spool folder cannot be read: that is not ready
        ready = False
        body["status"] = "not ready"
    return ready, body


class StoreFigures:
    """A prometheus-client collector of the figures kept in the stores, read when
    scraped: each pool's running totals (lease Redis), the queue's depth and failed
    jobs (queue Redis), carrier API errors (queue Redis) and this node's spool.

    A store that does not answer leaves its figures out of that scrape (and is logged);
    ``/readyz`` says which store it is.
    """

    def __init__(self, deadline: float = CHECK_SECONDS):
        self.deadline = deadline

    def collect(self) -> Iterator[Any]:
        pools, queue, queue_redis = get_pools(), get_queue(), get_queue_redis()
        snapshot = get_directory().get()
        pool_ids = sorted(
            {p.id for site in (snapshot.sites.values() if snapshot else ()) for p in site.pools}
        )
        checks = _run(
            {
                "pools": lambda: {"stats": {pid: pools.stats(pid) for pid in pool_ids}},
                "queue": lambda: {
                    "depth": queue.count,
                    "inbox": queue_redis.llen(INBOX),
                    "failed": queue.failed_job_registry.count,
                    "carrier": carrier_errors(queue_redis),
                },
            },
            self.deadline,
            f"figures:{id(state())}",
        )
        for name, check in checks.items():
            if not check.ok:
                log.warning("metrics: %s figures left out (%s)", name, check.reason)
        if checks["pools"].ok:
            yield from _pool_families(checks["pools"].detail["stats"])
        if checks["queue"].ok:
            got = checks["queue"].detail
            yield GaugeMetricFamily(
                "ringtrail_queue_depth", "Jobs waiting in the queue.", value=got["depth"]
            )
            yield GaugeMetricFamily(
                "ringtrail_intake_backlog",
                "Call events stashed whose jobs the worker has not made yet.",
                value=got["inbox"],
            )
            yield GaugeMetricFamily(
                "ringtrail_failed_jobs",
                "Jobs in RQ's failed registry (they failed every retry).",
                value=got["failed"],
            )
            errors = CounterMetricFamily(
                "ringtrail_carrier_errors",
                "Failed requests to the carrier's REST API, by kind.",
                labels=["kind"],
            )
            for kind, count in sorted(got["carrier"].items()):
                errors.add_metric([kind], count)
            yield errors
        try:
            yield GaugeMetricFamily(
                "ringtrail_spool_backlog",
                "Call events in this node's spool whose records are not yet in SQL.",
                value=len(get_spool()),
            )
        except OSError as exc:
            log.warning("metrics: spool unreadable (%s)", type(exc).__name__)


POOL_TOTALS = (
    ("leases", "ringtrail_pool_leases", "Numbers leased to new visitors."),
    ("exhausted", "ringtrail_pool_exhaustions", "Visitors who found no rested number free."),
    ("shared", "ringtrail_pool_shared", "Exhaustions answered with a shared number."),
    (
        "overflow",
        "ringtrail_pool_overflow",
        "Exhaustions answered without a pool number (overflow, source or business number).",
    ),
    ("limited", "ringtrail_pool_limited", "Session starts past the limits on starts."),
)


def _pool_families(stats: dict[int, dict[str, str]]) -> Iterator[CounterMetricFamily]:
    """One counter family per running total, labelled by pool id only."""
    families = {
        key: CounterMetricFamily(
            name, doc + " Per pool, since its counters began.", labels=["pool"]
        )
        for key, name, doc in POOL_TOTALS
    }
    for pool_id, raw in stats.items():
        values = {
            key: int(raw.get(key) or 0) for key in ("leases", "exhausted", "shared", "limited")
        }
        values["overflow"] = max(0, values["exhausted"] - values["shared"])
        for key, family in families.items():
            family.add_metric([str(pool_id)], values[key])
    yield from families.values()
