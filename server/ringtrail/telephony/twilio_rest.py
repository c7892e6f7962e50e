"""The carrier's REST API for accounts and numbers, through the ``twilio`` library.

Every call here goes through one :class:`twilio.rest.Client` whose API domain's base URL
is ``RINGTRAIL_TWILIO_API_URL`` (tests point it at a local stand-in) and whose HTTP
client gives up after ``RINGTRAIL_TWILIO_TIMEOUT`` seconds. Whatever goes wrong at the
carrier becomes a :class:`~ringtrail.telephony.carrier.CarrierError` with a reason a
person can act on, never a traceback; the secrets sent never appear in one.

Functions take :class:`Credentials` in clear (only in memory, unsealed by the caller)
and return plain dataclasses, so nothing of the library's leaks into the services above.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from requests.exceptions import RequestException, Timeout
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ringtrail.context import setting
from ringtrail.telephony.carrier import CarrierError, NoCredentials, api_url

log = logging.getLogger(__name__)
# The library logs every request it makes at INFO (never the Authorization header);
# Ringtrail's own log says what failed, once.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class CarrierRateLimited(CarrierError):
    """The carrier asks us to slow down; ``retry_after`` seconds (its Retry-After)."""

    def __init__(self, retry_after: int, status: int = 429):
        super().__init__(f"Twilio is rate limiting; retry after {retry_after} s", status)
        self.retry_after = retry_after


class CarrierRefused(CarrierError):
    """The carrier refused what was asked (a number no longer for sale...): the request's
    fault, not an outage (422 on the web)."""


class NotConnected(NoCredentials):
    """The agency has not connected its account: nothing can be asked (409 on the web)."""


@dataclass(frozen=True)
class Credentials:
    """An account's credentials in clear: the auth token, or an API key and its secret."""

    account_sid: str
    auth_token: str
    api_key_sid: str | None = None
    api_key_secret: str | None = None

    def __repr__(self) -> str:  # never print a secret, even in a traceback
        return f"Credentials({self.account_sid!r}, api_key_sid={self.api_key_sid!r})"


@dataclass(frozen=True)
class Account:
    sid: str
    friendly_name: str
    status: str


@dataclass(frozen=True)
class Available:
    """A number the carrier offers for sale."""

    phone_number: str
    friendly_name: str
    locality: str | None
    region: str | None


@dataclass(frozen=True)
class Owned:
    """A number the account owns, with the URLs its calls are sent to."""

    sid: str
    phone_number: str
    voice_url: str
    status_callback: str
    voice_fallback_url: str


@dataclass(frozen=True)
class Webhooks:
    """The three URLs a Ringtrail number points at."""

    voice_url: str
    status_callback: str
    voice_fallback_url: str

    def differences(self, owned: Owned) -> dict[str, list[str]]:
        """{field: [now, wanted]} for each URL of ``owned`` that is not ours."""
        return {
            name: [getattr(owned, name) or "", wanted]
            for name, wanted in vars(self).items()
            if (getattr(owned, name) or "") != wanted
        }

    def params(self) -> dict[str, str]:
        return {
            "voice_url": self.voice_url,
            "voice_method": "POST",
            "status_callback": self.status_callback,
            "status_callback_method": "POST",
            "voice_fallback_url": self.voice_fallback_url,
            "voice_fallback_method": "POST",
        }


class _HttpClient(TwilioHttpClient):
    """The library's HTTP client, keeping the last answer's headers (for Retry-After)."""

    last_headers: dict[str, str] = {}

    def request(self, *args, **kwargs):
        response = super().request(*args, **kwargs)
        self.last_headers = dict(response.headers or {})
        return response


def timeout() -> float:
    return float(setting("TWILIO_TIMEOUT"))


def client(creds: Credentials) -> Client:
    """A REST client for the account, on ``RINGTRAIL_TWILIO_API_URL``."""
    http = _HttpClient(timeout=timeout())
    if creds.api_key_sid and creds.api_key_secret:
        rest = Client(creds.api_key_sid, creds.api_key_secret, creds.account_sid, http_client=http)
    else:
        rest = Client(creds.account_sid, creds.auth_token, http_client=http)
    rest.api.base_url = api_url()
    return rest


def _retry_after(rest: Client) -> int:
    value = getattr(rest.http_client, "last_headers", {}).get("Retry-After", "")
    return int(value) if str(value).isdigit() else 60


def _reason(status: int, message: str, what: str, thing: str) -> str:
    if status == 401:
        return (
            "Twilio refused the credentials (401): check the Account SID and the auth "
            "token, or the API key and its secret"
        )
    if status == 403:
        return f"Twilio does not allow this account to {what} (403)"
    if status == 404:
        return f"Twilio has no such {thing} (404)"
    if status >= 500:
        return f"Twilio failed to {what} ({status}); try again later"
    detail = message.split(": ", 1)[-1]
    return f"Twilio refused to {what} ({status}): {detail}"[:300]


def _refused(rest: Client, status: int, message: str, what: str, thing: str) -> CarrierError:
    log.warning("Twilio answered %s to %s", status, what)
    if status == 429:
        return CarrierRateLimited(_retry_after(rest))
    if 400 <= status < 500 and status not in (401, 403, 404):
        return CarrierRefused(_reason(status, message, what, thing), status)
    return CarrierError(_reason(status, message, what, thing), status)


def _page_message(response: object) -> str:
    try:
        return str(json.loads(response.text).get("message") or "")  # type: ignore[attr-defined]
    except (ValueError, AttributeError):
        return ""


@contextmanager
def carrier(rest: Client, what: str, thing: str = "number in this account") -> Iterator[None]:
    """Turn whatever the carrier does wrong while we ``what`` into a CarrierError (a 404
    says there is no such ``thing``)."""
    try:
        yield
    except TwilioRestException as exc:
        raise _refused(rest, exc.status, str(exc.msg or ""), what, thing) from None
    except Timeout:
        log.warning("Twilio did not answer in time to %s", what)
        raise CarrierError(f"Twilio did not answer within {timeout():g} s") from None
    except TwilioException as exc:
        # A list's page that is not a 200 comes as TwilioException(message, response).
        response = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            raise _refused(rest, status, _page_message(response), what, thing) from None
        log.warning("Twilio failed to %s: %s", what, type(exc).__name__)
        raise CarrierError(f"Twilio could not be reached to {what}") from None
    except (RequestException, OSError) as exc:
        log.warning("Twilio unreachable to %s: %s", what, type(exc).__name__)
        raise CarrierError(f"Twilio could not be reached to {what}") from None


def fetch_account(creds: Credentials) -> Account:
    """The account the credentials open (a CarrierError if they open none)."""
    rest = client(creds)
    with carrier(rest, "check the account", "account: check the Account SID"):
        found = rest.api.v2010.accounts(creds.account_sid).fetch()
    return Account(found.sid, found.friendly_name or "", found.status or "")


def search(
    creds: Credentials,
    *,
    area_code: str | None = None,
    region: str | None = None,
    locality: str | None = None,
    contains: str | None = None,
    toll_free: bool = False,
    limit: int = 20,
    country: str = "US",
) -> list[Available]:
    """Numbers for sale matching every criterion given."""
    rest = client(creds)
    country_numbers = rest.api.v2010.accounts(creds.account_sid).available_phone_numbers(country)
    kind = country_numbers.toll_free if toll_free else country_numbers.local
    criteria = {
        "area_code": int(area_code) if area_code else None,
        "in_region": region,
        "in_locality": locality,
        "contains": contains,
    }
    with carrier(rest, "search numbers"):
        found = kind.list(**{k: v for k, v in criteria.items() if v}, limit=limit, page_size=limit)
    return [Available(n.phone_number, n.friendly_name, n.locality, n.region) for n in found]


def _owned(n) -> Owned:
    return Owned(
        n.sid,
        n.phone_number,
        n.voice_url or "",
        n.status_callback or "",
        n.voice_fallback_url or "",
    )


def buy(creds: Credentials, phone_number: str, hooks: Webhooks) -> Owned:
    """Buy a number, its calls sent to ``hooks``."""
    rest = client(creds)
    numbers = rest.api.v2010.accounts(creds.account_sid).incoming_phone_numbers
    with carrier(rest, f"buy {phone_number}"):
        return _owned(numbers.create(phone_number=phone_number, **hooks.params()))


def owned_numbers(creds: Credentials, phone_number: str | None = None) -> list[Owned]:
    """The numbers the account owns (only ``phone_number``, when given)."""
    rest = client(creds)
    numbers = rest.api.v2010.accounts(creds.account_sid).incoming_phone_numbers
    filters = {"phone_number": phone_number} if phone_number else {}
    with carrier(rest, "list the account's numbers"):
        return [_owned(n) for n in numbers.list(**filters, page_size=1000)]


def point(creds: Credentials, sid: str, hooks: Webhooks) -> Owned:
    """Send an owned number's calls to ``hooks``."""
    rest = client(creds)
    number = rest.api.v2010.accounts(creds.account_sid).incoming_phone_numbers(sid)
    with carrier(rest, "update the number"):
        return _owned(number.update(**hooks.params()))


def release(creds: Credentials, sid: str) -> bool:
    """Give a number back to the carrier; False if the account no longer had it."""
    rest = client(creds)
    number = rest.api.v2010.accounts(creds.account_sid).incoming_phone_numbers(sid)
    try:
        with carrier(rest, "release the number"):
            number.delete()
    except CarrierError as exc:
        if exc.status == 404:
            return False
        raise
    return True
