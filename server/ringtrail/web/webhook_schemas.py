"""Marshmallow schemas of webhook endpoints, their delivery logs, and the event bodies
Ringtrail sends (``WebhookEvent``: registered in the OpenAPI document's components, since
an OpenAPI 3.0 document has no place for requests the API makes itself)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ringtrail.outbound.delivery import STATUSES
from ringtrail.outbound.payloads import EVENTS, TEST_EVENT
from ringtrail.outbound.webhooks import STATES, URL_MAX
from ringtrail.terms import CONFIDENCES, LEAD_STATUSES
from ringtrail.web.schemas import CallValue, Flag, Id, In, PageQuery, Patch, Text, VisitOut

EVENT_LIST = fields.List(
    fields.String(validate=validate.OneOf(EVENTS)),
    validate=validate.Length(min=1, max=len(EVENTS)),
    metadata={"description": "Events to receive: " + ", ".join(EVENTS)},
)


class EndpointIn(In):
    url = Text(
        max_length=URL_MAX,
        required=True,
        metadata={"description": "https:// (http:// only to a private address, if allowed)"},
    )
    description = Text(max_length=200, allow_empty=True, load_default="")
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENTS)),
        validate=validate.Length(min=1, max=len(EVENTS)),
        load_default=lambda: list(EVENTS),
        metadata={"description": "Events to receive (default all): " + ", ".join(EVENTS)},
    )
    client_id = Id(
        allow_none=True,
        load_default=None,
        metadata={"description": "One client's calls only; omit for every client's"},
    )
    include_caller_number = Flag(
        load_default=False,
        metadata={"description": "Put the caller's number in bodies (never in HIPAA mode)"},
    )


class EndpointPatch(Patch):
    url = Text(max_length=URL_MAX)
    description = Text(max_length=200, allow_empty=True)
    events = EVENT_LIST
    include_caller_number = Flag()
    enabled = Flag(
        metadata={
            "description": "true: enable (a paused or disabled endpoint gets what waited); "
            "false: disable (nothing new is queued for it)"
        }
    )


class EndpointOut(Schema):
    id = fields.Integer()
    agency_id = fields.Integer()
    client_id = fields.Integer(allow_none=True)
    url = fields.String()
    description = fields.String()
    events = fields.List(fields.String())
    include_caller_number = fields.Boolean()
    state = fields.String(metadata={"enum": list(STATES)})
    state_reason = fields.String()
    state_changed_at = fields.DateTime(allow_none=True)
    failing_since = fields.DateTime(
        allow_none=True, metadata={"description": "first failure since the last success"}
    )
    last_success_at = fields.DateTime(allow_none=True)
    previous_secret_until = fields.DateTime(
        allow_none=True, metadata={"description": "the previous secret signs until then"}
    )
    created_by = fields.String()
    created_at = fields.DateTime()


class NewEndpointOut(EndpointOut):
    secret = fields.String(
        metadata={"description": "The signing secret (whsec_...). Shown this once only."}
    )


class SecretOut(Schema):
    secret = fields.String(metadata={"description": "The new secret. Shown this once only."})
    previous_secret_until = fields.DateTime(
        metadata={"description": "Until then, requests carry a signature with each secret"}
    )


class DeliveryQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(STATUSES))


class DeliveryOut(Schema):
    id = fields.Integer()
    endpoint_id = fields.Integer()
    call_id = fields.Integer(allow_none=True)
    event = fields.String(metadata={"enum": [*EVENTS, TEST_EVENT]})
    message_id = fields.String(metadata={"description": "the webhook-id header"})
    status = fields.String(metadata={"enum": list(STATUSES)})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    response_code = fields.Integer(allow_none=True)
    latency_ms = fields.Integer(allow_none=True)
    error = fields.String()
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class AttemptOut(Schema):
    at = fields.DateTime()
    response_code = fields.Integer(allow_none=True, metadata={"description": "null: no answer"})
    latency_ms = fields.Integer(allow_none=True)
    error = fields.String()
    manual = fields.Boolean(metadata={"description": "sent again by hand"})


class DeliveryDetailOut(DeliveryOut):
    log = fields.List(fields.Nested(AttemptOut), metadata={"description": "every attempt"})
    payload = fields.Dict(metadata={"description": "the body sent (a WebhookEvent)"})


# -- what receivers get -------------------------------------------------------------------


class WebhookCall(Schema):
    id = fields.Integer()
    provider = fields.String()
    call_id = fields.String(metadata={"description": "the carrier's id of the call"})
    client_id = fields.Integer(allow_none=True)
    site_id = fields.Integer(allow_none=True)
    pool_id = fields.Integer(allow_none=True)
    tracking_number = fields.String()
    caller_number = fields.String(
        allow_none=True,
        metadata={"description": "only when the endpoint asks for it; always null in HIPAA mode"},
    )
    started_at = fields.DateTime(allow_none=True)
    status = fields.String()
    answered = fields.Boolean(allow_none=True)
    duration_seconds = fields.Integer(allow_none=True)
    talk_seconds = fields.Integer(allow_none=True)
    route_kind = fields.String()
    route = fields.String()
    has_recording = fields.Boolean()


class WebhookAttribution(Schema):
    confidence = fields.String(metadata={"enum": list(CONFIDENCES)})
    words = fields.String(metadata={"description": "the confidence in plain words"})
    source = fields.String()
    medium = fields.String()
    campaign = fields.String()
    term = fields.String()
    repeat_of = fields.Integer(allow_none=True)
    candidates = fields.Integer(metadata={"description": "an ambiguous call: visits that could"})


class WebhookOutcome(Schema):
    tags = fields.List(fields.String())
    lead_status = fields.String(metadata={"enum": list(LEAD_STATUSES)})
    value = fields.Nested(CallValue, allow_none=True)
    blocked = fields.Boolean()
    sources = fields.Dict(keys=fields.String(), values=fields.String())


class WebhookEventData(Schema):
    call = fields.Nested(WebhookCall)
    attribution = fields.Nested(WebhookAttribution)
    outcome = fields.Nested(WebhookOutcome)
    visit = fields.Nested(VisitOut, allow_none=True)
    changed = fields.String(
        allow_none=True,
        metadata={"description": "call.updated: outcome or recording; otherwise null"},
    )


class WebhookEvent(Schema):
    """The body of every webhook request (Standard Webhooks: headers webhook-id,
    webhook-timestamp and webhook-signature, HMAC-SHA256 of "id.timestamp.body" with the
    endpoint's secret). The same webhook-id on every retry: handle each id once."""

    type = fields.String(metadata={"enum": [*EVENTS, TEST_EVENT]})
    timestamp = fields.DateTime(metadata={"description": "when the event happened"})
    data = fields.Nested(WebhookEventData)
