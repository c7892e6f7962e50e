"""The numbers and accounts half of the Twilio stand-in: Twilio's 2010-04-01 REST protocol
for the account, AvailablePhoneNumbers and IncomingPhoneNumbers, with bodies shaped like
Twilio's (the fields the ``twilio`` library reads), and errors that can be injected.

``tests/twilio_standin.py`` holds the server and its state; it hands every request under
``/2010-04-01/Accounts/`` that is not a recording or a call to :func:`route` here.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

BASE = "/2010-04-01/Accounts"
TOLL_FREE = ("800", "833", "844", "855", "866", "877", "888")
NUMBER_FIELDS = {
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "FriendlyName": "friendly_name",
}


@dataclass
class Failure:
    """Answer requests whose method is ``method`` (or any) and whose path contains
    ``contains`` with ``status`` (0: never answer, for timeouts), after ``after`` such
    requests went through; ``Retry-After`` is sent when given."""

    status: int
    contains: str = ""
    method: str = ""
    after: int = 0
    retry_after: int | None = None
    seen: int = 0

    def matches(self, method: str, path: str) -> bool:
        if (self.method and method != self.method) or self.contains not in path:
            return False
        self.seen += 1
        return self.seen > self.after


def now() -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


def error(status: int, code: int, message: str) -> tuple[int, dict]:
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def available(number: str, region: str, locality: str, toll_free: bool = False) -> dict:
    """One number the stand-in offers for sale."""
    return {
        "friendly_name": f"({number[2:5]}) {number[5:8]}-{number[8:]}",
        "phone_number": number,
        "lata": None,
        "rate_center": locality.upper()[:10],
        "latitude": None,
        "longitude": None,
        "locality": None if toll_free else locality,
        "region": None if toll_free else region,
        "postal_code": None,
        "iso_country": "US",
        "address_requirements": "none",
        "beta": False,
        "capabilities": {"voice": True, "SMS": True, "MMS": True, "fax": False},
        "toll_free": toll_free,
    }


def _page(key: str, items: list[dict], path: str, size: int) -> dict:
    return {
        key: items,
        "uri": path,
        "first_page_uri": path,
        "next_page_uri": None,
        "previous_page_uri": None,
        "page": 0,
        "page_size": size,
        "start": 0,
        "end": max(len(items) - 1, 0),
    }


def _account(state, sid: str) -> dict:
    return {
        "sid": sid,
        "friendly_name": state.names.get(sid, "Stand-in account"),
        "status": state.statuses.get(sid, "active"),
        "type": "Full",
        "auth_token": state.accounts[sid],  # Twilio sends it; Ringtrail must drop it
        "owner_account_sid": sid,
        "date_created": now(),
        "date_updated": now(),
        "uri": f"{BASE}/{sid}.json",
        "subresource_uris": {},
    }


def _search(state, kind: str, query: dict[str, str]) -> list[dict]:
    found = []
    for item in state.available:
        if item["toll_free"] != (kind == "TollFree"):
            continue
        number = item["phone_number"]
        if query.get("AreaCode") and number[2:5] != query["AreaCode"]:
            continue
        if query.get("InRegion") and item["region"] != query["InRegion"]:
            continue
        if query.get("InLocality") and item["locality"] != query["InLocality"]:
            continue
        if query.get("Contains") and query["Contains"].strip("*") not in number:
            continue
        found.append({k: v for k, v in item.items() if k != "toll_free"})
    return found[: int(query.get("PageSize") or 50)]


def _incoming(account: str, sid: str, number: str) -> dict:
    return {
        "sid": sid,
        "account_sid": account,
        "phone_number": number,
        "friendly_name": number,
        "voice_url": "",
        "voice_method": "POST",
        "voice_fallback_url": "",
        "voice_fallback_method": "POST",
        "status_callback": "",
        "status_callback_method": "POST",
        "voice_caller_id_lookup": False,
        "api_version": "2010-04-01",
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
        "status": "in-use",
        "origin": "twilio",
        "date_created": now(),
        "date_updated": now(),
        "uri": f"{BASE}/{account}/IncomingPhoneNumbers/{sid}.json",
    }


def route(state, method: str, raw_path: str, account: str, body: bytes) -> tuple[int, dict | None]:
    """(status, JSON body) for one authenticated request for ``account``."""
    parts = urlsplit(raw_path)
    path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    if path == f"{BASE}/{account}.json" and method == "GET":
        return 200, _account(state, account)
    prefix = f"{BASE}/{account}/"
    if not path.startswith(prefix):
        return error(404, 20404, f"The requested resource {path} was not found")
    rest = path.removeprefix(prefix)
    if rest.startswith("AvailablePhoneNumbers/") and method == "GET":
        segments = rest.split("/")
        if len(segments) == 3 and segments[2] in ("Local.json", "TollFree.json"):
            kind = segments[2].removesuffix(".json")
            items = _search(state, kind, query)
            return 200, _page("available_phone_numbers", items, path, len(items))
    owned = state.numbers
    if rest == "IncomingPhoneNumbers.json":
        if method == "GET":
            mine = [n for n in owned.values() if n["account_sid"] == account]
            if query.get("PhoneNumber"):
                mine = [n for n in mine if n["phone_number"] == query["PhoneNumber"]]
            size = int(query.get("PageSize") or 50)
            return 200, _page("incoming_phone_numbers", mine[:size], path, size)
        if method == "POST":
            wanted = form.get("PhoneNumber", "")
            offer = next((a for a in state.available if a["phone_number"] == wanted), None)
            if offer is None:
                return error(400, 21422, f"PhoneNumber {wanted} is not available")
            state.available.remove(offer)
            sid = "PN" + secrets.token_hex(16)
            owned[sid] = _incoming(account, sid, wanted)
            for name, key in NUMBER_FIELDS.items():
                if name in form:
                    owned[sid][key] = form[name]
            state.log.append(("buy", wanted))
            if state.on_buy is not None:
                state.on_buy(wanted)
            return 201, owned[sid]
    if rest.startswith("IncomingPhoneNumbers/") and rest.endswith(".json"):
        sid = rest.removeprefix("IncomingPhoneNumbers/").removesuffix(".json")
        number = owned.get(sid)
        if number is None or number["account_sid"] != account:
            return error(404, 20404, f"The requested resource {path} was not found")
        if method == "GET":
            return 200, number
        if method == "POST":
            for name, key in NUMBER_FIELDS.items():
                if name in form:
                    number[key] = form[name]
            number["date_updated"] = now()
            state.log.append(("update", number["phone_number"]))
            return 200, number
        if method == "DELETE":
            del owned[sid]
            state.log.append(("release", number["phone_number"]))
            return 204, None
    return error(405, 20004, "Method not allowed")


def dumps(body: dict | None) -> bytes:
    return b"" if body is None else json.dumps(body).encode()
