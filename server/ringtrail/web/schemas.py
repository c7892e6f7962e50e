"""What the admin API, the settings forms and the management commands accept and return.

One set of marshmallow schemas serves all three, so a value refused by the API is
refused by the dashboard and the command line too, with the same message. The OpenAPI
document is generated from these same schemas.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from ringtrail import phones
from ringtrail.phones import US_STATES
from ringtrail.phones import parse as e164
from ringtrail.terms import (
    CONFIDENCES,
    CONSENT_MODES,
    CONTROL,
    DAYS,
    EXHAUSTION_POLICIES,
    NUMBER_ROLES,
    RETENTION_MAX_DAYS,
    ROLES,
)

MAX_ID = 2**31 - 1
MAX_PER_PAGE = 200


class Text(fields.String):
    """A string without control characters, stripped; empty only if allowed."""

    def __init__(self, *, max_length: int, allow_empty: bool = False, **kwargs: Any):
        extra = kwargs.pop("validate", None)
        validators = [validate.Length(min=0 if allow_empty else 1, max=max_length)]
        kwargs["validate"] = validators + ([extra] if extra else [])
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if CONTROL.search(value):
            raise ValidationError("must not contain control characters")
        return value.strip()


class Phone(fields.String):
    """A phone number, normalised to E.164."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return e164(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class Origin(fields.String):
    """An http(s) origin: scheme://host[:port], nothing after."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip().rstrip("/")
        if len(value) > 200 or CONTROL.search(value):
            raise ValidationError("not an origin")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError as exc:
            raise ValidationError("not an origin") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("an origin is http(s)://host[:port]")
        if parts.path or parts.query or parts.fragment or parts.username:
            raise ValidationError("an origin has no path, query or user")
        return value.lower()


def _timezone(value: str) -> None:
    if value not in _ZONES:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError("unknown time zone") from exc
        raise ValidationError("unknown time zone")


_ZONES = available_timezones() | {"UTC"}

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
MAX_RANGES = 6


def _minutes(hhmm: Any, *, end: bool) -> int:
    # "24:00" may end a day (open until midnight); nothing else past 23:59.
    if isinstance(hhmm, str) and (_HHMM.match(hhmm) or (end and hhmm == "24:00")):
        return int(hhmm[:2]) * 60 + int(hhmm[3:])
    raise ValidationError(f"{hhmm!r} is not a time: use 24-hour HH:MM, such as 09:00 or 17:30")


class BusinessHours(fields.Field):
    """Opening hours per day in the client's time zone: ``{"mon": [["09:00", "17:00"]]}``.

    Days are mon..sun; a day left out is closed. Each range is [start, end] in 24-hour
    HH:MM with start before end ("24:00" may end a day); ranges of a day may not overlap.
    An empty object, like null, means always open.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError('business hours are {"mon": [["09:00", "17:00"]], ...}')
        out: dict[str, list[list[str]]] = {}
        for day, ranges in value.items():
            if day not in DAYS:
                raise ValidationError(f"{day!r} is not a day: use {', '.join(DAYS)}")
            if not isinstance(ranges, list) or len(ranges) > MAX_RANGES:
                raise ValidationError(f"{day}: a list of up to {MAX_RANGES} [start, end] ranges")
            spans = []
            for pair in ranges:
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    raise ValidationError(f"{day}: each range is [start, end]")
                start, end = _minutes(pair[0], end=False), _minutes(pair[1], end=True)
                if start >= end:
                    raise ValidationError(f"{day}: {pair[0]}–{pair[1]} must start before it ends")
                spans.append((start, end, [pair[0], pair[1]]))
            spans.sort()
            for (_, first_end, first), (second_start, _, second) in pairwise(spans):
                if second_start < first_end:
                    raise ValidationError(f"{day}: {'–'.join(first)} overlaps {'–'.join(second)}")
            if spans:
                out[day] = [span[2] for span in spans]
        return out or None

    def _serialize(self, value, attr, obj, **kwargs):
        return value


def Id(*, strict: bool = True, **kwargs: Any) -> fields.Integer:  # noqa: N802 (reads as a type)
    """A database id (``strict=False`` in query strings, where everything is text)."""
    return fields.Integer(strict=strict, validate=validate.Range(1, MAX_ID), **kwargs)


class In(Schema):
    """Input schemas refuse unknown fields."""

    class Meta:
        unknown = RAISE


class Patch(In):
    """A partial update: only the fields sent change; the parent id cannot."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


# -- agencies and clients ------------------------------------------------------------------


class AgencyIn(In):
    name = Text(max_length=200, required=True)


class AgencyOut(Schema):
    id = fields.Integer()
    name = fields.String()
    twilio_account_sid = fields.String(allow_none=True)
    created_at = fields.DateTime()


class UsState(fields.String):
    """A US state's two-letter code, or DC; any case in, capitals out."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip().upper()
        if value not in US_STATES:
            raise ValidationError("a two-letter US state code, or DC")
        return value


class ClientIn(In):
    """A client. Rules across fields (notice, consent mode, HIPAA): accounts/configuration."""

    name = Text(max_length=200, required=True)
    business_number = Phone(required=True, metadata={"example": "+14155550100"})
    timezone = Text(max_length=64, validate=_timezone, load_default="America/New_York")
    us_state = UsState(
        allow_none=True,
        metadata={"description": "The business's state: decides which consent modes it may use"},
    )
    record_calls = fields.Boolean(load_default=False)
    recording_notice = Text(
        max_length=500,
        allow_empty=True,
        metadata={"description": "Said before anything is recorded; required while recording"},
    )
    consent_mode = fields.String(
        validate=validate.OneOf(CONSENT_MODES),
        metadata={"description": "one_party only outside all-party states"},
    )
    transcribe = fields.Boolean()
    whisper = fields.Boolean(
        metadata={"description": "Tell the person answering the call's source (unrecorded calls)"}
    )
    business_hours = BusinessHours(
        allow_none=True,
        metadata={
            "description": "Per day mon..sun, 24-hour [start, end] ranges in the client's "
            "time zone; null means always open",
            "example": {"mon": [["09:00", "17:00"]]},
            "type": "object",
        },
    )
    after_hours_number = Phone(allow_none=True)
    voicemail = fields.Boolean()
    voicemail_prompt = Text(max_length=500)
    hipaa = fields.Boolean(
        metadata={"description": "No recording, transcription or voicemail; hashed callers"}
    )
    suspended = fields.Boolean(load_default=False)


class ClientPatch(Patch, ClientIn):
    pass


class ClientOut(Schema):
    id = fields.Integer()
    agency_id = fields.Integer()
    name = fields.String()
    business_number = fields.String()
    timezone = fields.String()
    us_state = fields.String(allow_none=True)
    record_calls = fields.Boolean()
    recording_notice = fields.String()
    consent_mode = fields.String()
    transcribe = fields.Boolean()
    whisper = fields.Boolean()
    business_hours = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.List(fields.String())),
        allow_none=True,
    )
    after_hours_number = fields.String(allow_none=True)
    voicemail = fields.Boolean()
    voicemail_prompt = fields.String()
    hipaa = fields.Boolean()
    retention_call_days = fields.Integer()
    retention_snapshot_days = fields.Integer()
    retention_recording_days = fields.Integer()
    suspended = fields.Boolean()
    created_at = fields.DateTime()


# -- sites ------------------------------------------------------------------------------


class SiteIn(In):
    client_id = Id(required=True)
    name = Text(max_length=200, required=True)
    allowed_origins = fields.List(Origin(), validate=validate.Length(max=50), load_default=list)
    consent_mode = fields.String(validate=validate.OneOf(("auto", "required")), load_default="auto")
    honor_dnt = fields.Boolean(load_default=False)


class SitePatch(Patch, SiteIn):
    class Meta:
        unknown = RAISE
        exclude = ("client_id",)


class SiteOut(Schema):
    id = fields.Integer()
    client_id = fields.Integer()
    name = fields.String()
    public_key = fields.String()
    allowed_origins = fields.List(fields.String())
    consent_mode = fields.String()
    honor_dnt = fields.Boolean()
    created_at = fields.DateTime()


# -- pools ------------------------------------------------------------------------------


def Override(**kwargs: Any) -> fields.Boolean:  # noqa: N802 (reads as a type)
    """A recording override: true or false, or null to inherit from the level above."""
    kwargs.setdefault("metadata", {"description": "Record calls: true, false, or null to inherit"})
    return fields.Boolean(allow_none=True, **kwargs)


class PoolIn(In):
    site_id = Id(required=True)
    name = Text(max_length=200, allow_empty=True, load_default="")
    business_number = Phone(required=True)
    lease_seconds = fields.Integer(
        strict=True,
        load_default=1800,
        validate=validate.Range(30, 86400, error="lease_seconds must be between 30 and 86400"),
    )
    match_window_seconds = fields.Integer(
        strict=True,
        load_default=3600,
        validate=validate.Range(
            0, 7 * 86400, error="match_window_seconds must be between 0 and 604800"
        ),
    )
    exhaustion_policy = fields.String(
        validate=validate.OneOf(EXHAUSTION_POLICIES), load_default="reuse_oldest"
    )
    record_calls = Override()
    rest_seconds = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(0, 7 * 86400, error="rest_seconds must be between 0 and 604800"),
        metadata={"description": "Rest of a released number before reuse; null: the match window"},
    )


class PoolPatch(Patch, PoolIn):
    class Meta:
        unknown = RAISE
        exclude = ("site_id",)


class PoolOut(Schema):
    id = fields.Integer()
    site_id = fields.Integer()
    name = fields.String()
    business_number = fields.String()
    lease_seconds = fields.Integer()
    match_window_seconds = fields.Integer()
    exhaustion_policy = fields.String()
    record_calls = Override()
    rest_seconds = fields.Integer(allow_none=True)
    numbers = fields.Integer(metadata={"description": "active tracking numbers"})
    created_at = fields.DateTime()


# -- tracking numbers -------------------------------------------------------------------


class NumberIn(In):
    pool_id = Id(required=True)
    number = Phone(required=True)
    role = fields.String(validate=validate.OneOf(NUMBER_ROLES), load_default="pool")
    source = Text(max_length=100, allow_none=True, load_default=None)
    active = fields.Boolean(load_default=True)
    record_calls = Override(load_default=None)


class NumberPatch(Patch):
    role = fields.String(validate=validate.OneOf(NUMBER_ROLES))
    source = Text(max_length=100, allow_none=True)
    active = fields.Boolean()
    record_calls = Override()


class NumberOut(Schema):
    id = fields.Integer()
    pool_id = fields.Integer()
    number = fields.String()
    role = fields.String()
    source = fields.String(allow_none=True)
    active = fields.Boolean()
    record_calls = Override()
    created_at = fields.DateTime()


class ImportQuery(In):
    region = fields.String(
        load_default=phones.DEFAULT_REGION,
        validate=validate.Regexp(r"^[A-Z]{2}$", error="a two-letter region code"),
        metadata={"description": "Region for numbers written without a country code"},
    )


class ImportRowError(Schema):
    row = fields.Integer()
    value = fields.String()
    error = fields.String()


class ImportOut(Schema):
    imported = fields.Integer()
    unchanged = fields.Integer()
    numbers = fields.List(fields.String())


# -- users and keys ---------------------------------------------------------------------


class UserIn(In):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = Text(max_length=200, allow_empty=True, load_default="")
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    client_id = Id(allow_none=True, load_default=None)
    password = fields.String(required=True, load_only=True, validate=validate.Length(10, 1000))


class UserPatch(Patch):
    name = Text(max_length=200, allow_empty=True)
    password = fields.String(load_only=True, validate=validate.Length(10, 1000))
    active = fields.Boolean()


class UserOut(Schema):
    id = fields.Integer()
    agency_id = fields.Integer()
    client_id = fields.Integer(allow_none=True)
    email = fields.String()
    name = fields.String()
    role = fields.String()
    active = fields.Boolean()
    last_login_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class KeyIn(In):
    name = Text(max_length=200, required=True)
    client_id = Id(
        allow_none=True,
        load_default=None,
        metadata={"description": "Scope the key to one client; omit for the whole agency"},
    )


class KeyOut(Schema):
    id = fields.Integer()
    agency_id = fields.Integer()
    client_id = fields.Integer(allow_none=True)
    name = fields.String()
    prefix = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class NewKeyOut(KeyOut):
    key = fields.String(metadata={"description": "The key itself. Shown this once only."})


class AuditOut(Schema):
    id = fields.Integer()
    at = fields.String()
    actor_type = fields.String()
    actor = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_id = fields.Integer(allow_none=True)
    details = fields.Dict()
    ip = fields.String(allow_none=True)


class PageQuery(In):
    """Every list is paginated the same way: ``page`` (from 1) and ``per_page``."""

    page = fields.Integer(load_default=1, validate=validate.Range(1, 100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, MAX_PER_PAGE))


def page_of(item: type[Schema]) -> type[Schema]:
    """The one shape of every list answer: ``{items, page, per_page, total}``."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item)),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
            "total": fields.Integer(metadata={"description": "Items in every page together"}),
        },
        name=f"{item.__name__.removesuffix('Out')}Page",
    )


class NumberQuery(PageQuery):
    pool_id = Id(strict=False)


# -- calls ------------------------------------------------------------------------------


class CallQuery(PageQuery):
    client_id = Id(strict=False)
    since = fields.AwareDateTime(metadata={"description": "ISO 8601, inclusive"})
    until = fields.AwareDateTime(metadata={"description": "ISO 8601, exclusive"})
    source = Text(max_length=100, allow_empty=True)
    campaign = Text(max_length=200, allow_empty=True)
    confidence = fields.String(validate=validate.OneOf(CONFIDENCES))


class RecordingQuery(In):
    format = fields.String(load_default="mp3", validate=validate.OneOf(("mp3", "wav")))


class CallIn(In):
    provider = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z0-9_-]{1,20}$", error="lowercase letters, digits, - or _"),
        metadata={"example": "telnyx"},
    )
    call_id = fields.String(
        required=True,
        validate=validate.Regexp(r"^[\x21-\x7e]{1,64}$", error="1 to 64 printable characters"),
        metadata={"description": "The carrier's id of the call; posting it again is a no-op"},
    )
    to = Phone(required=True, metadata={"description": "The tracking number called"})
    caller = fields.String(
        data_key="from",
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=64),
        metadata={"description": "Caller id as the carrier gave it (may be anonymous)"},
    )
    started_at = fields.AwareDateTime(
        load_default=None, allow_none=True, metadata={"description": "When the call arrived"}
    )
    status = fields.String(
        load_default="completed",
        validate=validate.OneOf(
            ("ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled")
        ),
    )
    duration_seconds = fields.Integer(
        strict=True, allow_none=True, load_default=None, validate=validate.Range(0, 86400)
    )
    answered = fields.Boolean(allow_none=True, load_default=None)


class VisitOut(Schema):
    session_id = fields.String()
    started_at = fields.DateTime()
    landing_url = fields.String()
    landing_title = fields.String()
    referrer = fields.String()
    source = fields.String()
    medium = fields.String()
    campaign = fields.String()
    term = fields.String()
    content = fields.String()
    click_ids = fields.Dict(keys=fields.String(), values=fields.String())
    device = fields.String()
    browser = fields.String()
    os = fields.String()
    pages = fields.List(
        fields.Dict(),
        metadata={"description": "Pages viewed: {at, path, title}, oldest first"},
    )


class CallOut(Schema):
    id = fields.Integer()
    provider = fields.String()
    call_id = fields.String()
    client_id = fields.Integer(allow_none=True)
    site_id = fields.Integer(allow_none=True)
    pool_id = fields.Integer(allow_none=True)
    tracking_number = fields.String()
    caller_number = fields.String(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    status = fields.String()
    answered = fields.Boolean(allow_none=True)
    duration_seconds = fields.Integer(allow_none=True)
    confidence = fields.String()
    source = fields.String()
    medium = fields.String()
    campaign = fields.String()
    term = fields.String()
    landing_url = fields.String()
    has_click_id = fields.Boolean()
    repeat_of = fields.Integer(
        allow_none=True, metadata={"description": "a repeat call: the earlier call it repeats"}
    )


class CallDetailOut(CallOut):
    visit = fields.Nested(VisitOut, allow_none=True)
    candidates = fields.List(
        fields.Nested(VisitOut),
        metadata={"description": "an ambiguous call: every visit that could have made it"},
    )


class ErrorOut(Schema):
    error = fields.String(required=True)
    rows = fields.List(fields.Nested(ImportRowError))

    class Meta:
        unknown = EXCLUDE


# -- privacy ----------------------------------------------------------------------------


class ErasureIn(In):
    caller = fields.String(
        validate=validate.Length(max=40),
        metadata={"description": "The caller's number, any format", "example": "+12125550143"},
    )
    session = fields.String(
        validate=validate.Length(max=40),
        metadata={"description": "A visitor session id, as the snippet's API returned it"},
    )

    @validates_schema
    def _one_subject(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("caller" in data) == ("session" in data):
            raise ValidationError("give exactly one of caller or session")


class ErasureOut(Schema):
    id = fields.Integer()
    agency_id = fields.Integer()
    kind = fields.String(metadata={"description": "caller or session"})
    subject_hash = fields.String(
        metadata={"description": "A keyed hash of the subject; the number itself is not kept"}
    )
    requested_by = fields.String()
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "What went, per store (see docs/privacy.md)"},
    )
    complete = fields.Boolean(
        metadata={"description": "False if the carrier could not delete everything: run again"}
    )
    created_at = fields.DateTime()


class RetentionIn(In):
    call_days = fields.Integer(strict=True, validate=validate.Range(1, RETENTION_MAX_DAYS))
    snapshot_days = fields.Integer(strict=True, validate=validate.Range(1, RETENTION_MAX_DAYS))
    recording_days = fields.Integer(strict=True, validate=validate.Range(1, RETENTION_MAX_DAYS))


class RetentionOut(Schema):
    client_id = fields.Integer()
    call_days = fields.Integer()
    snapshot_days = fields.Integer()
    recording_days = fields.Integer()
