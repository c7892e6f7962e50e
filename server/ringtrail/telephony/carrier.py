"""The carrier's REST API, for what only the carrier can do: fetch and delete recordings,
delete call logs.

Twilio's 2010-04-01 API, with basic auth ``AccountSid:AuthToken`` of the agency that owns
the number. The base URL is ``RINGTRAIL_TWILIO_API_URL`` (default
``https://api.twilio.com``); tests point it at a local stand-in that speaks the same
protocol.

Ringtrail never fetches a URL a webhook handed it: a recording is always addressed by its
``RE…`` sid under the configured base, so a stored ``RecordingUrl`` can neither send the
agency's credentials elsewhere nor make the server fetch an arbitrary address. Carrier
media URLs never reach a browser; :func:`fetch_recording` streams the audio through us.
"""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from ringtrail.context import setting
from ringtrail.crypto import unseal
from ringtrail.errors import Unavailable
from ringtrail.storage.metrics import carrier_error_kind, count_carrier_error
from ringtrail.storage.models import Agency

API_VERSION = "2010-04-01"
TIMEOUT = 15.0  # seconds; Twilio's own webhook read timeout
CHUNK = 64 * 1024
RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")
CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
FORMATS = {"mp3": "audio/mpeg", "wav": "audio/wav"}


class CarrierError(Unavailable):
    """The carrier refused or could not be reached; ``status`` is its HTTP status or 0."""

    def __init__(self, reason: str, status: int = 0):
        super().__init__(reason)
        self.status = status


class NoCredentials(CarrierError):
    """The agency has no Twilio account configured: nothing can be asked of the carrier."""


@dataclass
class Media:
    """A recording being streamed from the carrier: iterate ``chunks()``, then ``close()``."""

    content_type: str
    length: int | None
    _response: object

    def chunks(self) -> Iterator[bytes]:
        """The audio, in 64 KiB pieces; closes the connection at the end."""
        try:
            while chunk := self._response.read(CHUNK):  # type: ignore[attr-defined]
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Drop the connection to the carrier."""
        self._response.close()  # type: ignore[attr-defined]


def api_url() -> str:
    """The carrier API's base URL (``RINGTRAIL_TWILIO_API_URL``): http(s) only."""
    url = str(setting("TWILIO_API_URL")).rstrip("/")
    if urlsplit(url).scheme not in ("http", "https"):
        raise CarrierError("RINGTRAIL_TWILIO_API_URL must be an http(s) URL")
    return url


def recording_sid(sid_or_url: str | None) -> str | None:
    """The ``RE…`` sid of a recording, from the sid itself or from a RecordingUrl."""
    if not sid_or_url:
        return None
    found = RECORDING_SID.search(sid_or_url)
    return found.group(0) if found else None


def _account(agency: Agency) -> tuple[str, str]:
    if not agency.twilio_account_sid or not agency.twilio_auth_token:
        raise NoCredentials(f"agency {agency.id} has no Twilio account configured")
    return agency.twilio_account_sid, unseal(agency.twilio_auth_token)


def _resource(agency: Agency, kind: str, sid: str, ext: str) -> tuple[str, str]:
    account, token = _account(agency)
    url = f"{api_url()}/{API_VERSION}/Accounts/{quote(account)}/{kind}/{quote(sid)}.{ext}"
    auth = base64.b64encode(f"{account}:{token}".encode()).decode()
    return url, f"Basic {auth}"


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follow the carrier's redirect to its media store without our credentials.

    urllib copies every header to the redirect target; the agency's auth token must
    never go to another host.
    """

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


_opener = urllib.request.build_opener(_SameHostRedirects)


def _open(method: str, url: str, auth: str):
    # The URL is always api_url() (http or https only) plus quoted path segments.
    request = urllib.request.Request(url, method=method, headers={"Authorization": auth})  # noqa: S310
    try:
        return _opener.open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        exc.close()
        count_carrier_error(carrier_error_kind(exc.code))
        raise CarrierError(f"carrier answered {exc.code} to {method}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        count_carrier_error(carrier_error_kind(0, timed_out=isinstance(reason, TimeoutError)))
        raise CarrierError(f"carrier unreachable: {exc}") from None


def _delete(agency: Agency, kind: str, sid: str) -> bool:
    url, auth = _resource(agency, kind, sid, "json")
    try:
        with _open("DELETE", url, auth):
            return True
    except CarrierError as exc:
        if exc.status == 404:
            return False  # already gone: what we wanted
        raise


def delete_recording(agency: Agency, sid_or_url: str) -> bool:
    """Delete a recording at the carrier; True if it was deleted, False if it was gone.

    Raises :class:`CarrierError` on any other answer, so the caller keeps its reference
    and tries again later.
    """
    sid = recording_sid(sid_or_url)
    if sid is None:
        raise CarrierError("not a Twilio recording sid or URL")
    return _delete(agency, "Recordings", sid)


def delete_call(agency: Agency, call_sid: str) -> bool:
    """Delete the carrier's log of a call (it holds the caller's number); False if gone."""
    if not CALL_SID.fullmatch(call_sid or ""):
        raise CarrierError("not a Twilio call sid")
    return _delete(agency, "Calls", call_sid)


def fetch_recording(agency: Agency, sid_or_url: str, fmt: str = "mp3") -> Media:
    """Open a recording's audio at the carrier, to be streamed to an allowed listener."""
    sid = recording_sid(sid_or_url)
    if sid is None:
        raise CarrierError("not a Twilio recording sid or URL")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    url, auth = _resource(agency, "Recordings", sid, fmt)
    response = _open("GET", url, auth)
    length = response.headers.get("Content-Length")
    return Media(
        content_type=FORMATS[fmt],
        length=int(length) if length and length.isdigit() else None,
        _response=response,
    )
