"""Marshmallow schemas of the ad platform uploads API (``/api/v1/clients/ID/ad-platforms``
and ``/api/v1/calls/ID/uploads``). They become components of the OpenAPI document like
those of :mod:`ringtrail.web.schemas`."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ringtrail.outbound.platforms.log import STATUSES
from ringtrail.outbound.platforms.rules import CONFIDENCE_ORDER, PLATFORMS
from ringtrail.terms import LEAD_STATUSES
from ringtrail.web.schemas import Flag, In, Int, Text

SECRET = {"description": "write-only: stored sealed, shown masked; left out: kept"}


class DestinationIn(In):
    """A destination's settings; the platform is in the URL. Google Ads needs
    account_id, conversion_action_id, oauth_client_id, oauth_client_secret and
    refresh_token (once); GA4 needs measurement_id and api_secret (once)."""

    enabled = Flag()
    lead_statuses = fields.List(
        fields.String(validate=validate.OneOf(LEAD_STATUSES)),
        validate=validate.Length(max=len(LEAD_STATUSES)),
        metadata={"description": "a call with any of these lead statuses counts"},
    )
    tags = fields.List(
        Text(max_length=60),
        validate=validate.Length(max=50),
        metadata={"description": "a call with any of these tags counts"},
    )
    min_duration_seconds = Int(
        validate=validate.Range(0, 86_400),
        allow_none=True,
        metadata={"description": "a call at least this long counts; null: no minimum"},
    )
    min_confidence = fields.String(validate=validate.OneOf(CONFIDENCE_ORDER))
    default_value_minor = Int(validate=validate.Range(0, 10**12), allow_none=True)
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$"))
    account_id = fields.String(
        validate=validate.Regexp(r"^[0-9]{3}-?[0-9]{3}-?[0-9]{4}$"),
        metadata={"description": "the Google Ads operating account (customer id)"},
    )
    login_account_id = fields.String(
        validate=validate.Regexp(r"^[0-9]{3}-?[0-9]{3}-?[0-9]{4}$"),
        allow_none=True,
        metadata={"description": "a manager account the credentials log in to"},
    )
    conversion_action_id = fields.String(validate=validate.Regexp(r"^[0-9]{1,20}$"))
    oauth_client_id = Text(max_length=200)
    oauth_client_secret = Text(max_length=200, metadata=SECRET)
    refresh_token = Text(max_length=512, metadata=SECRET)
    measurement_id = fields.String(validate=validate.Regexp(r"^G-[A-Z0-9]{4,16}$"))
    api_secret = Text(max_length=200, metadata=SECRET)
    event_name = fields.String(validate=validate.Regexp(r"^[A-Za-z][A-Za-z0-9_]{0,39}$"))


class DestinationOut(Schema):
    id = fields.Integer()
    client_id = fields.Integer()
    platform = fields.String(validate=validate.OneOf(PLATFORMS))
    enabled = fields.Boolean()
    lead_statuses = fields.List(fields.String())
    tags = fields.List(fields.String())
    min_duration_seconds = fields.Integer(allow_none=True)
    min_confidence = fields.String()
    default_value_minor = fields.Integer(allow_none=True)
    currency = fields.String()
    account_id = fields.String(allow_none=True)
    login_account_id = fields.String(allow_none=True)
    conversion_action_id = fields.String(allow_none=True)
    oauth_client_id = fields.String(allow_none=True)
    oauth_client_secret = fields.String(allow_none=True, metadata={"description": "masked"})
    refresh_token = fields.String(allow_none=True, metadata={"description": "masked"})
    measurement_id = fields.String(allow_none=True)
    api_secret = fields.String(allow_none=True, metadata={"description": "masked"})
    event_name = fields.String()
    paused = fields.Boolean()
    paused_at = fields.DateTime(allow_none=True)
    paused_reason = fields.String()
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "log rows by status"},
    )


class TestOut(Schema):
    ok = fields.Boolean()
    result = fields.String(metadata={"description": "ok, retry, auth or rejected"})
    reason = fields.String()


class UploadOut(Schema):
    destination_id = fields.Integer()
    platform = fields.String()
    kind = fields.String(metadata={"description": "conversion or adjustment"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    reason = fields.String(metadata={"description": "a skip's code, or the platform's reason"})
    reason_words = fields.String()
    value_minor = fields.Integer(allow_none=True)
    currency = fields.String(allow_none=True)
    attempts = fields.Integer()
    sent_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()
