"""Marshmallow schemas of the reports API (``/api/v1/reports/...``): its query strings
and its answers. They become components of the OpenAPI document like those of
:mod:`ringtrail.web.schemas`."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ringtrail.reports.periods import COMPARISONS, PRESETS
from ringtrail.reports.queries import DIMENSIONS, TOUCHES
from ringtrail.terms import CONFIDENCES
from ringtrail.web.schemas import Id, In

RATE = {"description": "A fraction: 0.25 is 25 %; null where there is nothing to divide by"}
CHANGE = {
    "description": "Relative change from the compared period: 0.25 is +25 %; null "
    "when there is no comparison or the compared figure was 0"
}


class PeriodQuery(In):
    """The period and comparison, read the same way as the dashboard's."""

    preset = fields.String(
        validate=validate.OneOf(tuple(PRESETS)),
        metadata={
            "description": "A named period in the client's time zone (default "
            "last_30_days); from/to make a custom period instead"
        },
    )
    start = fields.Date(data_key="from", metadata={"description": "First local day, inclusive"})
    end = fields.Date(data_key="to", metadata={"description": "Last local day, inclusive"})
    compare = fields.String(
        load_default="none",
        validate=validate.OneOf(tuple(COMPARISONS)),
        metadata={
            "description": "previous: the same number of days just before; "
            "last_year: the same dates a year earlier"
        },
    )


class SourceQuery(PeriodQuery):
    dimension = fields.String(load_default="source", validate=validate.OneOf(tuple(DIMENSIONS)))
    touch = fields.String(load_default="last", validate=validate.OneOf(TOUCHES))


class ScopeQuery(PeriodQuery):
    client_id = Id(query=True, metadata={"description": "Only this client"})


class PoolHealthQuery(ScopeQuery):
    overflow = fields.Float(
        load_default=0.01,
        validate=validate.Range(0.001, 0.5),
        metadata={
            "description": "Share of calls you accept not matching to a visit "
            "(0.01: keep 99 % matched)"
        },
    )


class PeriodOut(Schema):
    preset = fields.String()
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    timezone = fields.String()


class ComparisonOut(PeriodOut):
    compare = fields.String()


class FiguresOut(Schema):
    calls = fields.Integer()
    unique_callers = fields.Integer()
    first_time_callers = fields.Integer()
    answered = fields.Integer()
    answered_rate = fields.Float(allow_none=True, metadata=RATE)
    average_duration = fields.Float(
        allow_none=True, metadata={"description": "Seconds of talk time of the answered calls"}
    )
    with_click_id = fields.Integer()
    visits = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Visits counted with "
            "this value; null for a dimension visits are not counted by"
        },
    )
    visits_called = fields.Integer(
        allow_none=True, metadata={"description": "Of those visits, how many led to a call"}
    )
    conversion_rate = fields.Float(
        allow_none=True,
        metadata={"description": "Visits that called: visits_called over visits, never above 1"},
    )


class ChangeOut(Schema):
    calls = fields.Float(allow_none=True, metadata=CHANGE)
    unique_callers = fields.Float(allow_none=True, metadata=CHANGE)
    first_time_callers = fields.Float(allow_none=True, metadata=CHANGE)
    answered_rate = fields.Float(allow_none=True, metadata=CHANGE)
    visits = fields.Float(allow_none=True, metadata=CHANGE)
    conversion_rate = fields.Float(allow_none=True, metadata=CHANGE)
    average_duration = fields.Float(allow_none=True, metadata=CHANGE)


class ValueOut(Schema):
    currency = fields.String(metadata={"description": "ISO 4217 code"})
    amount_minor = fields.Integer(metadata={"description": "In the currency's minor unit"})


class OutcomesOut(Schema):
    qualified_leads = fields.Integer(
        metadata={"description": "Calls whose lead status is qualified or customer"}
    )
    value = fields.List(fields.Nested(ValueOut), metadata={"description": "One per currency"})
    calls_by_tag = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "Tag → calls"}
    )


class SourceRowOut(Schema):
    label = fields.String(
        metadata={"description": 'The value; "(not set)" when the visit had none'}
    )
    calls_url = fields.String(
        metadata={
            "description": "The dashboard's call log, filtered to exactly the calls this row counts"
        }
    )
    figures = fields.Nested(FiguresOut)
    previous = fields.Nested(FiguresOut, allow_none=True)
    change = fields.Nested(ChangeOut, allow_none=True)
    outcomes = fields.Nested(OutcomesOut)


class SourceReportOut(Schema):
    client_id = fields.Integer()
    dimension = fields.String()
    touch = fields.String()
    period = fields.Nested(PeriodOut)
    comparison = fields.Nested(ComparisonOut, allow_none=True)
    rows = fields.List(fields.Nested(SourceRowOut))
    total = fields.Nested(SourceRowOut)
    blocked_calls = fields.Integer(
        metadata={"description": "Calls refused because the client blocked the caller"}
    )


class DayOut(Schema):
    day = fields.Date()
    calls = fields.Integer()
    answered = fields.Integer()


class SeriesOut(Schema):
    client_id = fields.Integer()
    period = fields.Nested(PeriodOut)
    comparison = fields.Nested(ComparisonOut, allow_none=True)
    days = fields.List(fields.Nested(DayOut))
    previous = fields.List(
        fields.Nested(DayOut),
        allow_none=True,
        metadata={"description": "The compared period's days, day i against day i of days"},
    )


class ClientFiguresOut(Schema):
    calls = fields.Integer()
    answered = fields.Integer()
    answered_rate = fields.Float(allow_none=True, metadata=RATE)
    first_time_callers = fields.Integer()
    with_click_id = fields.Integer()
    matched = fields.Integer(
        metadata={"description": "Calls matched to a visit (exact, late or repeat)"}
    )
    matched_rate = fields.Float(allow_none=True, metadata=RATE)
    top_source = fields.String(allow_none=True)
    pools_short = fields.Integer(
        metadata={"description": "Pools with fewer numbers than the target needs"}
    )


class OverviewRowOut(Schema):
    client_id = fields.Integer()
    name = fields.String()
    timezone = fields.String()
    figures = fields.Nested(ClientFiguresOut)
    previous = fields.Nested(ClientFiguresOut, allow_none=True)
    change = fields.Dict(
        keys=fields.String(), values=fields.Float(allow_none=True), allow_none=True, metadata=CHANGE
    )


class OverviewOut(Schema):
    preset = fields.String()
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    compare = fields.String()
    previous_start = fields.Date(data_key="previous_from", allow_none=True)
    previous_end = fields.Date(data_key="previous_to", allow_none=True)
    clients = fields.List(fields.Nested(OverviewRowOut))
    totals = fields.Dict(keys=fields.String(), values=fields.Integer())
    previous_totals = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True)


class PoolHealthOut(Schema):
    pool_id = fields.Integer()
    name = fields.String()
    site = fields.String()
    client = fields.String()
    client_id = fields.Integer()
    numbers = fields.Integer(attribute="size")
    leased_now = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Numbers leased right now (live); null when Redis does not answer"
        },
    )
    recommended = fields.Integer(
        metadata={"description": "Numbers the period's busiest hours need (as in the CSV)"}
    )
    needed = fields.Integer(
        metadata={
            "description": "Numbers the pool needs to keep the target share of calls matched "
            "to a visit: the recommendation, and never fewer than are leased now"
        }
    )
    change = fields.Integer(metadata={"description": "Numbers to add (negative: that could go)"})
    advice = fields.String(metadata={"description": "The recommendation in plain words"})
    overflow = fields.Float(
        metadata={
            "description": "The target: share of visitors the "
            "pool may turn away at its busiest hour"
        }
    )
    expected_overflow = fields.Float(metadata={"description": "That share at the current size"})
    peak_leases = fields.Integer()
    average_leases = fields.Float(allow_none=True)
    new_leases = fields.Integer()
    exhausted = fields.Integer()
    peak_hour = fields.DateTime(allow_none=True)
    peak_arrivals = fields.Integer(metadata={"description": "Visitors per hour sized for"})
    hold_seconds = fields.Float(
        metadata={"description": "Mean time a number is kept from others, resting included"}
    )
    load = fields.Float(metadata={"description": "Offered load at the peak, in Erlangs"})
    calls = fields.Integer()
    confidence = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CONFIDENCES)), values=fields.Integer()
    )


class PoolHealthReportOut(Schema):
    period = fields.Nested(PeriodOut)
    pools = fields.List(fields.Nested(PoolHealthOut))
