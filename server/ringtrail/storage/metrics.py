"""Operators' counters, counted where things happen and read by ``/metrics``.

Two kinds, by where they are kept:

- **per process** (prometheus-client): the voice webhook's latency and the degraded
  answers. Under ``ringtrail serve`` every gunicorn worker writes its values to files in
  ``PROMETHEUS_MULTIPROC_DIR`` (the instance folder's ``metrics/``, emptied when
  ``serve`` starts), and a scrape of any worker sums them all (prometheus-client's
  multiprocess mode). Without that variable (tests, one process) they live in
  :data:`REGISTRY`;
- **in Redis** (the queue Redis): carrier API errors, which the web processes and the
  worker (retention and erasure jobs) both meet, on any machine. One small hash,
  ``ringtrail:metrics:carrier-errors`` (kind → count), read at scrape time.

Labels are small fixed sets (a reason, an error kind): never a number, an id of a
person or a call.
"""

from __future__ import annotations

import logging
import os
import re

from prometheus_client import CollectorRegistry, Counter, Histogram

from ringtrail.storage.clients import get_queue_redis

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CARRIER_ERRORS = "ringtrail:metrics:carrier-errors"
DEGRADED_REASONS = ("stale_routing", "not_queued", "error", "fallback")
_KIND = re.compile(r"[a-z0-9_]{1,32}")

REGISTRY = CollectorRegistry(auto_describe=True)  # this process's metrics (one process)
if os.environ.get(MULTIPROC_ENV):  # the metrics below write their files there at once
    os.makedirs(os.environ[MULTIPROC_ENV], mode=0o700, exist_ok=True)

VOICE_SECONDS = Histogram(
    "ringtrail_voice_webhook_seconds",
    "Time the voice webhook took to answer, in seconds.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
DEGRADED = Counter(
    "ringtrail_degraded_answers",
    "Calls forwarded the degraded way (unrecorded): routing not confirmed current, the "
    "record not queued, an unexpected error, or a call that reached the Fallback URL.",
    ["reason"],
    registry=REGISTRY,
)


def multiprocess() -> bool:
    """Whether this process writes its metrics for a multiprocess scrape (the folder
    named by ``PROMETHEUS_MULTIPROC_DIR`` exists)."""
    folder = os.environ.get(MULTIPROC_ENV)
    return bool(folder) and os.path.isdir(folder)


def observe_voice(seconds: float) -> None:
    """One voice webhook answered in ``seconds``. Never raises: a call connects even if
    its figures cannot be written (a metrics folder that went away)."""
    try:
        VOICE_SECONDS.observe(seconds)
    except Exception as exc:
        log.warning("metrics: voice latency not counted (%s)", type(exc).__name__)


def count_degraded(reason: str) -> None:
    """One call answered the degraded way, for ``reason`` (one of DEGRADED_REASONS).
    Never raises."""
    try:
        DEGRADED.labels(reason if reason in DEGRADED_REASONS else "error").inc()
    except Exception as exc:
        log.warning("metrics: degraded answer not counted (%s)", type(exc).__name__)


def carrier_error_kind(status: int, *, timed_out: bool = False) -> str:
    """The kind of a carrier API error, from its HTTP status (0: no answer)."""
    if status == 0:
        return "timeout" if timed_out else "unreachable"
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server"
    return "client"


def count_carrier_error(kind: str) -> None:
    """One failed request to the carrier's REST API, of ``kind`` (see
    :func:`carrier_error_kind`). Best effort: counting never fails the caller, and
    outside an app context (or with the queue Redis away) the error is only logged."""
    kind = kind if _KIND.fullmatch(kind or "") else "other"
    try:
        get_queue_redis().hincrby(CARRIER_ERRORS, kind, 1)
    except Exception as exc:
        log.info("metrics: carrier error %s not counted (%s)", kind, type(exc).__name__)


def carrier_errors(client) -> dict[str, int]:
    """Carrier API errors counted so far, by kind (``client``: the queue Redis)."""
    return {str(k): int(v) for k, v in client.hgetall(CARRIER_ERRORS).items()}
