"""Admin API: clients, sites, pools and tracking numbers (CRUD) and the CSV number import."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select

from ringtrail.accounts import configuration as config
from ringtrail.accounts import pool_autosize
from ringtrail.accounts.numbers_import import import_numbers
from ringtrail.accounts.tenancy import scoped
from ringtrail.storage.models import Agency, Client, Pool, Site, TrackingNumber
from ringtrail.storage.sql import get_db
from ringtrail.web.api.blueprint import bp, paginate, principal
from ringtrail.web.decoding import decode
from ringtrail.web.login import owned
from ringtrail.web.schemas import (
    AgencyOut,
    AgencyPatch,
    AutosizeOut,
    AutosizePatch,
    ClientIn,
    ClientOut,
    ClientPatch,
    ImportOut,
    ImportQuery,
    NumberIn,
    NumberOut,
    NumberPatch,
    NumberQuery,
    PageQuery,
    PoolIn,
    PoolOut,
    PoolPatch,
    SiteIn,
    SiteOut,
    SitePatch,
    page_of,
)

# -- the agency -------------------------------------------------------------------------


@bp.get("/agency")
@bp.doc(tags=["agency"])
@bp.response(200, AgencyOut)
def get_agency():
    """The key's agency and its settings (agency keys only)."""
    p = principal()
    config.require_admin(p)
    return get_db().get(Agency, p.agency_id)


@bp.patch("/agency")
@bp.doc(tags=["agency"])
@bp.arguments(AgencyPatch)
@bp.response(200, AgencyOut)
def update_agency(data: dict[str, Any]):
    """Change the agency's default forward number (agency keys only)."""
    return config.update_agency(get_db(), principal(), data)


# -- clients ----------------------------------------------------------------------------


@bp.get("/clients")
@bp.doc(tags=["clients"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(ClientOut))
def list_clients(query: dict[str, Any]):
    """The clients this key may see."""
    return paginate(scoped(select(Client).order_by(Client.id), Client, principal()), query)


@bp.post("/clients")
@bp.doc(tags=["clients"])
@bp.arguments(ClientIn)
@bp.response(201, ClientOut)
def create_client(data: dict[str, Any]):
    """Create a client (agency keys only)."""
    return config.create_client(get_db(), principal(), data)


@bp.get("/clients/<int(min=1):client_id>")
@bp.doc(tags=["clients"])
@bp.response(200, ClientOut)
def get_client(client_id: int):
    """One client."""
    return owned(Client, client_id)


@bp.patch("/clients/<int(min=1):client_id>")
@bp.doc(tags=["clients"])
@bp.arguments(ClientPatch)
@bp.response(200, ClientOut)
def update_client(data: dict[str, Any], client_id: int):
    """Change a client's settings."""
    return config.update_client(get_db(), principal(), owned(Client, client_id), data)


@bp.delete("/clients/<int(min=1):client_id>")
@bp.doc(tags=["clients"])
@bp.response(204)
def delete_client(client_id: int):
    """Delete a client with no sites, calls, users or keys left (409 otherwise)."""
    config.delete_client(get_db(), principal(), owned(Client, client_id))


# -- sites ------------------------------------------------------------------------------


@bp.get("/sites")
@bp.doc(tags=["sites"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(SiteOut))
def list_sites(query: dict[str, Any]):
    """The sites this key may see."""
    return paginate(scoped(select(Site).order_by(Site.id), Site, principal()), query)


@bp.post("/sites")
@bp.doc(tags=["sites"])
@bp.arguments(SiteIn)
@bp.response(201, SiteOut)
def create_site(data: dict[str, Any]):
    """Create a site; its public key goes in the snippet's URL."""
    return config.create_site(get_db(), principal(), data)


@bp.get("/sites/<int(min=1):site_id>")
@bp.doc(tags=["sites"])
@bp.response(200, SiteOut)
def get_site(site_id: int):
    """One site."""
    return owned(Site, site_id)


@bp.patch("/sites/<int(min=1):site_id>")
@bp.doc(tags=["sites"])
@bp.arguments(SitePatch)
@bp.response(200, SiteOut)
def update_site(data: dict[str, Any], site_id: int):
    """Change a site's origins, consent mode or Do-Not-Track handling."""
    return config.update_site(get_db(), principal(), owned(Site, site_id), data)


@bp.delete("/sites/<int(min=1):site_id>")
@bp.doc(tags=["sites"])
@bp.response(204)
def delete_site(site_id: int):
    """Delete a site with no pools and no recorded traffic (409 otherwise)."""
    config.delete_site(get_db(), principal(), owned(Site, site_id))


# -- pools ------------------------------------------------------------------------------


def pool_out(pool: Pool) -> dict[str, Any]:
    """A pool as the API shows it, with its count of active numbers."""
    return {
        "id": pool.id,
        "site_id": pool.site_id,
        "name": pool.name,
        "business_number": pool.business_number,
        "lease_seconds": pool.lease_seconds,
        "match_window_seconds": pool.match_window_seconds,
        "exhaustion_policy": pool.exhaustion_policy,
        "record_calls": pool.record_calls,
        "rest_seconds": pool.rest_seconds,
        "vanity_texts": pool.vanity_texts or [],
        "numbers": config.pool_number_count(get_db(), pool.id),
        "created_at": pool.created_at,
    }


@bp.get("/pools")
@bp.doc(tags=["pools"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(PoolOut))
def list_pools(query: dict[str, Any]):
    """The pools this key may see."""
    return paginate(scoped(select(Pool).order_by(Pool.id), Pool, principal()), query, pool_out)


@bp.post("/pools")
@bp.doc(tags=["pools"])
@bp.arguments(PoolIn)
@bp.response(201, PoolOut)
def create_pool(data: dict[str, Any]):
    """Create an empty pool on a site; add numbers next."""
    return pool_out(config.create_pool(get_db(), principal(), data))


@bp.get("/pools/<int(min=1):pool_id>")
@bp.doc(tags=["pools"])
@bp.response(200, PoolOut)
def get_pool(pool_id: int):
    """One pool."""
    return pool_out(owned(Pool, pool_id))


@bp.patch("/pools/<int(min=1):pool_id>")
@bp.doc(tags=["pools"])
@bp.arguments(PoolPatch)
@bp.response(200, PoolOut)
def update_pool(data: dict[str, Any], pool_id: int):
    """Change a pool's lease time, match window, exhaustion policy or recording override.

    A ``record_calls`` of null inherits the client's setting.
    """
    return pool_out(config.update_pool(get_db(), principal(), owned(Pool, pool_id), data))


@bp.get("/pools/<int(min=1):pool_id>/autosizing")
@bp.doc(tags=["pools"])
@bp.response(200, AutosizeOut)
def get_autosizing(pool_id: int):
    """A pool's autosizing settings and the job's last plan."""
    return pool_autosize.describe(pool_autosize.settings_of(get_db(), owned(Pool, pool_id)))


@bp.patch("/pools/<int(min=1):pool_id>/autosizing")
@bp.doc(tags=["pools"])
@bp.arguments(AutosizePatch)
@bp.response(200, AutosizeOut)
def update_autosizing(data: dict[str, Any], pool_id: int):
    """Change a pool's autosizing settings (what spends money needs an agency key)."""
    row = pool_autosize.update(get_db(), principal(), owned(Pool, pool_id), data)
    return pool_autosize.describe(row)


@bp.delete("/pools/<int(min=1):pool_id>")
@bp.doc(tags=["pools"])
@bp.response(204)
def delete_pool(pool_id: int):
    """Delete a pool and its numbers (409 once calls refer to it)."""
    config.delete_pool(get_db(), principal(), owned(Pool, pool_id))


@bp.post("/pools/<int(min=1):pool_id>/numbers/import")
@bp.doc(
    tags=["numbers"],
    requestBody={
        "required": True,
        "description": "CSV with a `number` column and optional `role` and `source` columns.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
)
@bp.arguments(ImportQuery, location="query")
@bp.response(201, ImportOut)
def import_pool_numbers(query: dict[str, Any], pool_id: int):
    """Import numbers from CSV: all rows are added, or none (422 lists each bad row)."""
    pool = owned(Pool, pool_id)
    text = decode(request.get_data(cache=False), "the CSV", encoding="utf-8-sig")
    result = import_numbers(get_db(), principal(), pool, text, query["region"])
    return {"imported": result.imported, "unchanged": result.unchanged, "numbers": result.numbers}


# -- numbers ----------------------------------------------------------------------------


@bp.get("/numbers")
@bp.doc(tags=["numbers"])
@bp.arguments(NumberQuery, location="query")
@bp.response(200, page_of(NumberOut))
def list_numbers(query: dict[str, Any]):
    """Tracking numbers, optionally of one pool."""
    stmt = scoped(select(TrackingNumber), TrackingNumber, principal())
    if "pool_id" in query:
        stmt = stmt.where(TrackingNumber.pool_id == query["pool_id"])
    return paginate(stmt.order_by(TrackingNumber.id), query)


@bp.post("/numbers")
@bp.doc(tags=["numbers"])
@bp.arguments(NumberIn)
@bp.response(201, NumberOut)
def create_number(data: dict[str, Any]):
    """Add one tracking number to a pool (409 if it is in a pool already)."""
    return config.add_number(get_db(), principal(), data)


@bp.get("/numbers/<int(min=1):number_id>")
@bp.doc(tags=["numbers"])
@bp.response(200, NumberOut)
def get_number(number_id: int):
    """One tracking number."""
    return owned(TrackingNumber, number_id)


@bp.patch("/numbers/<int(min=1):number_id>")
@bp.doc(tags=["numbers"])
@bp.arguments(NumberPatch)
@bp.response(200, NumberOut)
def update_number(data: dict[str, Any], number_id: int):
    """Change a number's role, source or recording override, or deactivate it."""
    return config.update_number(get_db(), principal(), owned(TrackingNumber, number_id), data)


@bp.delete("/numbers/<int(min=1):number_id>")
@bp.doc(tags=["numbers"])
@bp.response(204)
def delete_number(number_id: int):
    """Remove a tracking number from its pool."""
    config.delete_number(get_db(), principal(), owned(TrackingNumber, number_id))
