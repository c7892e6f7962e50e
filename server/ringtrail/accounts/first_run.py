"""The first run: the steps from an empty install to the first tracked call, each ticked
off from what is really there (never from a box someone clicked).

1. ``carrier``: the agency's Twilio account is connected;
2. ``client``: the agency has a client;
3. ``site``: a client has a site;
4. ``numbers``: a pool of a site has an active number to lease;
5. ``snippet``: a site lists the address it is served from as an allowed origin, and a
   visit from it arrived (SQL's daily counts, or today's live counts in Redis);
6. ``call``: a call reached one of the numbers.

The overview shows the list while a step is open; once every step is done an agency
admin may put it away (``dismiss``), which is kept per agency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.configuration import require_admin
from ringtrail.accounts.tenancy import call_condition, scoped
from ringtrail.errors import Conflict
from ringtrail.storage.models import Agency, Call, Client, DailyVisits, Pool, Site, TrackingNumber
from ringtrail.tracking.pool import get_pools

STEPS = ("carrier", "client", "site", "numbers", "snippet", "call")


@dataclass(frozen=True)
class Step:
    """One step: whether it is done, and the object its link should open (if any)."""

    key: str
    done: bool
    target: int | None = None  # a client, site or pool id, by step
    count: int = 0  # how many of the step's objects exist
    missing: str = ""  # for ``snippet``: "origins" or "visit", what is still to come


@dataclass(frozen=True)
class Checklist:
    """The agency's first-run steps, in order."""

    steps: tuple[Step, ...]
    dismissed: bool

    @property
    def complete(self) -> bool:
        return all(s.done for s in self.steps)

    @property
    def done_count(self) -> int:
        return sum(s.done for s in self.steps)

    @property
    def shown(self) -> bool:
        """On the overview until every step is done and an admin put it away."""
        return not (self.complete and self.dismissed)

    @property
    def next_step(self) -> str | None:
        return next((s.key for s in self.steps if not s.done), None)


def checklist(db: Session, p: Principal) -> Checklist | None:
    """The steps for the person's agency; None for a client's own people (they set nothing
    up) and for the command line."""
    if p.agency_id is None or p.client_id is not None:
        return None
    agency = db.get(Agency, p.agency_id)
    if agency is None:
        return None
    carrier = bool(agency.twilio_account_sid and agency.twilio_auth_token)
    clients = db.scalars(scoped(select(Client.id), Client, p).order_by(Client.id)).all()
    sites = db.execute(
        scoped(select(Site.id, Site.allowed_origins), Site, p).order_by(Site.id)
    ).all()
    pools = db.scalars(scoped(select(Pool.id), Pool, p).order_by(Pool.id)).all()
    numbers = db.scalar(
        select(func.count())
        .select_from(TrackingNumber)
        .where(
            TrackingNumber.pool_id.in_(pools or [-1]),
            TrackingNumber.active.is_(True),
            TrackingNumber.role == "pool",
        )
    )
    with_origins = [site_id for site_id, origins in sites if origins]
    visited = _visited_sites(db, with_origins)
    calls = db.scalar(
        select(func.count()).select_from(Call).where(call_condition(p), Call.client_id.is_not(None))
    )
    snippet_target = (visited or with_origins or [s for s, _ in sites] or [None])[0]
    steps = (
        Step("carrier", carrier),
        Step("client", bool(clients), clients[0] if clients else None, len(clients)),
        Step("site", bool(sites), clients[0] if clients else None, len(sites)),
        Step("numbers", bool(numbers), pools[0] if pools else None, numbers or 0),
        Step(
            "snippet",
            bool(visited),
            snippet_target,
            len(visited),
            "" if visited else ("visit" if with_origins else "origins"),
        ),
        Step("call", bool(calls), None, calls or 0),
    )
    return Checklist(steps, dismissed=agency.first_run_dismissed_at is not None)


def _visited_sites(db: Session, site_ids: list[int]) -> list[int]:
    """The sites (of those given) a visit has come from: counted in SQL, or live today."""
    if not site_ids:
        return []
    seen = set(
        db.scalars(
            select(Site.id).where(
                Site.id.in_(site_ids),
                exists().where(DailyVisits.site_id == Site.id, DailyVisits.visits > 0),
            )
        )
    )
    rest = [s for s in site_ids if s not in seen]
    if rest:
        seen |= _live_visits(db, rest)
    return [s for s in site_ids if s in seen]


def _live_visits(db: Session, site_ids: list[int]) -> set[int]:
    """Sites with a visit counted in Redis today or yesterday (not yet copied to SQL)."""
    today = datetime.now(UTC).date()
    days = (today.isoformat(), (today - timedelta(days=1)).isoformat())
    out: set[int] = set()
    try:
        store = get_pools()
        for pool_id, site_id in db.execute(
            select(Pool.id, Pool.site_id).where(Pool.site_id.in_(site_ids))
        ):
            if site_id not in out and any(store.visit_counts(pool_id, d) for d in days):
                out.add(site_id)
    except (redis.RedisError, OSError):  # the step stays open until SQL has the count
        return out
    return out


def dismiss(db: Session, p: Principal) -> None:
    """Put the checklist away for the agency (agency admins, once every step is done)."""
    require_admin(p)
    current = checklist(db, p)
    if current is None or not current.complete:
        raise Conflict("finish every step of the first run before putting the list away")
    agency = db.get(Agency, p.agency_id)
    agency.first_run_dismissed_at = datetime.now(UTC)
    audit.record(db, "dismissed", "first_run", agency.id, {}, principal=p)
    db.commit()
