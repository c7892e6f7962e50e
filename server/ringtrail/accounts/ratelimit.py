"""Fixed-window request counters in Redis, per API key (logins: ``accounts/throttle.py``).

The limits are documented (1,000 requests an hour and 10,000 a day per key by default,
like CallRail; ``RINGTRAIL_API_RATE_LIMIT_HOUR`` and ``_DAY`` change them). Going over
answers 429 with ``Retry-After``. The counters live on the queue Redis (or
``RINGTRAIL_RATE_LIMIT_REDIS_URL``), with the hot-path client's short timeouts and no
retries. If that Redis is down or hung, the request is let through: a broken limiter
must never turn the API into a 500, and Flask-Limiter would without ``swallow_errors``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis

from ringtrail.context import setting
from ringtrail.storage.clients import get_ratelimit_redis

log = logging.getLogger(__name__)


class RateLimitKeys:
    """Keys of one identity's counters (an API key id).

    - ``window(seconds, start)``  STRING  integer count of requests in the window that
      begins at ``start`` (epoch seconds) and lasts ``seconds``; expires when it ends
    """

    def __init__(self, identity: str):
        self.identity = identity

    def window(self, seconds: int, start: int) -> str:
        return f"ringtrail:rl:{self.identity}:{seconds}:{start}"


@dataclass(frozen=True)
class Decision:
    """Whether a request may go on, and what to tell the client."""

    allowed: bool
    limit: int  # the tightest limit
    remaining: int
    retry_after: int  # seconds until the blocking window ends (0 when allowed)
    counted: bool = True  # False when the store was unreachable and nothing was counted


def hit(identity: str, limits: list[tuple[int, int]], now: float | None = None) -> Decision:
    """Count one request against each (window seconds, max requests) limit."""
    limits = [(seconds, count) for seconds, count in limits if count > 0]
    if not limits:
        return Decision(True, 0, 0, 0, counted=False)
    now = time.time() if now is None else now
    keys = RateLimitKeys(identity)
    starts = [int(now // seconds * seconds) for seconds, _ in limits]
    try:
        pipe = get_ratelimit_redis().pipeline(transaction=False)
        for (seconds, _), start in zip(limits, starts, strict=True):
            key = keys.window(seconds, start)
            pipe.incr(key)
            pipe.expire(key, seconds + 1)
        counts = pipe.execute()[::2]
    except (redis.RedisError, OSError):
        log.warning("ratelimit: store unavailable; letting the request through")
        return Decision(True, limits[0][1], limits[0][1], 0, counted=False)
    blocking = [
        (start + seconds - now, count)
        for (seconds, count), start, used in zip(limits, starts, counts, strict=True)
        if used > count
    ]
    remaining = min(count - used for (_, count), used in zip(limits, counts, strict=True))
    tightest = min(limits, key=lambda lim: lim[1] - counts[limits.index(lim)])[1]
    if blocking:
        wait = max(wait for wait, _ in blocking)
        return Decision(False, tightest, 0, max(1, math.ceil(wait)))
    return Decision(True, tightest, max(0, remaining), 0)


def api_limits() -> list[tuple[int, int]]:
    """The per-key limits from the configuration."""
    return [
        (3600, int(setting("API_RATE_LIMIT_HOUR"))),
        (86400, int(setting("API_RATE_LIMIT_DAY"))),
    ]
