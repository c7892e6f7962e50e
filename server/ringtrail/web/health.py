"""Doors for operators: ``/healthz`` (alive), ``/readyz`` (ready) and ``/metrics``.

- ``/healthz`` answers 200 while the process serves requests, whatever the stores do: a
  supervisor restarts a process that stops answering it, and restarting never fixes a
  store.
- ``/readyz`` answers 200 when SQL, the lease Redis, the queue Redis and the queue all
  answer, 503 when one does not; the JSON body names each check, its state and reason,
  and how many call events wait in this node's spool. A load balancer can take a node
  out of rotation for it (calls still connect on a node that is not ready: the voice
  webhook forwards them degraded).
- ``/metrics`` is Prometheus's text format, off (404) unless ``RINGTRAIL_METRICS_TOKEN``
  is set, and then only for ``Authorization: Bearer <token>`` (401 otherwise).
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ringtrail import errors
from ringtrail.reports.operations import StoreFigures, readiness
from ringtrail.storage import metrics

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Response:
    try:
        ready, body = readiness()
    except Exception:  # a probe is never a 500: whatever broke, this node is not ready
        log.exception("readyz: the checks themselves failed")
        ready, body = False, {"status": "not ready", "error": "the checks could not run"}
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def _authorised() -> None:
    """404 while metrics are off; 401 without the right bearer token (compared in
    constant time)."""
    token = current_app.config.get("METRICS_TOKEN")
    if token in (None, ""):
        raise errors.NotFound("not found")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    expected = str(token).encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise errors.Unauthenticated("metrics need Authorization: Bearer RINGTRAIL_METRICS_TOKEN")


@bp.get("/metrics")
def metrics_page() -> Response:
    _authorised()
    if metrics.multiprocess():
        # Every gunicorn worker's counters, summed from their files.
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
    else:
        processes = metrics.REGISTRY
    stores = CollectorRegistry(auto_describe=False)
    stores.register(StoreFigures())
    body = generate_latest(processes) + generate_latest(stores)
    response = Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
