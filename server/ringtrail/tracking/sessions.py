"""Which number each business number on a page shows, for one visit.

A visitor with a lease gets a pool number per business number; when a pool is exhausted
its policy decides (a shared number, the overflow number, or the business number). A
visitor who must not be tracked as a person (bot, Global Privacy Control, no consent)
gets the site's fixed source-level numbers, which still attribute calls to a source.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import phonenumbers
from redis.client import Pipeline

from ringtrail.tracking.directory import PoolConfig, SiteConfig
from ringtrail.tracking.pool import LeaseRequest, PoolStore


@lru_cache(maxsize=4096)
def display(e164: str) -> str:
    """A number in its national format, e.g. (555) 123-4567."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def entry(e164: str) -> dict[str, str]:
    """The answer's shape for one replacement number."""
    return {"e164": e164, "display": display(e164)}


def source_number(pool: PoolConfig, source: str, medium: str) -> str | None:
    """The most specific fixed number for a source: "source/medium", then "source", then "*"."""
    table = pool.source_numbers
    return table.get(f"{source}/{medium}") or table.get(source) or table.get("*")


def source_numbers(site: SiteConfig, source: str, medium: str) -> dict[str, dict[str, str]]:
    """Replacement numbers for a visitor who gets no lease."""
    out = {}
    for pool in site.pools:
        if number := source_number(pool, source, medium):
            out[pool.business_number] = entry(number)
    return out


def lease_numbers(
    store: PoolStore,
    site: SiteConfig,
    session: str,
    *,
    source: str,
    medium: str,
    count_visit: bool,
    now: float,
    also: Callable[[Pipeline], None] | None = None,
) -> dict[str, dict[str, str]]:
    """Lease (or renew) one number per pool of the site and say what each shows.

    All pools, and whatever ``also`` adds (the visit itself), go to Redis in one round trip.
    """
    requests = [
        LeaseRequest(
            pool_id=pool.id,
            session=session,
            numbers=pool.numbers,
            lease_seconds=pool.lease_seconds,
            policy=pool.policy,
            history_seconds=pool.lease_seconds + pool.match_window,
            visit_field=f"{source}|{medium}" if count_visit and i == 0 else "",
            version=pool.version,
        )
        for i, pool in enumerate(site.pools)
    ]
    out: dict[str, dict[str, str]] = {}
    leases = store.lease_all(requests, now=now, also=also)
    for pool, lease in zip(site.pools, leases, strict=True):
        if lease.number:
            out[pool.business_number] = entry(lease.number)
        elif lease.status == "overflow" and pool.overflow_number:
            out[pool.business_number] = entry(pool.overflow_number)
        elif number := source_number(pool, source, medium):
            out[pool.business_number] = entry(number)
    return out


def session_ttl(site: SiteConfig, slack: int) -> int:
    """How long a visitor session lives in Redis: long enough for a late call."""
    longest = max((p.lease_seconds + p.match_window for p in site.pools), default=3600)
    return int(longest + slack)
