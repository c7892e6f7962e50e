"""Live visitor sessions in Redis: what a visit was, until a call makes it permanent.

A session is one JSON document under one key with a TTL of lease + match window + slack,
so a late call can still find it. When a call is attributed to it, jobs copy it to SQL
(:class:`ringtrail.storage.models.VisitSnapshot`). Keys are short because every byte is multiplied
by the number of live visitors.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import redis

from ringtrail.context import state
from ringtrail.storage import lua
from ringtrail.storage.clients import get_redis

MAX_PAGES = 50
MIN_SHARED = 4  # bytes a page must share with the one before to be written as a reference
PATH_LIMIT = 300
TITLE_LIMIT = 120
PAGE_TITLE_LIMIT = 80  # a title kept with each page viewed

PAGEVIEW_LUA = lua("pageview.lua")


def new_session_id() -> str:
    """A random 96-bit id (16 characters); knowing it is what owns the session's leases.

    96 bits cannot be guessed, and every byte of the id is stored three times per live
    visitor (the visit's key, the pool's holders and its leases).
    """
    return secrets.token_urlsafe(12)


class VisitKeys:
    """Every key of one visitor session.

    - ``visit``  STRING  a JSON document (fields named in ``DOC_FIELDS``), then one line
      per page (the last 50): "SECONDS PATH", or "SECONDS:SHARED SUFFIX" for a path that
      begins with the previous page's first SHARED bytes (see :func:`encode`), followed by
      "<tab>TITLE" when the page had a title; seconds since the visit began, in tenths
    """

    def __init__(self, session_id: str):
        self.session_id = session_id

    @property
    def visit(self) -> str:
        return f"ringtrail:visit:{self.session_id}"


@dataclass
class Visit:
    """A visitor session as stored in Redis."""

    site_id: int
    started: float
    landing_url: str
    title: str = ""
    referrer: str = ""
    source: str = "(direct)"
    medium: str = "(none)"
    campaign: str = ""
    term: str = ""
    content: str = ""
    click_ids: dict[str, str] = field(default_factory=dict)
    device: str = ""
    browser: str = ""
    os: str = ""
    pages: list[list[Any]] = field(default_factory=list)
    consent: str = ""  # "granted" when the page said the visitor consented
    ga4: dict[str, str] = field(default_factory=dict)  # GA4's {"cid", "sid"}, with consent

    def to_doc(self) -> dict[str, Any]:
        doc = {short: getattr(self, name) for short, name in DOC_FIELDS.items()}
        # Tenths of a second: a page viewed 0.4 s after landing reads "+0:00.4".
        doc["t"] = round(self.started, 1)
        return {k: v for k, v in doc.items() if v not in ("", {}, None)}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Visit:
        visit = cls(site_id=int(doc["s"]), started=float(doc["t"]), landing_url="")
        for short, name in DOC_FIELDS.items():
            if short in doc and short not in ("s", "t"):
                setattr(visit, name, doc[short])
        return visit


# Short names in the stored document: each byte is paid once per live visitor.
DOC_FIELDS = {
    "s": "site_id",
    "t": "started",
    "u": "landing_url",
    "n": "title",
    "r": "referrer",
    "so": "source",
    "me": "medium",
    "ca": "campaign",
    "k": "term",
    "co": "content",
    "c": "click_ids",
    "d": "device",
    "b": "browser",
    "o": "os",
    "cs": "consent",
    "g": "ga4",
}


def clean_path(path: str) -> str:
    """A path as stored: bounded, on one line, no tab (it ends the path), never empty."""
    return re.sub(r"[\n\r\t]", "", path)[:PATH_LIMIT] or "/"


def clean_title(title: str) -> str:
    """A page title as stored with its page: bounded, on one line, no tab."""
    return " ".join(re.sub(r"[\n\r\t]", " ", title or "").split())[:PAGE_TITLE_LIMIT]


def _seconds(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _offset(seconds: float) -> str:
    tenths = max(0.0, math.floor(seconds * 10) / 10)
    return str(int(tenths)) if tenths.is_integer() else f"{tenths:.1f}"


def shared_prefix(previous: str, path: str) -> int:
    """How many leading bytes ``path`` shares with ``previous`` (UTF-8, as Lua counts),
    or 0 when too few to be worth writing as a reference."""
    a, b = previous.encode(), path.encode()
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    while n and n < len(b) and (b[n] & 0xC0) == 0x80:
        n -= 1  # the suffix starts on a character: never split one
    return n if n >= MIN_SHARED else 0


def page_line(offset: str, previous: str | None, path: str, title: str = "") -> str:
    """One stored page line: front-coded against the previous page's path when they
    share enough (a site's paths mostly do: /services/…, /blog/…), then its title."""
    shared = shared_prefix(previous, path) if previous is not None else 0
    suffix = path.encode()[shared:].decode()
    line = f"{offset}:{shared} {suffix}" if shared else f"{offset} {path}"
    return f"{line}\t{title}" if title else line


def encode(visit: Visit) -> str:
    """The stored form: the JSON document, then one line per page, each front-coded
    against the page before it (pageview.lua appends lines the same way)."""
    doc = visit.to_doc()
    lines, previous = [], None
    for offset, path, *rest in visit.pages:
        title = clean_title(rest[0]) if rest else ""
        path = clean_path(path)
        lines.append(page_line(_offset(offset), previous, path, title))
        previous = path
    return "\n".join([json.dumps(doc, separators=(",", ":")), *lines])


def decode(raw: str) -> Visit:
    """Read the stored form back (see :func:`encode`); pages are [seconds, path, title]."""
    head, *lines = raw.split("\n")
    visit = Visit.from_doc(json.loads(head))
    pages, previous = [], b""
    for line in lines:
        first, _, rest = line.partition(" ")
        offset, _, shared = first.partition(":")
        suffix, _, title = rest.partition("\t")
        path = previous[: int(shared)] + suffix.encode() if shared else suffix.encode()
        pages.append([_seconds(offset), path.decode(errors="replace"), title])
        previous = path
    visit.pages = pages
    return visit


def page_entry(started: float, now: float, path: str, title: str = "") -> list[Any]:
    """One page view as stored: seconds since the visit began (tenths), path and title.

    Titles are bounded to :data:`PAGE_TITLE_LIMIT` characters: every byte here is
    multiplied by the number of live visitors.
    """
    return [_seconds(_offset(now - started)), clean_path(path), clean_title(title)]


class VisitStore:
    """Reads and writes visitor sessions."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._pageview = client.register_script(PAGEVIEW_LUA)

    def create(self, session_id: str, visit: Visit, ttl: int, pipe=None) -> None:
        """Store a new session (optionally on a pipeline, to share its round trip)."""
        target = pipe if pipe is not None else self.redis
        target.set(VisitKeys(session_id).visit, encode(visit), ex=ttl)

    def add_page(
        self,
        session_id: str,
        site_id: int,
        path: str | None,
        ttl: int,
        now: float,
        title: str = "",
    ) -> Visit | None:
        """Record a page view (none for a heartbeat, ``path=None``) and extend the session.

        Returns None if the session is unknown, expired or another site's.
        """
        page = "" if path is None else clean_path(path)
        raw = self._pageview(
            keys=[VisitKeys(session_id).visit],
            args=[site_id, repr(now), page, MAX_PAGES, ttl, clean_title(title), MIN_SHARED],
        )
        return decode(raw) if raw else None

    def get(self, session_id: str) -> Visit | None:
        """The session, or None once it has expired."""
        raw = self.redis.get(VisitKeys(session_id).visit)
        return decode(raw) if raw else None

    def delete(self, session_id: str) -> None:
        """Forget a session now."""
        self.redis.delete(VisitKeys(session_id).visit)


def get_visits() -> VisitStore:
    """The app's visit store, on the lease Redis."""
    shared = state()
    if "visits" not in shared:
        shared["visits"] = VisitStore(get_redis())
    return shared["visits"]
