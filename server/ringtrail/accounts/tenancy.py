"""Every query is scoped to the caller's tenant, here and nowhere else.

- :func:`scoped` narrows a ``select()`` of a model to what the principal may see.
- :func:`get_or_404` fetches one object by id for the principal; another tenant's object
  raises NotFound, the same answer as a missing one in status, message and time: both
  are audited the same way, off the request path (:mod:`ringtrail.accounts.probes`).

The ownership chain is agency → client → site → pool → tracking number; calls, visit
snapshots and pool hours hang off it. A principal with ``client_id`` sees that client
only. The command line (``agency_id`` None) sees everything.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_, select

from ringtrail.accounts import probes
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.probes import OBJECT_TYPES
from ringtrail.errors import NotFound, Unauthenticated
from ringtrail.storage.models import (
    Agency,
    ApiKey,
    AuditEntry,
    BlockedCaller,
    Call,
    Client,
    ClientNotifications,
    ClientTag,
    DailyVisits,
    NotificationPreference,
    Pool,
    PoolHour,
    Rule,
    Site,
    TrackingNumber,
    User,
    VisitSnapshot,
)
from ringtrail.storage.sql import get_db

T = TypeVar("T")
MAX_ID = 2**31 - 1  # larger ids exist nowhere and would overflow some databases


def _principal(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated()
    return principal


def client_ids(principal: Principal | None) -> Select:
    """A subquery of the ids of the clients the principal may see."""
    p = _principal(principal)
    query = select(Client.id)
    if p.agency_id is not None:
        query = query.where(Client.agency_id == p.agency_id)
    if p.client_id is not None:
        query = query.where(Client.id == p.client_id)
    return query


def _site_ids(p: Principal) -> Select:
    return select(Site.id).where(Site.client_id.in_(client_ids(p)))


def _pool_ids(p: Principal) -> Select:
    return select(Pool.id).where(Pool.site_id.in_(_site_ids(p)))


def call_condition(principal: Principal | None) -> Any:
    """The calls the principal may see: its clients' calls and, for a principal of the
    whole agency, the agency's calls that belong to no client (numbers of its account that
    Ringtrail does not route). A principal of one client never sees those."""
    p = _principal(principal)
    mine = Call.client_id.in_(client_ids(p))
    if p.client_id is not None:
        return mine
    if p.agency_id is None:
        return or_(mine, Call.client_id.is_(None))
    return or_(mine, and_(Call.client_id.is_(None), Call.agency_id == p.agency_id))


def conditions(model: type, principal: Principal | None) -> list[Any]:
    """The WHERE conditions that restrict ``model`` to the principal's tenant."""
    p = _principal(principal)
    if p.agency_id is None and p.client_id is None:
        return []
    if model is Agency:
        return [Agency.id == p.agency_id]
    if model is Client:
        return [Client.id.in_(client_ids(p))]
    if model in (ClientTag, Rule, BlockedCaller, NotificationPreference, ClientNotifications):
        return [model.client_id.in_(client_ids(p))]
    if model in (Site,):
        return [Site.client_id.in_(client_ids(p))]
    if model is Pool:
        return [Pool.site_id.in_(_site_ids(p))]
    if model is TrackingNumber:
        return [TrackingNumber.pool_id.in_(_pool_ids(p))]
    if model is Call:
        return [call_condition(p)]
    if model is VisitSnapshot:
        return [VisitSnapshot.site_id.in_(_site_ids(p))]
    if model is DailyVisits:
        return [DailyVisits.site_id.in_(_site_ids(p))]
    if model is PoolHour:
        return [PoolHour.pool_id.in_(_pool_ids(p))]
    if model in (User, ApiKey):
        conds = [model.agency_id == p.agency_id]
        if p.client_id is not None:
            conds.append(model.client_id == p.client_id)
        return conds
    if model is AuditEntry:
        if p.client_id is not None:
            return [AuditEntry.id.is_(None)]  # the audit log is for agency admins
        return [AuditEntry.agency_id == p.agency_id]
    raise TypeError(f"no tenant rule for {model.__name__}")


def scoped(stmt: Select, model: type, principal: Principal | None) -> Select:
    """``stmt`` (a select involving ``model``) restricted to the principal's tenant."""
    return stmt.where(*conditions(model, principal))


def get_or_404(model: type[T], object_id: Any, principal: Principal | None) -> T:
    """The principal's ``model`` with this id, or NotFound; a miss is audited later, and
    costs the same whether the object is missing or another tenant's."""
    p = _principal(principal)
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    what = OBJECT_TYPES.get(model, model.__name__.lower()).replace("_", " ")
    if not 0 < object_id <= MAX_ID:
        raise NotFound(f"no such {what}")
    db = get_db()
    found = db.scalar(scoped(select(model).where(model.id == object_id), model, p))
    if found is not None:
        return found
    probes.note(p, OBJECT_TYPES.get(model, model.__name__.lower()), object_id)
    raise NotFound(f"no such {what}")


# URL variables that name an object; a request naming another tenant's object is refused
# before the view (or its input validation) runs, so every new route is covered.
VIEW_ARGS: dict[str, type] = {
    "client_id": Client,
    "site_id": Site,
    "pool_id": Pool,
    "number_id": TrackingNumber,
    "call_id": Call,
    "call": Call,  # the admin API's /calls/{call}: its calls have a call_id of their own
    "user_id": User,
    "key_id": ApiKey,
    "tag_id": ClientTag,
    "rule_id": Rule,
    "block_id": BlockedCaller,
}


def guard_view_args(view_args: dict[str, Any] | None, principal: Principal | None) -> None:
    """NotFound (audited) unless every object named in the URL belongs to the principal."""
    for name, value in (view_args or {}).items():
        model = VIEW_ARGS.get(name)
        if model is not None:
            get_or_404(model, value, principal)
