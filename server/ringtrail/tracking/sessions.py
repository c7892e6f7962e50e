"""Visitor sessions: how a visit begins, how a page view renews it, and which number each
business number on the page shows.

The one way a visit begins, for the snippet and for AMP pages alike, is
:func:`start_visit`: it classifies the source and the device, and, if the visitor may be
tracked as a person, leases one number per pool and writes the visit in the same round
trip to Redis. A visitor who must not be tracked (a bot, Global Privacy Control,
Do-Not-Track where the site honours it, no consent where the site needs it) gets the
site's fixed source-level numbers, which still attribute calls to a source.

When a pool is exhausted, a visitor whose source has its own source-level number gets
that number (a burst from one campaign keeps its source); otherwise the pool's policy
decides: a shared number, the overflow number, or the business number. Session starts
are limited per site and per anonymous client (see :func:`client_fingerprint`); over a
limit the visitor gets the source-level or business number, never an error.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.client import Pipeline

from ringtrail.context import setting
from ringtrail.errors import NotFound, Unavailable
from ringtrail.hashing import keyed_hash
from ringtrail.phones import international_display, national
from ringtrail.tracking.devices import classify_agent
from ringtrail.tracking.directory import PoolConfig, SiteConfig
from ringtrail.tracking.domains import internal_hosts
from ringtrail.tracking.pool import LeaseRequest, PoolStore, get_pools
from ringtrail.tracking.poolsync import get_syncer
from ringtrail.tracking.sources import Source, classify
from ringtrail.tracking.visit_counts import VisitKey, landing_path
from ringtrail.tracking.visits import Visit, get_visits, new_session_id, page_entry

log = logging.getLogger(__name__)

URL_LIMIT = 2048
TITLE_LIMIT = 200
DEGRADED_TTL = 60  # seconds the snippet keeps an answer given while Redis is away


@dataclass(frozen=True)
class Visitor:
    """What the browser says about the person: their user agent and privacy signals."""

    user_agent: str | None = None
    gpc: bool = False  # Global Privacy Control (Sec-GPC: 1, or the snippet saw it)
    dnt: bool = False  # Do-Not-Track
    consent: bool = False  # the page told the snippet the visitor consented
    address: str | None = None  # the client's IP address: hashed for a limit, never kept
    # GA4's client id and session id (from the _ga cookies), sent by the snippet only with
    # consent; kept with the visit only with consent, for the GA4 upload.
    ga4: tuple[str, str] | None = None


def entry(e164: str, site: SiteConfig | None = None) -> dict[str, str]:
    """The answer's shape for one replacement number. Both displays come from the site's
    tables, made when the directory loaded: no number is parsed per answer (a number not
    in them, which the site's pools cannot show, is formatted on the spot)."""
    if site is not None and (shown := site.display.get(e164)) is not None:
        return {"e164": e164, "display": shown, "international": site.international[e164]}
    return {"e164": e164, "display": national(e164), "international": international_display(e164)}


def source_number(pool: PoolConfig, source: str, medium: str) -> str | None:
    """The most specific fixed number for a source: "source/medium", then "source", then "*"."""
    return own_source_number(pool, source, medium) or pool.source_numbers.get("*")


def own_source_number(pool: PoolConfig, source: str, medium: str) -> str | None:
    """The fixed number of this very source ("source/medium", then "source"), not "*"."""
    table = pool.source_numbers
    return table.get(f"{source}/{medium}") or table.get(source)


CLIENT_LIMIT = b"ringtrail session start limit v1"
CLIENT_WINDOW = 600  # seconds; the key of each window's counter expires with it


def client_fingerprint(visitor: Visitor, now: float) -> str:
    """A keyed hash of the client's address and user agent, salted with the current
    10-minute window: it tells session starts of one client apart for that window only,
    and says nothing about the address. "" without an address."""
    if not visitor.address:
        return ""
    salt = CLIENT_LIMIT + b" %d" % int(now // CLIENT_WINDOW)
    return keyed_hash(salt, f"{visitor.address}\n{visitor.user_agent or ''}")[:32]


def source_numbers(site: SiteConfig, source: str, medium: str) -> dict[str, dict[str, str]]:
    """Replacement numbers for a visitor who gets no lease."""
    out = {}
    for pool in site.pools:
        if number := source_number(pool, source, medium):
            out[pool.business_number] = entry(number, site)
    return out


def lease_numbers(
    store: PoolStore,
    site: SiteConfig,
    session: str,
    *,
    source: str,
    medium: str,
    count_visit: VisitKey | None,
    now: float | None = None,
    client: str = "",
    also: Callable[[Pipeline], None] | None = None,
) -> tuple[dict[str, dict[str, str]], bool]:
    """Lease (or renew) one number per pool of the site and say what each shows, and
    whether a limit on session starts turned the visitor away.

    All pools, and whatever ``also`` adds (the visit itself), go to Redis in one round
    trip. Lease times are read on Redis's clock unless ``now`` is given.
    """
    history = int(setting("LEASE_HISTORY_SECONDS"))
    requests = [
        LeaseRequest(
            pool_id=pool.id,
            session=session,
            numbers=pool.numbers,
            lease_seconds=pool.lease_seconds,
            policy=pool.policy,
            history_seconds=pool.match_window + history,
            visit_field=count_visit.field if count_visit and i == 0 else "",
            version=pool.version,
            rest_seconds=pool.rest,
            has_source_number=own_source_number(pool, source, medium) is not None,
            site_limit=int(setting("SESSION_LIMIT_SITE")),
            client_limit=int(setting("SESSION_LIMIT_CLIENT")),
            client=client,
        )
        for i, pool in enumerate(site.pools)
    ]
    out: dict[str, dict[str, str]] = {}
    # A pool Redis does not hold yet is left to the syncer: this answer does without it.
    leases = store.lease_all(requests, now=now, also=also, unsynced=get_syncer().wake)
    for pool, lease in zip(site.pools, leases, strict=True):
        if lease.number:
            out[pool.business_number] = entry(lease.number, site)
        elif lease.status == "overflow" and pool.overflow_number:
            out[pool.business_number] = entry(pool.overflow_number, site)
        elif number := source_number(pool, source, medium):
            out[pool.business_number] = entry(number, site)
    limited = bool(leases) and all(lease.status == "limited" for lease in leases)
    return out, limited


def session_ttl(site: SiteConfig, slack: int) -> int:
    """How long a visitor session lives in Redis: long enough for a late call."""
    longest = max((p.lease_seconds + p.match_window for p in site.pools), default=3600)
    return int(longest + slack)


def may_track(site: SiteConfig, visitor: Visitor, bot: bool) -> bool:
    """Whether this visitor may be tracked as a person (get a visitor-level lease)."""
    return untracked_because(site, visitor, bot) is None


def untracked_because(site: SiteConfig, visitor: Visitor, bot: bool) -> str | None:
    """Why this visitor gets no lease of their own: "bot", "gpc" (Global Privacy Control),
    "dnt" (Do-Not-Track, where the site honours it) or "consent"; None if they get one."""
    if bot:
        return "bot"
    if visitor.gpc:
        return "gpc"
    if site.honor_dnt and visitor.dnt:
        return "dnt"
    if site.consent_mode == "required" and not visitor.consent:
        return "consent"
    return None


def path_of(url: str) -> str:
    """A page's path, without query or fragment, which may hold personal data."""
    return urlsplit(url).path or "/"


def host_of(netloc: str) -> str:
    """A URL's host and port, without the ``user:password@`` a URL may carry: credentials
    are never stored."""
    return netloc.rpartition("@")[2]


def origin_of(url: str) -> str:
    """Where a referrer came from, scheme and host only: reports group by its domain, and
    its path and query (a search, a private page) are nobody's business."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    host = host_of(parts.netloc)
    return f"{parts.scheme}://{host}"[:200] if parts.scheme and host else ""


def without_query(url: str) -> str:
    """A URL's scheme, host and path: its query may hold personal data (a search, an
    e-mail address), and the marketing parameters in it are already parsed out."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    host = host_of(parts.netloc)
    if not parts.scheme or not host:
        return ""
    return f"{parts.scheme}://{host}{parts.path or '/'}"[:URL_LIMIT]


def start_visit(
    site: SiteConfig,
    visitor: Visitor,
    *,
    url: str,
    referrer: str,
    title: str,
    lease: bool = True,
) -> dict[str, Any]:
    """Classify a new visit, lease its numbers if it may be tracked, and say what to show.

    Returns ``{"session", "numbers", "ttl"}``; a visitor who gets no lease (a bot, GPC, no
    consent, ``lease=False``, Redis away) gets ``session: None`` and source-level numbers.
    """
    device = classify_agent(
        visitor.user_agent,
        max_chars=int(setting("UA_MAX_CHARS")),
        headless_is_bot=bool(setting("HEADLESS_IS_BOT")),
    )
    src = classify(url, referrer, internal_hosts(site, referrer))
    ttl = session_ttl(site, int(setting("SESSION_TTL_SLACK")))
    now = time.time()
    untracked = {"session": None, "numbers": source_numbers(site, src.source, src.medium)}

    if not lease or not may_track(site, visitor, device.bot):
        if not device.bot:
            _count_untracked(site, visit_key(src, url), now)
        return untracked | {"ttl": ttl}

    session = new_session_id()
    visit = Visit(
        site_id=site.id,
        started=now,
        landing_url=without_query(url),
        title=title[:120],
        referrer=origin_of(referrer),
        source=src.source,
        medium=src.medium,
        campaign=src.campaign,
        term=src.term,
        content=src.content,
        click_ids=src.click_ids,
        device=device.kind,
        browser=device.browser,
        os=device.os,
        pages=[page_entry(now, now, path_of(url), title)],
        consent="granted" if visitor.consent else "",
        ga4=ga4_ids(visitor) if site.ga4 else {},
    )
    try:
        visits = get_visits()
        numbers, limited = lease_numbers(
            get_pools(),
            site,
            session,
            source=src.source,
            medium=src.medium,
            count_visit=visit_key(src, url),
            client=client_fingerprint(visitor, now),
            also=lambda pipe: visits.create(session, visit, ttl, pipe=pipe),
        )
        if limited:  # a flood: keep nothing of it
            visits.delete(session)
            return untracked | {"ttl": ttl}
    except redis.RedisError:
        log.warning("sessions: redis unavailable, answering source-level numbers")
        return untracked | {"ttl": DEGRADED_TTL}
    return {"session": session, "numbers": numbers, "ttl": ttl}


def add_pageview(
    site: SiteConfig, session: str, url: str | None, title: str = ""
) -> dict[str, Any]:
    """Record a page view (``url=None``: a heartbeat) and renew the visit's leases.

    NotFound for a session that expired or is another site's; Unavailable when Redis is.
    """
    ttl = session_ttl(site, int(setting("SESSION_TTL_SLACK")))
    now = time.time()
    try:
        visit = get_visits().add_page(
            session, site.id, None if url is None else path_of(url), ttl, now, title
        )
        if visit is None:
            raise NotFound("unknown session")
        numbers, _ = lease_numbers(
            get_pools(),
            site,
            session,
            source=visit.source,
            medium=visit.medium,
            count_visit=None,
        )
    except redis.RedisError:
        log.warning("sessions: redis unavailable during a page view")
        raise Unavailable("temporarily unavailable") from None
    return {"session": session, "numbers": numbers, "ttl": ttl}


def ga4_ids(visitor: Visitor) -> dict[str, str]:
    """GA4's ids to keep with the visit: only with consent, never with GPC."""
    if not visitor.consent or visitor.gpc or not visitor.ga4:
        return {}
    cid, sid = visitor.ga4
    return {k: v for k, v in (("cid", cid), ("sid", sid)) if v}


def visit_key(src: Source, url: str) -> VisitKey:
    """What a new visit is counted by in the traffic counters."""
    return VisitKey(src.source, src.medium, src.campaign, src.term, landing_path(url))


def _count_untracked(site: SiteConfig, key: VisitKey, now: float) -> None:
    """Count a visit that took no lease; an aggregate, with no visitor id."""
    if not site.pools:
        return
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    with contextlib.suppress(redis.RedisError):  # a lost count beats a failed page
        get_pools().count_visit(site.pools[0].id, day, key)
