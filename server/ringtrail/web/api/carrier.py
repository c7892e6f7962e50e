"""Admin API: the agency's carrier account (agency admins only) and numbers from it."""

from __future__ import annotations

from typing import Any

from ringtrail.accounts import carrier_account, carrier_numbers
from ringtrail.storage.models import Pool, TrackingNumber
from ringtrail.storage.sql import get_db
from ringtrail.web.api.blueprint import bp, principal
from ringtrail.web.login import owned
from ringtrail.web.schemas import (
    AvailableOut,
    AvailableQuery,
    BuyIn,
    CarrierIn,
    CarrierOut,
    ImportChangeOut,
    ImportOwnedQuery,
    NumberOut,
    RotationIn,
)


@bp.get("/carrier")
@bp.doc(tags=["carrier"])
@bp.response(200, CarrierOut)
def get_carrier():
    """The agency's Twilio account: its SID and API key SID, every secret masked."""
    return carrier_account.show(get_db(), principal()).as_dict()


@bp.put("/carrier")
@bp.doc(tags=["carrier"])
@bp.arguments(CarrierIn)
@bp.response(200, CarrierOut)
def connect_carrier(data: dict[str, Any]):
    """Connect the account (422 with Twilio's reason when it refuses the credentials)."""
    return carrier_account.connect(get_db(), principal(), data).as_dict()


@bp.delete("/carrier")
@bp.doc(tags=["carrier"])
@bp.response(200, CarrierOut)
def disconnect_carrier():
    """Forget the account's credentials; calls to its numbers are refused as unsigned."""
    return carrier_account.disconnect(get_db(), principal()).as_dict()


@bp.post("/carrier/rotation")
@bp.doc(tags=["carrier"])
@bp.arguments(RotationIn)
@bp.response(200, CarrierOut)
def rotate_carrier_token(data: dict[str, Any]):
    """Start using a new auth token; the previous one is accepted until the rotation ends."""
    return carrier_account.rotate(get_db(), principal(), data["auth_token"]).as_dict()


@bp.delete("/carrier/rotation")
@bp.doc(tags=["carrier"])
@bp.response(200, CarrierOut)
def finish_carrier_rotation():
    """Finish the rotation: the previous auth token is refused from now on."""
    return carrier_account.finish_rotation(get_db(), principal()).as_dict()


@bp.get("/carrier/available")
@bp.doc(tags=["carrier"])
@bp.arguments(AvailableQuery, location="query")
@bp.response(200, AvailableOut(many=True))
def available_numbers(query: dict[str, Any]):
    """Numbers for sale in the account, by area code, region, locality, digits, toll-free."""
    return carrier_numbers.search(get_db(), principal(), query)


@bp.post("/pools/<int(min=1):pool_id>/numbers/buy")
@bp.doc(tags=["carrier"])
@bp.arguments(BuyIn)
@bp.response(201, NumberOut(many=True))
def buy_numbers(data: dict[str, Any], pool_id: int):
    """Buy numbers into the pool, their webhooks set to Ringtrail's."""
    return carrier_numbers.buy(get_db(), principal(), owned(Pool, pool_id), data["numbers"])


@bp.post("/pools/<int(min=1):pool_id>/numbers/import-owned")
@bp.doc(tags=["carrier"])
@bp.arguments(ImportOwnedQuery, location="query")
@bp.response(200, ImportChangeOut(many=True))
def import_owned_numbers(query: dict[str, Any], pool_id: int):
    """Import the numbers the account owns into the pool and point them at Ringtrail.

    ``dry_run`` (the default) only lists what would change; ``dry_run=false`` does it.
    """
    pool = owned(Pool, pool_id)
    return carrier_numbers.import_owned(get_db(), principal(), pool, dry_run=query["dry_run"])


@bp.post("/numbers/<int(min=1):number_id>/release")
@bp.doc(tags=["carrier"])
@bp.response(204)
def release_number(number_id: int):
    """Give the number back to the carrier and take it out of its pool."""
    carrier_numbers.release(get_db(), principal(), owned(TrackingNumber, number_id))
