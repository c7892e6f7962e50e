"""Live figures the web pages and the API read straight from Redis."""

from __future__ import annotations

import redis
from flask import current_app

from ringtrail.tracking.pool import get_pools


def live_leases(pool_ids: list[int]) -> dict[int, int] | None:
    """Numbers leased right now per pool, from Redis; None if Redis does not answer."""
    out = {}
    try:
        store = get_pools()
        for pool_id in pool_ids:
            out[pool_id] = store.holder_count(pool_id)
    except (redis.RedisError, OSError):
        current_app.logger.warning("pool health: Redis did not answer; no live counts")
        return None
    return out
