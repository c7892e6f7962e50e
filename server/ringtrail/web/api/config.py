"""Admin API: clients, sites, pools and tracking numbers (CRUD) and the CSV number import."""

from __future__ import annotations

from typing import Any

from flask import g, request
from sqlalchemy import func, select

from ringtrail.accounts import configuration as admin
from ringtrail.accounts.auth import current_principal
from ringtrail.accounts.numbers_import import import_numbers
from ringtrail.accounts.tenancy import get_or_404, scoped
from ringtrail.errors import BadInput
from ringtrail.storage.models import Client, Pool, Site, TrackingNumber
from ringtrail.storage.sql import get_db
from ringtrail.web.api import bp
from ringtrail.web.schemas import (
    ClientIn,
    ClientOut,
    ClientPatch,
    ImportOut,
    ImportQuery,
    NumberIn,
    NumberOut,
    NumberPatch,
    NumberQuery,
    PoolIn,
    PoolOut,
    PoolPatch,
    SiteIn,
    SiteOut,
    SitePatch,
)


def _p():
    return current_principal()


# -- clients ----------------------------------------------------------------------------


@bp.get("/clients")
@bp.doc(tags=["clients"])
@bp.response(200, ClientOut(many=True))
def list_clients():
    """The clients this key may see."""
    return get_db().scalars(scoped(select(Client).order_by(Client.id), Client)).all()


@bp.post("/clients")
@bp.doc(tags=["clients"])
@bp.arguments(ClientIn)
@bp.response(201, ClientOut)
def create_client(data: dict[str, Any]):
    """Create a client (agency keys only)."""
    return admin.create_client(get_db(), _p(), data)


@bp.get("/clients/<int:client_id>")
@bp.doc(tags=["clients"])
@bp.response(200, ClientOut)
def get_client(client_id: int):
    """One client."""
    return get_or_404(Client, client_id)


@bp.patch("/clients/<int:client_id>")
@bp.doc(tags=["clients"])
@bp.arguments(ClientPatch)
@bp.response(200, ClientOut)
def update_client(data: dict[str, Any], client_id: int):
    """Change a client's settings."""
    return admin.update_client(get_db(), _p(), get_or_404(Client, client_id), data)


@bp.delete("/clients/<int:client_id>")
@bp.doc(tags=["clients"])
@bp.response(204)
def delete_client(client_id: int):
    """Delete a client with no sites, calls, users or keys left (409 otherwise)."""
    admin.delete_client(get_db(), _p(), get_or_404(Client, client_id))


# -- sites ------------------------------------------------------------------------------


@bp.get("/sites")
@bp.doc(tags=["sites"])
@bp.response(200, SiteOut(many=True))
def list_sites():
    """The sites this key may see."""
    return get_db().scalars(scoped(select(Site).order_by(Site.id), Site)).all()


@bp.post("/sites")
@bp.doc(tags=["sites"])
@bp.arguments(SiteIn)
@bp.response(201, SiteOut)
def create_site(data: dict[str, Any]):
    """Create a site; its public key goes in the snippet's URL."""
    return admin.create_site(get_db(), _p(), data)


@bp.get("/sites/<int:site_id>")
@bp.doc(tags=["sites"])
@bp.response(200, SiteOut)
def get_site(site_id: int):
    """One site."""
    return get_or_404(Site, site_id)


@bp.patch("/sites/<int:site_id>")
@bp.doc(tags=["sites"])
@bp.arguments(SitePatch)
@bp.response(200, SiteOut)
def update_site(data: dict[str, Any], site_id: int):
    """Change a site's origins, consent mode or Do-Not-Track handling."""
    return admin.update_site(get_db(), _p(), get_or_404(Site, site_id), data)


@bp.delete("/sites/<int:site_id>")
@bp.doc(tags=["sites"])
@bp.response(204)
def delete_site(site_id: int):
    """Delete a site with no pools and no recorded traffic (409 otherwise)."""
    admin.delete_site(get_db(), _p(), get_or_404(Site, site_id))


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
        "numbers": admin.pool_number_count(get_db(), pool.id),
        "created_at": pool.created_at,
    }


@bp.get("/pools")
@bp.doc(tags=["pools"])
@bp.response(200, PoolOut(many=True))
def list_pools():
    """The pools this key may see."""
    pools = get_db().scalars(scoped(select(Pool).order_by(Pool.id), Pool)).all()
    return [pool_out(p) for p in pools]


@bp.post("/pools")
@bp.doc(tags=["pools"])
@bp.arguments(PoolIn)
@bp.response(201, PoolOut)
def create_pool(data: dict[str, Any]):
    """Create an empty pool on a site; add numbers next."""
    return pool_out(admin.create_pool(get_db(), _p(), data))


@bp.get("/pools/<int:pool_id>")
@bp.doc(tags=["pools"])
@bp.response(200, PoolOut)
def get_pool(pool_id: int):
    """One pool."""
    return pool_out(get_or_404(Pool, pool_id))


@bp.patch("/pools/<int:pool_id>")
@bp.doc(tags=["pools"])
@bp.arguments(PoolPatch)
@bp.response(200, PoolOut)
def update_pool(data: dict[str, Any], pool_id: int):
    """Change a pool's lease time, match window, exhaustion policy or recording override.

    A ``record_calls`` of null inherits the client's setting.
    """
    return pool_out(admin.update_pool(get_db(), _p(), get_or_404(Pool, pool_id), data))


@bp.delete("/pools/<int:pool_id>")
@bp.doc(tags=["pools"])
@bp.response(204)
def delete_pool(pool_id: int):
    """Delete a pool and its numbers (409 once calls refer to it)."""
    admin.delete_pool(get_db(), _p(), get_or_404(Pool, pool_id))


@bp.post("/pools/<int:pool_id>/numbers/import")
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
    pool = get_or_404(Pool, pool_id)
    try:
        text = request.get_data(cache=False).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput("the CSV must be UTF-8") from exc
    result = import_numbers(get_db(), _p(), pool, text, query["region"])
    return {"imported": result.imported, "unchanged": result.unchanged, "numbers": result.numbers}


# -- numbers ----------------------------------------------------------------------------


@bp.get("/numbers")
@bp.doc(tags=["numbers"])
@bp.arguments(NumberQuery, location="query")
@bp.response(200, NumberOut(many=True))
def list_numbers(query: dict[str, Any]):
    """Tracking numbers, optionally of one pool; paginated (``page``, ``per_page``)."""
    stmt = scoped(select(TrackingNumber), TrackingNumber)
    if "pool_id" in query:
        stmt = stmt.where(TrackingNumber.pool_id == query["pool_id"])
    total = get_db().scalar(select(func.count()).select_from(stmt.subquery()))
    page, per_page = query["page"], query["per_page"]
    rows = get_db().scalars(
        stmt.order_by(TrackingNumber.id).offset((page - 1) * per_page).limit(per_page)
    )
    g.total_count = total
    return rows.all()


@bp.after_request
def _total_header(response):
    if (total := g.get("total_count")) is not None:
        response.headers["X-Total-Count"] = str(total)
    return response


@bp.post("/numbers")
@bp.doc(tags=["numbers"])
@bp.arguments(NumberIn)
@bp.response(201, NumberOut)
def create_number(data: dict[str, Any]):
    """Add one tracking number to a pool (409 if it is in a pool already)."""
    return admin.add_number(get_db(), _p(), data)


@bp.get("/numbers/<int:number_id>")
@bp.doc(tags=["numbers"])
@bp.response(200, NumberOut)
def get_number(number_id: int):
    """One tracking number."""
    return get_or_404(TrackingNumber, number_id)


@bp.patch("/numbers/<int:number_id>")
@bp.doc(tags=["numbers"])
@bp.arguments(NumberPatch)
@bp.response(200, NumberOut)
def update_number(data: dict[str, Any], number_id: int):
    """Change a number's role, source or recording override, or deactivate it."""
    return admin.update_number(get_db(), _p(), get_or_404(TrackingNumber, number_id), data)


@bp.delete("/numbers/<int:number_id>")
@bp.doc(tags=["numbers"])
@bp.response(204)
def delete_number(number_id: int):
    """Remove a tracking number from its pool."""
    admin.delete_number(get_db(), _p(), get_or_404(TrackingNumber, number_id))
