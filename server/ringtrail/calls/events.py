"""Call events: what a carrier (or a PBX, through the API) tells us about one call.

A :class:`CallEvent` is made in one place for every door: :meth:`CallEvent.voice` for
the first event of a call (Twilio's voice webhook, the fallback route, the call-ingest
API) and :meth:`CallEvent.update` for what follows (status, dial, recording and
transcription callbacks). Each kind carries only the fields its record needs.

A voice event hashes the caller's number (``caller_hash``) and notes the approximate
state of its area (``caller_state``). In HIPAA mode it drops the number itself: from then
on only the hash exists, in Redis, the job queue, the spool and SQL alike.

Events travel as JSON (:meth:`to_dict`, :meth:`from_dict`) through Redis and the spool.
:meth:`from_dict` also reads the shape an older release stashed or spooled (Twilio's
parameter names under ``params``), so an upgrade loses no event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from typing import Any

from ringtrail import phones
from ringtrail.hashing import caller_hash_of_e164
from ringtrail.terms import EVENT_KINDS
from ringtrail.tracking.directory import Route

TEXT_LIMIT = 500  # ids, statuses, numbers, URLs
UNREAD = object()  # a voice event's caller not yet read by phones.normalise
TRANSCRIPT_LIMIT = 20_000


def clean(value: Any, limit: int = TEXT_LIMIT) -> str:
    """A carrier's text value: a string, without NUL bytes (PostgreSQL refuses them for
    good), bounded."""
    return str(value if value is not None else "").replace("\x00", "")[:limit]


def number(value: Any) -> int | None:
    """A carrier's integer value (durations), or None."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def event_id(
    provider: str, call_sid: str, kind: str, extra: str = "", agency_id: int | None = None
) -> str:
    """A job-id-safe name for one event of one agency's call: a webhook delivered twice
    makes one event (and one job); the same call id from another agency makes another, so
    no agency can overwrite another's queued event."""
    name = f"{provider}\n{call_sid}\n{kind}\n{extra}"
    if agency_id is not None:
        name += f"\n{agency_id}"
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"{kind}-{digest[:32]}"


@dataclass(frozen=True)
class RouteFacts:
    """What the record needs of the tracking number's route as it was when the call came."""

    role: str  # pool | overflow | source
    pool_id: int | None
    site_id: int | None
    client_id: int | None
    match_window: int = 3600
    source: str | None = None  # a source number's source pattern
    agency_id: int | None = None  # None only in events stashed before 0.3


def facts_of(route: Route) -> RouteFacts:
    """The facts a call's record keeps of its tracking number's route."""
    return RouteFacts(
        role=route.role,
        pool_id=route.pool_id,
        site_id=route.site_id,
        client_id=route.client_id,
        match_window=route.match_window,
        source=route.source,
        agency_id=route.agency_id,
    )


@dataclass(frozen=True)
class CallEvent:
    """One event in the life of one call."""

    kind: str  # voice | status | dial | recording | transcription
    call_sid: str
    received_at: float  # this web node's clock
    provider: str = "twilio"
    # The agency whose carrier account sent the event (verified by its signature): the
    # call is (agency_id, call_sid). None only in events stashed before 0.3.
    agency_id: int | None = None
    # Redis's clock when the event was stashed (the clock leases are read on); None for
    # an event that waited in a spool, judged by ``received_at`` with a tolerance.
    clock: float | None = None
    # voice
    to: str = ""
    caller: str | None = None  # the caller id as sent; None in HIPAA mode
    caller_hash: str | None = None
    caller_state: str | None = None  # approximate: the number's area
    hipaa: bool = False
    route: RouteFacts | None = None
    forward_to: str = ""
    route_kind: str | None = None  # terms.ROUTE_KINDS: normal, overflow, unknown_number…
    degraded: bool = False  # answered without recording (stale routing, no queue)
    blocked: bool = False  # refused (<Reject>): the client blocked this caller
    # proof of disclosure (voice, and a dial that led to voicemail)
    notice_played: bool = False
    notice_version: str | None = None
    notice_at: float | None = None
    # voice and status
    status: str = ""
    duration_seconds: int | None = None
    # dial
    dial_status: str = ""
    talk_seconds: int | None = None
    # recording
    recording_sid: str = ""
    recording_url: str = ""
    recording_seconds: int | None = None
    recording_status: str = ""
    # transcription
    transcription_text: str = ""
    transcription_status: str = ""

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")

    @classmethod
    def voice(
        cls,
        *,
        provider: str,
        call_sid: str,
        received_at: float,
        to: str,
        caller: str | None,
        route: RouteFacts | None,
        hipaa: bool,
        agency_id: int | None,
        status: str = "ringing",
        forward_to: str = "",
        e164: str | None | object = UNREAD,
        locate: bool = True,
    ) -> CallEvent:
        """The first event of a call, from any door. Hashes the caller and, in HIPAA
        mode (or when the number's client is unknown), drops the number itself.

        ``e164`` is the caller as :func:`phones.normalise` read it, when the door has
        read it already (the caller is parsed once per call). Without ``locate`` the
        caller's state is left to the job (:meth:`caller_state_of`), when the answer does
        not depend on it; a HIPAA event is always located here, since its number goes
        no further than this request.
        """
        raw = clean(caller) or None
        if e164 is UNREAD:
            e164 = phones.normalise(raw)
        return cls(
            kind="voice",
            provider=clean(provider, 20),
            call_sid=clean(call_sid, 64),
            received_at=float(received_at),
            agency_id=agency_id,
            to=clean(to, 20),
            caller=None if hipaa else raw,
            caller_hash=caller_hash_of_e164(e164),  # type: ignore[arg-type]
            caller_state=phones.state_of(raw) if locate or hipaa else None,
            hipaa=hipaa,
            route=route,
            forward_to=clean(forward_to, 20),
            status=clean(status, 20),
        )

    @classmethod
    def update(
        cls,
        kind: str,
        *,
        provider: str,
        call_sid: str,
        received_at: float,
        agency_id: int | None,
        **values,
    ):
        """A later event of a call: status, dial, recording or transcription."""
        if kind == "voice":
            raise ValueError("a voice event is made with CallEvent.voice")
        texts = {
            k: clean(v, TRANSCRIPT_LIMIT if k == "transcription_text" else TEXT_LIMIT)
            for k, v in values.items()
            if isinstance(v, str)
        }
        return cls(
            kind=kind,
            provider=clean(provider, 20),
            call_sid=clean(call_sid, 64),
            received_at=float(received_at),
            agency_id=agency_id,
            **(values | texts),
        )

    def caller_state_of(self) -> str | None:
        """The caller's state: as located by the webhook, else from the number (a job
        locates what the webhook left, :meth:`voice` without ``locate``)."""
        return self.caller_state or phones.state_of(self.caller)

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data: what ``dataclasses.asdict`` gives, made field by
        field (every value is flat, or the flat route), at a tenth of its cost per call."""
        data = {name: getattr(self, name) for name in _EVENT_FIELDS}
        if self.route is not None:
            data["route"] = {name: getattr(self.route, name) for name in _ROUTE_FIELDS}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallEvent:
        """An event read back from Redis or the spool (either shape; see the module doc)."""
        if "params" in data:
            data = _from_params(data)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("route"), dict):
            values["route"] = RouteFacts(**values["route"])
        return cls(**values)


_EVENT_FIELDS = tuple(f.name for f in fields(CallEvent))
_ROUTE_FIELDS = tuple(f.name for f in fields(RouteFacts))


# The shape of events stashed by releases before 0.2: Twilio's parameters under "params".
_PARAMS = {
    "To": "to",
    "CallStatus": "status",
    "CallDuration": "duration_seconds",
    "DialCallStatus": "dial_status",
    "DialCallDuration": "talk_seconds",
    "RecordingSid": "recording_sid",
    "RecordingUrl": "recording_url",
    "RecordingDuration": "recording_seconds",
    "RecordingStatus": "recording_status",
    "TranscriptionText": "transcription_text",
    "TranscriptionStatus": "transcription_status",
}
_INTEGERS = ("duration_seconds", "talk_seconds", "recording_seconds")


def _from_params(data: dict[str, Any]) -> dict[str, Any]:
    params = data.get("params") or {}
    out = {k: v for k, v in data.items() if k != "params"}
    for name, field in _PARAMS.items():
        if name in params:
            out[field] = number(params[name]) if field in _INTEGERS else params[name]
    if "From" in params and not data.get("hipaa"):
        out["caller"] = params["From"] or None
    route = out.get("route")
    if isinstance(route, dict):
        out["route"] = {k: route.get(k) for k in ("role", "pool_id", "site_id", "client_id")}
        out["route"] |= {
            "match_window": int(route.get("match_window") or 3600),
            "source": route.get("source"),
            "agency_id": route.get("agency_id"),
        }
    return out
