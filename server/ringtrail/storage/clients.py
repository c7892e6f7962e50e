"""The Redis side of the two stores: the one place Redis clients are made.

- the **lease Redis** (``RINGTRAIL_REDIS_URL``, or a Redis Cluster): leases and visits;
- the **queue Redis** (``RINGTRAIL_QUEUE_REDIS_URL``): RQ queues and stashed call events;
- the **rate-limit Redis** (``RINGTRAIL_RATE_LIMIT_REDIS_URL``, default the queue's).

Every client comes from :func:`make_redis`: hot-path timeouts and no retries, because a
dead Redis must fail fast. Clients live in the app's shared state and are reached
through the getters below. With no ``RINGTRAIL_REDIS_URL`` an embedded Redis (embedded.py)
is started in the instance folder, so one command runs everything on a fresh machine.
"""

from __future__ import annotations

import socket
from typing import Any

import redis
from flask import Flask
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.serializers import JSONSerializer

from ringtrail.context import setting, state

QUEUE_NAME = "ringtrail"
# A connection whose peer vanished (a half-open TCP connection) is noticed by the kernel
# within KEEPIDLE + KEEPINTVL * KEEPCNT = 11 s, instead of hours.
KEEPALIVE = {
    getattr(socket, opt): value
    for opt, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3))
    if hasattr(socket, opt)
}
WORKER_SOCKET_TIMEOUT = 10  # seconds; RQ raises it to its BLPOP wait + 10 (11 s)


def init_app(app: Flask) -> None:
    """Resolve the Redis URLs (starting the embedded server if needed) and make the clients."""
    shared: dict[str, Any] = app.extensions.setdefault("ringtrail", {})
    url = app.config["REDIS_URL"]
    if not url:
        url = start_embedded_redis(app.instance_path, shared)
        app.config["REDIS_URL"] = url
    if not app.config["QUEUE_REDIS_URL"]:
        if app.config.get("REDIS_CLUSTER"):
            raise RuntimeError(
                "RINGTRAIL_QUEUE_REDIS_URL is required with RINGTRAIL_REDIS_CLUSTER: "
                "RQ cannot use Redis Cluster"
            )
        app.config["QUEUE_REDIS_URL"] = url
    timeout = float(app.config["REDIS_TIMEOUT"])
    shared["redis"] = make_redis(url, timeout, cluster=bool(app.config.get("REDIS_CLUSTER")))
    # Enqueueing fails fast too, so that a webhook can spool instead of waiting.
    shared["queue_redis"] = make_redis(app.config["QUEUE_REDIS_URL"], timeout)


def make_redis(
    url: str,
    timeout: float | None,
    *,
    cluster: bool = False,
    decode: bool = True,
    retries: bool = False,
) -> redis.Redis:
    """A client with short timeouts and no retries: a dead Redis must fail fast.

    The worker's own connection passes ``retries=True``: health checks and a few quick
    retries. Every TCP connection has keepalive. ``decode=False`` gives bytes, as
    RQ needs. With ``cluster`` the URL names one node of a Redis Cluster; leases and
    visits work unchanged there because each pool's keys share one hash tag.
    """
    keepalive = _keepalive(url)
    if cluster:
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=decode,
            **keepalive,
        )
    if retries:
        # The worker: a health check (PING) before using a connection idle for 5 s, and a
        # few quick retries with backoff before an error reaches RQ.
        return redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=2,
            health_check_interval=5,
            retry=Retry(ExponentialBackoff(cap=2, base=0.2), 3),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            decode_responses=decode,
            **keepalive,
        )
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry_on_timeout=False,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        decode_responses=decode,
        **keepalive,
    )


def _keepalive(url: str) -> dict[str, Any]:
    """TCP keepalive for TCP URLs (a unix socket has no half-open state)."""
    if url.startswith("unix:"):
        return {}
    return {"socket_keepalive": True, "socket_keepalive_options": KEEPALIVE}


def start_embedded_redis(
    instance_path: str, keep: dict[str, Any] | None = None, *, fsync: str = "everysec"
) -> str:
    """Start (or join) the embedded Redis of the instance folder; returns its URL.

    ``keep`` holds the :class:`~ringtrail.storage.embedded.EmbeddedRedis`, to watch or
    stop it. ``fsync`` is its ``appendfsync`` (``always`` for a queue Redis whose writes
    are committed: see :mod:`ringtrail.calls.intake`). The server dies with the process
    that started it.
    """
    from ringtrail.storage.embedded import EmbeddedRedis

    server = EmbeddedRedis(instance_path, fsync=fsync)
    url = server.start()
    if keep is not None:
        keep["embedded_redis"] = server
    return url


def get_redis() -> redis.Redis:
    """The lease and session Redis, with hot-path timeouts."""
    return state()["redis"]


def get_queue_redis() -> redis.Redis:
    """The Redis that holds RQ queues and stashed call events (may be the same server)."""
    return state()["queue_redis"]


def get_ratelimit_redis() -> redis.Redis:
    """The Redis that holds rate-limit counters."""
    shared = state()
    if "ratelimit_redis" not in shared:
        url = setting("RATE_LIMIT_REDIS_URL") or setting("QUEUE_REDIS_URL")
        shared["ratelimit_redis"] = make_redis(url, float(setting("REDIS_TIMEOUT")))
    return shared["ratelimit_redis"]


def get_queue() -> Queue:
    """The RQ queue for jobs, with the JSON serializer (RQ pickles by default)."""
    shared = state()
    if "queue" not in shared:
        conn = make_redis(setting("QUEUE_REDIS_URL"), float(setting("REDIS_TIMEOUT")), decode=False)
        shared["queue"] = Queue(QUEUE_NAME, connection=conn, serializer=JSONSerializer)
    return shared["queue"]


def worker_connection(
    url: str | None = None, timeout: float = WORKER_SOCKET_TIMEOUT
) -> redis.Redis:
    """The worker's own connection to the queue Redis (``url``, default the app's): it
    blocks waiting for jobs, for a second at a time, so a Redis that stopped answering is
    noticed in seconds. Its helper threads pass a shorter ``timeout``."""
    url = url or setting("QUEUE_REDIS_URL")
    return make_redis(url, timeout, decode=False, retries=True)
