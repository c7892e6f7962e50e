"""What the admin API, the settings forms and the management commands accept and return.

One set of marshmallow schemas serves all three, so a value refused by the API is
refused by the dashboard and the command line too, with the same message. The OpenAPI
document is generated from these same schemas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from ringtrail import phones, timezones
from ringtrail.phones import US_STATES
from ringtrail.phones import parse as e164
from ringtrail.reports.calllog import NONE as NONE_VALUE
from ringtrail.reports.calllog import SORTS, STATUSES
from ringtrail.reports.queries import TOUCHES
from ringtrail.terms import (
    CALLER_KINDS,
    CONFIDENCES,
    CONSENT_MODES,
    DAYS,
    EXHAUSTION_POLICIES,
    LEAD_STATUSES,
    NOTE_MAX,
    NUMBER_ROLES,
    RETENTION_MAX_DAYS,
    ROLES,
    RULE_ACTIONS,
    RULE_CONDITIONS,
    TAG_MAX,
)

MAX_ID = 2**31 - 1
MAX_PER_PAGE = 200


# Characters no text field takes: control characters (tab, CR and LF aside). Written as
# regular-expression escapes, so the OpenAPI document declares them. (Lone surrogates
# are not text at all: ringtrail.web.decoding refuses them before any schema runs.)
UNWANTED = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
ANY_TEXT = rf"^[^{UNWANTED}]*$"
NOT_BLANK = rf"^[^{UNWANTED}]*[^\s{UNWANTED}][^{UNWANTED}]*$"
_REFUSED = re.compile(rf"[{UNWANTED}\ud800-\udfff]")


class Plain(validate.Regexp):
    """Text without control characters; unless ``blank``, with more than white space."""

    def __init__(self, *, blank: bool = True):
        super().__init__(ANY_TEXT if blank else NOT_BLANK, error="must not be blank")

    def __call__(self, value: str) -> str:
        if not isinstance(value, str) or _REFUSED.search(value):
            raise ValidationError("must not contain control characters")
        return super().__call__(value)


class Text(fields.String):
    """A string without control characters, not blank unless allowed, stored stripped.

    Its lengths and pattern are checked on the value as sent, so they are exactly what
    the OpenAPI document declares.
    """

    def __init__(self, *, max_length: int, allow_empty: bool = False, **kwargs: Any):
        extra = kwargs.pop("validate", None)
        validators = [
            validate.Length(min=0 if allow_empty else 1, max=max_length),
            Plain(blank=allow_empty),
        ]
        kwargs["validate"] = validators + ([extra] if extra else [])
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        self._validate(value)
        return value.strip()


class Flag(fields.Boolean):
    """true or false, and nothing else (no 0, 1, "yes" or "true")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


class Int(fields.Integer):
    """A JSON integer, and nothing else (no 1.0, "1" or true)."""

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class QueryInt(fields.Integer):
    """An integer in a query string: digits only (no "+1", " 1", "1_000" or "1.0")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not (isinstance(value, str) and value.isascii() and value.isdigit()):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Phone(fields.String):
    """A phone number in any common format, normalised to E.164.

    Which strings are phone numbers is the numbering plans' business (``phonenumbers``),
    more than a pattern can say: the document declares it as ``format: phone``.
    """

    def __init__(self, **kwargs: Any):
        metadata = {"format": "phone", **kwargs.pop("metadata", {})}
        super().__init__(
            validate=validate.Length(max=phones.MAX_INPUT), metadata=metadata, **kwargs
        )

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return e164(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PORT = r"(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
ORIGIN = rf"^https?://{_LABEL}(?:\.{_LABEL})*(?::{_PORT})?/?$"


class Origin(fields.String):
    """An http(s) origin: scheme://host[:port], nothing after (a trailing / is dropped).

    No user information, path, query or fragment: exactly the declared pattern."""

    def __init__(self, **kwargs: Any):
        error = "an origin is http(s)://host[:port]: no user, path or query"
        pattern = validate.Regexp(ORIGIN, error=error)
        super().__init__(validate=[validate.Length(max=200), pattern], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        self._validate(value)
        return value.rstrip("/").lower()


class Timezone(fields.String):
    """An IANA time zone, stored as the zone database spells it; "Chicago" or
    "america/chicago" read as America/Chicago, and a refusal suggests the zones meant."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return timezones.resolve(text)
        except timezones.UnknownZone as exc:
            raise ValidationError(str(exc)) from None


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

    SHAPE = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            day: {
                "type": "array",
                "maxItems": MAX_RANGES,
                "items": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "items": {
                        "type": "string",
                        "pattern": r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$",
                    },
                },
            }
            for day in DAYS
        },
    }

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


def Id(*, query: bool = False, **kwargs: Any) -> fields.Integer:  # noqa: N802 (reads as a type)
    """A database id, in a body or (``query=True``) a query string."""
    return (QueryInt if query else Int)(validate=validate.Range(1, MAX_ID), **kwargs)


class In(Schema):
    """Input schemas refuse unknown fields.

    ``OPENAPI`` adds to the schema's OpenAPI document what marshmallow cannot say (rules
    across fields); the web layer's spec plugin merges those of the schema's classes.
    """

    OPENAPI: dict[str, Any] = {}

    class Meta:
        unknown = RAISE


class Patch(In):
    """A partial update: only the fields sent change; the parent id cannot; an update
    that changes nothing is refused, so a missing or empty body is a mistake caught."""

    OPENAPI = {"minProperties": 1}

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)

    @pre_load
    def _something(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, Mapping) and not data:
            raise ValidationError("send at least one field to change")
        return data


# -- agencies and clients ------------------------------------------------------------------


class AgencyIn(In):
    name = Text(max_length=200, required=True)


class AgencyOut(Schema):
    id = fields.Integer()
    name = fields.String()
    twilio_account_sid = fields.String(allow_none=True)
    default_forward_number = fields.String(allow_none=True)
    created_at = fields.DateTime()


# -- the carrier account and its numbers ----------------------------------------------------


class CarrierIn(In):
    """Credentials to connect: checked against the carrier before they are saved."""

    account_sid = fields.String(required=True, validate=validate.Length(max=64))
    auth_token = fields.String(required=True, load_only=True, validate=validate.Length(max=128))
    api_key_sid = fields.String(allow_none=True, validate=validate.Length(max=64))
    api_key_secret = fields.String(
        allow_none=True, load_only=True, validate=validate.Length(max=128)
    )


class RotationIn(In):
    auth_token = fields.String(required=True, load_only=True, validate=validate.Length(max=128))


class CarrierOut(Schema):
    """The account as it may be shown: ids, and every secret masked (``••••1a2b``)."""

    agency_id = fields.Integer()
    connected = fields.Boolean()
    account_sid = fields.String(allow_none=True)
    auth_token = fields.String(allow_none=True, metadata={"description": "masked"})
    rotating = fields.Boolean(metadata={"description": "the previous token is still accepted"})
    previous_auth_token = fields.String(allow_none=True, metadata={"description": "masked"})
    api_key_sid = fields.String(allow_none=True)
    api_key_secret = fields.String(allow_none=True, metadata={"description": "masked"})


class AvailableQuery(In):
    area_code = fields.String(validate=validate.Regexp(r"^[2-9][0-9]{2}$", error="3 digits"))
    region = fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$", error="2 letters"))
    locality = Text(max_length=100)
    contains = fields.String(
        validate=validate.Regexp(r"^[0-9A-Za-z*]{2,16}$", error="2 to 16 digits, letters or *")
    )
    toll_free = fields.Boolean(load_default=False)
    limit = QueryInt(load_default=20, validate=validate.Range(1, 50))


class AvailableOut(Schema):
    phone_number = fields.String()
    friendly_name = fields.String()
    locality = fields.String(allow_none=True)
    region = fields.String(allow_none=True)


class BuyIn(In):
    numbers = fields.List(Phone(), required=True, validate=validate.Length(1, 20))


class ImportOwnedQuery(In):
    dry_run = fields.Boolean(load_default=True)


class ImportChangeOut(Schema):
    number = fields.String()
    carrier_sid = fields.String()
    action = fields.String(metadata={"description": "add, point, unchanged or skip"})
    webhooks = fields.Dict(metadata={"description": "field: [now, after the import]"})
    reason = fields.String()


class AgencyPatch(Patch):
    default_forward_number = Phone(
        allow_none=True,
        metadata={
            "description": "where calls to numbers of the agency's account that Ringtrail "
            "does not route (and to suspended clients) go; null: the server's "
            "RINGTRAIL_DEFAULT_FORWARD_NUMBER",
            "example": "+14155550100",
        },
    )


class UsState(fields.String):
    """A US state's two-letter code, or DC; in capitals or small letters, capitals out."""

    CODES = sorted(US_STATES) + sorted(code.lower() for code in US_STATES)

    def __init__(self, **kwargs: Any):
        error = "a two-letter US state code, or DC"
        super().__init__(validate=validate.OneOf(self.CODES, error=error), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        self._validate(value)  # the code as sent, as the document's enum lists it
        return value.upper()


class ClientIn(In):
    """A client. Rules across fields (notice, consent mode, HIPAA): accounts/configuration."""

    name = Text(max_length=200, required=True)
    business_number = Phone(required=True, metadata={"example": "+14155550100"})
    timezone = Timezone(load_default="America/New_York")
    us_state = UsState(
        allow_none=True,
        metadata={"description": "The business's state: decides which consent modes it may use"},
    )
    record_calls = Flag(load_default=False)
    recording_notice = Text(
        max_length=500,
        allow_empty=True,
        metadata={"description": "Said before anything is recorded; required while recording"},
    )
    consent_mode = fields.String(
        validate=validate.OneOf(CONSENT_MODES),
        metadata={"description": "one_party only outside all-party states"},
    )
    transcribe = Flag()
    whisper = Flag(
        metadata={"description": "Tell the person answering the call's source (unrecorded calls)"}
    )
    business_hours = BusinessHours(
        allow_none=True,
        metadata={
            "description": "Per day mon..sun, 24-hour [start, end] ranges in the client's "
            "time zone, each starting before it ends (24:00 may only end one), none "
            "overlapping another of its day; a day left out is closed; null means always open",
            "example": {"mon": [["09:00", "17:00"]]},
            **BusinessHours.SHAPE,
        },
    )
    after_hours_number = Phone(allow_none=True)
    voicemail = Flag()
    voicemail_prompt = Text(max_length=500)
    hipaa = Flag(
        metadata={"description": "No recording, transcription or voicemail; hashed callers"}
    )
    suspended = Flag(load_default=False)


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
    transcribe = Flag()
    whisper = fields.Boolean()
    business_hours = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.List(fields.String())),
        allow_none=True,
    )
    after_hours_number = fields.String(allow_none=True)
    voicemail = Flag()
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
    honor_dnt = Flag(load_default=False)
    share_subdomains = Flag(
        load_default=False,
        metadata={"description": "Share the visit across the allowed origins' subdomains"},
    )


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
    share_subdomains = fields.Boolean()
    created_at = fields.DateTime()


# -- pools ------------------------------------------------------------------------------


MAX_VANITY_TEXTS = 10
# A vanity text: letters and digits, with the separators people write between them; at
# least one letter (a plain number is a business number) and three digits.
VANITY_TEXT = re.compile(r"[0-9A-Za-z+(][0-9A-Za-z ().+-]{2,38}[0-9A-Za-z)]")


class VanityText(fields.String):
    """A text on the page that stands for a business number: "239-400-FREE"."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = " ".join(str(super()._deserialize(value, attr, data, **kwargs)).split())
        if (
            not VANITY_TEXT.fullmatch(text)
            or not re.search(r"[A-Za-z]", text)
            or len(re.findall(r"\d", text)) < 3
        ):
            raise ValidationError(
                "a vanity text is 4 to 40 letters, digits, spaces and ( ) . + -, with a letter"
                " and at least 3 digits, e.g. 239-400-FREE"
            )
        return text


def Override(**kwargs: Any) -> fields.Boolean:  # noqa: N802 (reads as a type)
    """A recording override: true or false, or null to inherit from the level above."""
    kwargs.setdefault("metadata", {"description": "Record calls: true, false, or null to inherit"})
    return Flag(allow_none=True, **kwargs)


class PoolIn(In):
    site_id = Id(required=True)
    name = Text(max_length=200, allow_empty=True, load_default="")
    business_number = Phone(required=True)
    lease_seconds = Int(
        load_default=1800,
        validate=validate.Range(30, 86400, error="lease_seconds must be between 30 and 86400"),
    )
    match_window_seconds = Int(
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
    vanity_texts = fields.List(
        VanityText(),
        validate=validate.Length(max=MAX_VANITY_TEXTS, error="at most 10 vanity texts"),
        load_default=list,
        metadata={
            "description": 'Texts on the page that stand for the business number ("239-400-FREE")'
        },
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
    vanity_texts = fields.List(fields.String())
    numbers = fields.Integer(metadata={"description": "active tracking numbers"})
    created_at = fields.DateTime()


class Share(fields.Float):
    """A JSON number (no string, no true/false)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("must be a number")
        return super()._deserialize(value, attr, data, **kwargs)


class AutosizePatch(Patch):
    """A pool's autosizing settings (rules across fields: min_numbers ≤ max_numbers)."""

    enabled = Flag()
    dry_run = Flag(metadata={"description": "only record what the job would do"})
    target_overflow = Share(
        validate=validate.Range(0, 0.5, min_inclusive=False),
        metadata={"description": "share of peak visitors the pool may turn away (0.01: 1 %)"},
    )
    min_numbers = Int(validate=validate.Range(0, 10_000))
    max_numbers = Int(validate=validate.Range(1, 10_000))
    monthly_cap_minor = Int(
        allow_none=True,
        validate=validate.Range(0, 2**31 - 1),
        metadata={"description": "monthly spending cap in cents of currency; null: none"},
    )
    currency = fields.String(
        validate=validate.Regexp(r"^[A-Za-z]{3}$", error="a three-letter ISO currency code")
    )
    cooldown_seconds = Int(validate=validate.Range(0, 90 * 86400))


class AutosizeOut(Schema):
    pool_id = fields.Integer()
    enabled = fields.Boolean()
    dry_run = fields.Boolean()
    target_overflow = fields.Float()
    min_numbers = fields.Integer()
    max_numbers = fields.Integer()
    monthly_cap_minor = fields.Integer(allow_none=True)
    currency = fields.String()
    cooldown_seconds = fields.Integer()
    last_run_at = fields.String(allow_none=True)
    last_plan = fields.Dict(allow_none=True, metadata={"description": "the job's last plan"})


# -- tracking numbers -------------------------------------------------------------------


class NumberIn(In):
    # A source number needs a source.
    OPENAPI = {
        "anyOf": [
            {"properties": {"role": {"enum": [r for r in NUMBER_ROLES if r != "source"]}}},
            {"properties": {"source": {"type": "string"}}, "required": ["source"]},
        ]
    }

    pool_id = Id(required=True)
    number = Phone(required=True)
    role = fields.String(validate=validate.OneOf(NUMBER_ROLES), load_default="pool")
    source = Text(max_length=100, allow_none=True, load_default=None)
    active = Flag(load_default=True)
    record_calls = Override(load_default=None)


class NumberPatch(Patch):
    # A source number needs a source (a 409 when it is the stored source that is missing).
    OPENAPI = {
        "not": {
            "properties": {"role": {"enum": ["source"]}, "source": {"enum": [None]}},
            "required": ["role", "source"],
        }
    }

    role = fields.String(validate=validate.OneOf(NUMBER_ROLES))
    source = Text(max_length=100, allow_none=True)
    active = Flag()
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
    # An agency admin belongs to no single client; the other roles to exactly one.
    OPENAPI = {
        "oneOf": [
            {
                "properties": {"role": {"enum": ["agency_admin"]}, "client_id": {"enum": [None]}},
            },
            {
                "properties": {
                    "role": {"enum": [r for r in ROLES if r != "agency_admin"]},
                    "client_id": {"type": "integer"},
                },
                "required": ["client_id"],
            },
        ]
    }

    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = Text(max_length=200, allow_empty=True, load_default="")
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    client_id = Id(allow_none=True, load_default=None)
    # The rules (NIST SP 800-63B rev 4) are in accounts/passwords.py, for every door.
    password = fields.String(
        required=True, load_only=True, validate=[validate.Length(1, 1000), Plain()]
    )


class UserPatch(Patch):
    name = Text(max_length=200, allow_empty=True)
    password = fields.String(load_only=True, validate=[validate.Length(1, 1000), Plain()])
    active = Flag()


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

    page = QueryInt(load_default=1, validate=validate.Range(1, 100000))
    per_page = QueryInt(load_default=50, validate=validate.Range(1, MAX_PER_PAGE))


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
    pool_id = Id(query=True)


# -- calls ------------------------------------------------------------------------------


class CallQuery(PageQuery):
    client_id = Id(query=True)
    since = fields.AwareDateTime(metadata={"description": "ISO 8601, inclusive"})
    until = fields.AwareDateTime(metadata={"description": "ISO 8601, exclusive"})
    q = Text(
        max_length=200,
        allow_empty=True,
        metadata={
            "description": "Search, case-insensitive: any part of the caller's or tracking "
            "number (digits), source, medium, campaign, keyword, landing page and title, "
            "referrer or client name. A client in HIPAA mode keeps no caller numbers: its "
            "callers are found by the whole number only (through its keyed hash)."
        },
    )
    source = Text(
        max_length=200,
        allow_empty=True,
        metadata={"description": f"Exactly, whatever its case; {NONE_VALUE}: not set"},
    )
    medium = Text(
        max_length=200,
        allow_empty=True,
        metadata={"description": f"Exactly, whatever its case; {NONE_VALUE}: not set"},
    )
    campaign = Text(
        max_length=200, allow_empty=True, metadata={"description": f"{NONE_VALUE}: not set"}
    )
    keyword = Text(
        max_length=200, allow_empty=True, metadata={"description": f"{NONE_VALUE}: not set"}
    )
    landing = Text(
        max_length=200,
        allow_empty=True,
        metadata={"description": f"The landing page's path; {NONE_VALUE}: no visit"},
    )
    referrer = Text(
        max_length=200,
        allow_empty=True,
        metadata={"description": f"The referrer's domain, or (direct); {NONE_VALUE}: no visit"},
    )
    touch = fields.String(
        validate=validate.OneOf(TOUCHES),
        metadata={
            "description": "Which visit source, medium, campaign, keyword, landing and "
            "referrer read: the call's own (last, default) or the caller's first "
            "attributed call's (first), as the source report counts them"
        },
    )
    tracking = Text(
        max_length=40,
        allow_empty=True,
        metadata={"description": "The tracking number called: a whole number, or digits"},
    )
    status = fields.String(validate=validate.OneOf(STATUSES))
    caller = fields.String(
        validate=validate.OneOf(CALLER_KINDS),
        metadata={"description": "first: the caller's first call to the client; repeat"},
    )
    confidence = fields.String(validate=validate.OneOf(CONFIDENCES))
    sort = fields.String(
        validate=validate.OneOf([*SORTS, *(f"-{k}" for k in SORTS)]),
        metadata={"description": "A column; a leading - sorts descending (default -started_at)"},
    )


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
        validate=[validate.Length(max=64), Plain()],
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
    duration_seconds = Int(allow_none=True, load_default=None, validate=validate.Range(0, 86400))
    answered = Flag(allow_none=True, load_default=None)


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
    caller_kind = fields.String(
        allow_none=True,
        metadata={
            "description": "first: the caller's first call to this client; repeat: not the "
            "first; null: a withheld number, or a call of no client"
        },
    )
    attribution = fields.String(
        metadata={"description": "the confidence in plain words, as the dashboard shows it"}
    )
    route_kind = fields.String(
        metadata={
            "description": "how the call was answered: normal, overflow, after_hours, "
            "voicemail, unknown_number (a number of the agency's account that Ringtrail "
            "does not route: no client), suspended, fallback (only the Fallback URL "
            "was reached), or blocked (refused: the client blocked the caller)"
        }
    )
    route = fields.String(metadata={"description": "the route kind in a few words"})
    outcome = fields.Nested(lambda: OutcomeOut())


class CallDetailOut(CallOut):
    visit = fields.Nested(VisitOut, allow_none=True)
    caller_calls = fields.List(
        fields.Nested(CallOut),
        metadata={
            "description": "the same caller's other calls to the same client, newest first "
            "(matched by the keyed hash of the number, so in HIPAA mode too)"
        },
    )
    candidates = fields.List(
        fields.Nested(VisitOut),
        metadata={"description": "an ambiguous call: every visit that could have made it"},
    )


# -- outcomes, rules and block lists ----------------------------------------------------------


class CallValue(Schema):
    """A value: an amount in minor units (cents) of a three-letter currency."""

    class Meta:
        unknown = RAISE

    amount_minor = Int(required=True, validate=validate.Range(0, 2**31 - 1))
    currency = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z]{3}$", error="a three-letter ISO currency code"),
    )


class NoteOut(Schema):
    id = fields.Integer()
    author = fields.String()
    body = fields.String()
    at = fields.DateTime()


class OutcomeOut(Schema):
    tags = fields.List(fields.String())
    lead_status = fields.String(metadata={"enum": list(LEAD_STATUSES)})
    value = fields.Nested(CallValue, allow_none=True)
    blocked = fields.Boolean(metadata={"description": "refused: the client blocked the caller"})
    sources = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "who set tags, lead_status, value: manual, rule or block"},
    )
    notes = fields.List(fields.Nested(NoteOut))


class CallPatch(Patch):
    """An outcome change: the whole tag list, or tags to add and remove; the lead status;
    the value (null clears it); a note to add. Tags come from the client's vocabulary."""

    OPENAPI = {
        "not": {
            "anyOf": [{"required": ["tags", "add_tags"]}, {"required": ["tags", "remove_tags"]}]
        }
    }

    tags = fields.List(Text(max_length=TAG_MAX), validate=validate.Length(max=50))
    add_tags = fields.List(Text(max_length=TAG_MAX), validate=validate.Length(max=50))
    remove_tags = fields.List(Text(max_length=TAG_MAX), validate=validate.Length(max=50))
    lead_status = fields.String(validate=validate.OneOf(LEAD_STATUSES))
    value = fields.Nested(CallValue, allow_none=True)
    note = Text(max_length=NOTE_MAX)

    def __init__(self, *args: Any, **kwargs: Any):
        # Not partial: no field here is required, and a value needs both of its parts
        # (a partial load would let a nested value through with one).
        kwargs.setdefault("partial", False)
        super().__init__(*args, **kwargs)

    @validates_schema
    def _one_way(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "tags" in data and ("add_tags" in data or "remove_tags" in data):
            raise ValidationError("send tags, or add_tags and remove_tags, not both")


class BulkOutcomeIn(CallPatch):
    OPENAPI = {"minProperties": 2}

    call_ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=500))

    @validates_schema
    def _a_change(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if set(data) <= {"call_ids"}:
            raise ValidationError("send at least one change with call_ids")


class BulkOutcomeOut(Schema):
    changed = fields.List(fields.Integer(), metadata={"description": "ids of calls changed"})


class HistoryOut(Schema):
    at = fields.String()
    actor_type = fields.String()
    actor = fields.String()
    action = fields.String(metadata={"description": "outcome, note or rules"})
    details = fields.Dict(metadata={"description": "changes: {field: [old, new]}, source"})


class TagIn(In):
    name = Text(max_length=TAG_MAX, required=True)


class TagOut(Schema):
    id = fields.Integer()
    client_id = fields.Integer()
    name = fields.String()
    created_at = fields.DateTime()


class ConditionIn(In):
    kind = fields.String(required=True, validate=validate.OneOf(RULE_CONDITIONS))
    value = fields.Raw(
        required=True,
        metadata={
            "description": "min_duration: seconds; answered, first_time_caller: true or "
            "false; business_hours: inside or outside; caller_state: two letters; "
            "tracking_number: a phone number; source, medium, campaign, keyword: text "
            "(equal, ignoring case); landing_page: text the landing URL contains"
        },
    )


class ActionIn(In):
    kind = fields.String(required=True, validate=validate.OneOf(RULE_ACTIONS))
    tag = Text(max_length=TAG_MAX, metadata={"description": "add_tag: one of the client's tags"})
    lead_status = fields.String(validate=validate.OneOf(LEAD_STATUSES))
    amount_minor = Int(validate=validate.Range(0, 2**31 - 1))
    currency = fields.String(
        validate=validate.Regexp(r"^[A-Za-z]{3}$", error="a three-letter ISO currency code")
    )

    @validates_schema
    def _complete(self, data: dict[str, Any], **_kwargs: Any) -> None:
        needs = {
            "add_tag": ("tag",),
            "set_lead_status": ("lead_status",),
            "set_value": ("amount_minor", "currency"),
        }[data["kind"]]
        missing = [n for n in needs if n not in data]
        if missing:
            raise ValidationError(f"{data['kind']} needs {' and '.join(missing)}")
        extra = set(data) - set(needs) - {"kind"}
        if extra:
            raise ValidationError(f"{data['kind']} takes no {', '.join(sorted(extra))}")


class RuleIn(In):
    name = Text(max_length=200, allow_empty=True, load_default="")
    position = Int(validate=validate.Range(0, 10_000), load_default=None)
    enabled = Flag(load_default=True)
    conditions = fields.List(
        fields.Nested(ConditionIn),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "all must hold; none: every completed call"},
    )
    actions = fields.List(
        fields.Nested(ActionIn), required=True, validate=validate.Length(min=1, max=20)
    )


class RulePatch(Patch):
    name = Text(max_length=200, allow_empty=True)
    position = Int(validate=validate.Range(0, 10_000))
    enabled = Flag()
    conditions = fields.List(fields.Nested(ConditionIn), validate=validate.Length(max=20))
    actions = fields.List(fields.Nested(ActionIn), validate=validate.Length(min=1, max=20))


class RuleOut(Schema):
    id = fields.Integer()
    client_id = fields.Integer()
    name = fields.String()
    position = fields.Integer()
    enabled = fields.Boolean()
    conditions = fields.List(fields.Dict())
    actions = fields.List(fields.Dict())


class BlockIn(In):
    OPENAPI = {"oneOf": [{"required": ["number"]}, {"required": ["call_id"]}]}

    number = Phone(metadata={"description": "the caller's number"})
    call_id = Id(metadata={"description": "block the caller of this call (HIPAA too)"})
    reason = Text(max_length=200, allow_empty=True, load_default="")

    @validates_schema
    def _one(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("number" in data) == ("call_id" in data):
            raise ValidationError("send number or call_id (one of them)")


class BlockOut(Schema):
    id = fields.Integer()
    client_id = fields.Integer()
    number = fields.String(
        allow_none=True, metadata={"description": "kept only outside HIPAA mode"}
    )
    caller = fields.String(metadata={"description": "the number, or a short form of its hash"})
    reason = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()


class ErrorOut(Schema):
    error = fields.String(required=True)
    rows = fields.List(fields.Nested(ImportRowError))

    class Meta:
        unknown = EXCLUDE


# -- privacy ----------------------------------------------------------------------------


# A number as people write it: digits (6 to 15 of them) and the usual separators.
_SEPARATORS = r"[ ().\-\u2010-\u2015\u2212/]"
CALLER = rf"^\+?{_SEPARATORS}*(?:[0-9]{_SEPARATORS}*){{6,15}}$"


class ErasureIn(In):
    OPENAPI = {"oneOf": [{"required": ["caller"]}, {"required": ["session"]}]}

    caller = fields.String(
        validate=[
            validate.Length(max=40),
            validate.Regexp(CALLER, error="caller must be a phone number of 6 to 15 digits"),
        ],
        metadata={"description": "The caller's number, any format", "example": "+12125550143"},
    )
    session = fields.String(
        validate=validate.Regexp(
            r"^[A-Za-z0-9_-]{8,40}$",
            error="session must be a visitor session id (8 to 40 letters, digits, - or _)",
        ),
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


class RetentionIn(Patch):
    call_days = Int(validate=validate.Range(1, RETENTION_MAX_DAYS))
    snapshot_days = Int(validate=validate.Range(1, RETENTION_MAX_DAYS))
    recording_days = Int(validate=validate.Range(1, RETENTION_MAX_DAYS))


class RetentionOut(Schema):
    client_id = fields.Integer()
    call_days = fields.Integer()
    snapshot_days = fields.Integer()
    recording_days = fields.Integer()


# -- notifications (outbound/preferences.py) ---------------------------------------------

SLACK_URL = r"^https?://[A-Za-z0-9.-]*[A-Za-z0-9](:[0-9]{1,5})?(/[^\s]*)?$"


class NotificationsPatch(Patch):
    """Change some of one user's notification preferences for one client."""

    new_calls = fields.Boolean(metadata={"description": "every completed call"})
    missed_calls = fields.Boolean(metadata={"description": "calls nobody answered"})
    first_time_callers = fields.Boolean(
        metadata={"description": "callers with no earlier call to the client"}
    )
    qualified_leads = fields.Boolean(metadata={"description": "calls marked qualified"})
    daily_summary = fields.Boolean(metadata={"description": "yesterday's figures, each day"})
    weekly_summary = fields.Boolean(metadata={"description": "last week's figures, Mondays"})
    by_email = fields.Boolean(metadata={"description": "to the user's e-mail address"})
    by_slack = fields.Boolean(metadata={"description": "to the client's Slack URL"})


class NotificationsOut(Schema):
    client_id = fields.Integer()
    client_name = fields.String()
    new_calls = fields.Boolean()
    missed_calls = fields.Boolean()
    first_time_callers = fields.Boolean()
    qualified_leads = fields.Boolean()
    daily_summary = fields.Boolean()
    weekly_summary = fields.Boolean()
    by_email = fields.Boolean()
    by_slack = fields.Boolean()


class ClientNotificationsPatch(Patch):
    """A client's Slack incoming-webhook URL (null removes it) and the local hour its
    summaries go out."""

    slack_webhook_url = fields.String(
        allow_none=True,
        validate=[validate.Length(max=500), validate.Regexp(SLACK_URL)],
        metadata={"description": "https://hooks.slack.com/services/...; stored sealed"},
    )
    summary_hour = Int(validate=validate.Range(0, 23))


class ClientNotificationsOut(Schema):
    client_id = fields.Integer()
    slack = fields.Boolean(metadata={"description": "whether a Slack URL is set (never shown)"})
    summary_hour = fields.Integer()
    email_enabled = fields.Boolean(metadata={"description": "RINGTRAIL_SMTP_URL is set"})
