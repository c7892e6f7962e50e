"""The call log: calls in scope, searched, filtered, sorted and paginated.

One service for the dashboard's call log, its CSV and ``GET /api/v1/calls``, so a filter
means the same wherever it is used.

- **Search** (``q``): case-insensitive, in anything the log shows (source, medium,
  campaign, keyword, landing page and title, referrer, client), in the tracking number
  and the caller's number by partial digits ("555 01" finds +14155550100), and by the
  caller's keyed hash when ``q`` is a whole number. A client in HIPAA mode keeps no
  caller numbers, only their keyed hash, so its callers are found by the whole number or
  not at all.
- **Drill-downs** (``source``, ``medium``, ``campaign``, ``keyword``, ``landing``,
  ``referrer`` with ``touch``) select exactly the calls a source-report row counts: they
  are matched against the labels :func:`queries.call_facts` gives each call, the very
  function the report groups by. ``__none__`` stands for "(not set)" (and, for landing
  pages and referrers, "(no visit)"). Source and medium match whatever their case.
- **Callers**: a call is its caller's ``first`` call to the client, or a ``repeat``;
  calls from withheld numbers are neither (as in the source report).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime

from sqlalchemy import and_, bindparam, case, func, literal, or_, select
from sqlalchemy.orm import Session

from ringtrail import hashing, phones
from ringtrail.errors import Invalid
from ringtrail.reports.queries import (
    CALLER_KEY,
    NO_VISIT,
    NOT_SET,
    TOUCHES,
    Period,
    Timezones,
    _in_period,
    call_facts,
)
from ringtrail.storage.models import Call, Client, VisitSnapshot
from ringtrail.terms import CALLER_KINDS, CONFIDENCES

NONE = "__none__"  # in a drill-down: the "(not set)" row
PER_PAGE_CHOICES = (25, 50, 100, 250)
DEFAULT_PER_PAGE = 50
STATUSES = ("answered", "missed")
MAX_TEXT = 200
MIN_DIGITS = 3  # fewer digits than this search text only, not numbers

# Report dimension -> drill-down parameter. "source_medium" drills down with both.
DRILL = {
    "source": "source",
    "medium": "medium",
    "campaign": "campaign",
    "keyword": "keyword",
    "landing_page": "landing",
    "referrer_domain": "referrer",
}
CASELESS = ("source", "medium")
SORTS = {
    "started_at": (Call.started_at,),
    "client": (Client.name,),
    "caller": (Call.caller_number,),
    "tracking": (Call.tracking_number,),
    "outcome": (Call.answered, Call.talk_seconds),
    "duration": (Call.duration_seconds,),
    "confidence": (Call.confidence,),
    "source": (Call.source, Call.medium),
    "campaign": (VisitSnapshot.campaign,),
    "keyword": (VisitSnapshot.term,),
    "landing": (VisitSnapshot.landing_url,),
    "referrer": (VisitSnapshot.referrer,),
}
DEFAULT_SORT = "-started_at"


@dataclass(frozen=True)
class CallFilter:
    """What the log is narrowed to and how it is ordered; empty fields filter nothing."""

    q: str = ""
    source: str = ""
    medium: str = ""
    campaign: str = ""
    keyword: str = ""
    landing: str = ""
    referrer: str = ""
    touch: str = "last"
    tracking: str = ""
    status: str = ""
    caller: str = ""
    confidence: str = ""
    sort: str = DEFAULT_SORT

    @property
    def drills(self) -> dict[str, str]:
        """The drill-down filters given, by report dimension."""
        return {dim: getattr(self, arg) for dim, arg in DRILL.items() if getattr(self, arg)}

    def as_args(self) -> dict[str, str]:
        """The filter as query parameters (defaults left out): a link is a saved view."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value and value != f.default:
                out[f.name] = value
        return out


def parse_filter(args: Mapping[str, str]) -> CallFilter:
    """A :class:`CallFilter` from query parameters; Invalid with the reason if one is bad."""
    values = {}
    for f in fields(CallFilter):
        raw = args.get(f.name)
        if raw is None:
            continue
        text = str(raw).strip()
        if len(text) > MAX_TEXT:
            raise Invalid(f"{f.name} is at most {MAX_TEXT} characters.")
        if any(ord(c) < 32 for c in text):
            raise Invalid(f"{f.name} must not hold control characters.")
        values[f.name] = text
    filt = CallFilter(**values)
    check_filter(filt)
    return replace(filt, touch=filt.touch or "last", sort=filt.sort or DEFAULT_SORT)


def check_filter(filt: CallFilter) -> None:
    """Invalid unless every choice is one of its allowed values."""
    choices = {
        "touch": ("", *TOUCHES),
        "status": ("", *STATUSES),
        "caller": ("", *CALLER_KINDS),
        "confidence": ("", *CONFIDENCES),
    }
    for name, allowed in choices.items():
        if getattr(filt, name) not in allowed:
            raise Invalid(f"{name} must be one of: {', '.join(a for a in allowed if a)}.")
    if filt.sort and filt.sort.removeprefix("-") not in SORTS:
        raise Invalid(f"sort must be one of: {', '.join(SORTS)} (a leading - sorts descending).")


@dataclass
class LogRow:
    """One call of the log with its visit, its client's name and its caller's kind."""

    call: Call
    visit: VisitSnapshot | None
    client_name: str
    caller_kind: str | None  # "first", "repeat", or None for a withheld number

    def __iter__(self):
        return iter((self.call, self.visit, self.client_name, self.caller_kind))


@dataclass
class CallPage:
    """One page of the call log."""

    rows: list[LogRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the log has (at least one)."""
        return max(1, math.ceil(self.total / self.per_page))


def _firsts(client_ids: Sequence[int]):
    """Each caller's first call to each client, over all time (as the source report)."""
    return (
        select(
            Call.client_id,
            CALLER_KEY.label("caller"),
            func.min(Call.started_at).label("first_at"),
        )
        .where(Call.client_id.in_(client_ids), CALLER_KEY.is_not(None))
        .group_by(Call.client_id, CALLER_KEY)
        .subquery()
    )


def _identifiable():
    """SQL for :func:`queries.identifiable`: a hash, or a number that is not withheld."""
    number = func.trim(Call.caller_number)
    return or_(
        Call.caller_hash.is_not(None),
        and_(
            Call.caller_number.is_not(None),
            func.lower(number).not_in(sorted(phones.WITHHELD_WORDS)),
            number.not_in(sorted(phones.WITHHELD_NUMBERS)),
        ),
    )


def _like(text: str) -> str:
    """A LIKE pattern finding ``text`` anywhere (``\\`` escapes)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(q: str):
    """The condition of a free-text search (see the module's docstring)."""
    text = q.lower()
    pattern = _like(text)
    shown = (
        Call.source,
        Call.medium,
        VisitSnapshot.campaign,
        VisitSnapshot.term,
        VisitSnapshot.landing_url,
        VisitSnapshot.landing_title,
        VisitSnapshot.referrer,
        Client.name,
    )
    conditions = [func.lower(col).like(pattern, escape="\\") for col in shown]
    digits = re.sub(r"\D", "", q)
    if len(digits) >= MIN_DIGITS and not re.search(r"[A-Za-z]", q):
        conditions.append(Call.caller_number.like(f"%{digits}%"))
        conditions.append(Call.tracking_number.like(f"%{digits}%"))
    hashed = hashing.caller_hash(q) if len(digits) >= 7 else None
    if hashed:
        conditions.append(Call.caller_hash == hashed)
    return or_(*conditions)


def _tracking(value: str):
    e164 = phones.normalise(value)
    if e164 is not None and e164.startswith("+"):
        return Call.tracking_number == e164
    digits = re.sub(r"\D", "", value)
    return Call.tracking_number.like(f"%{digits}%") if digits else literal(False)


def drill_args(dimension: str, label: str) -> dict[str, str]:
    """The call log's parameters that select exactly the calls of one source-report row."""

    def value(text: str) -> str:
        return NONE if text in (NOT_SET, NO_VISIT) else text

    if dimension == "source_medium":
        source, _, medium = label.partition(" / ")
        return {"source": value(source), "medium": value(medium)}
    return {DRILL[dimension]: value(label)}


def _matcher(dim: str, wanted: str, labels: set[str]):
    """Whether a call's label is the one wanted. Source and medium match whatever their
    case, except that a value that is exactly one of the period's labels (a report row's
    link) selects that label only: "Google" (a source-level number's) and "google" (UTM)
    are two rows of the report, and each drills down to its own calls."""
    if wanted == NONE:
        return lambda label: label in (NOT_SET, NO_VISIT)
    if dim in CASELESS and wanted not in labels:
        folded = wanted.casefold()
        return lambda label: label.casefold() == folded
    return lambda label: label == wanted


def drilled_ids(
    db: Session,
    client_ids: Sequence[int],
    period: Period,
    filt: CallFilter,
    timezones: Timezones | None = None,
) -> set[int]:
    """Ids of the calls the drill-down filters select, by the source report's own labels."""
    wanted = filt.drills
    groups: dict[str, tuple[Period, list[int]]] = {}
    if timezones:
        for client_id in client_ids:
            tz = timezones.get(client_id, period.tz)
            groups.setdefault(tz.key, (period.within(tz), []))[1].append(client_id)
    else:
        groups[period.tz.key] = (period, list(client_ids))
    facts = [
        f
        for in_zone, ids in groups.values()
        for f in call_facts(db, ids, in_zone, filt.touch or "last")
    ]
    tests = {
        dim: _matcher(dim, value, {f.dims[dim] for f in facts}) for dim, value in wanted.items()
    }
    return {f.id for f in facts if all(test(f.dims[dim]) for dim, test in tests.items())}


def _order(sort: str):
    key = sort or DEFAULT_SORT
    descending = key.startswith("-")
    columns = SORTS[key.removeprefix("-")]
    order = [(c.desc() if descending else c.asc()).nulls_last() for c in columns]
    if key.removeprefix("-") == "started_at":
        return [*order, Call.id.desc() if descending else Call.id.asc()]
    return [*order, Call.started_at.desc(), Call.id.desc()]  # ties: newest first


def call_log(
    db: Session,
    client_ids: Sequence[int],
    period: Period | None,
    filt: CallFilter | None = None,
    *,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    timezones: Timezones | None = None,
    agency_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> CallPage:
    """Calls in scope matching ``filt``, in its order, with visit, client and caller kind.

    The window is ``period`` (each client's own local days with ``timezones``) and/or
    [``since``, ``until``). With ``agency_id``, the agency's calls of no client (numbers
    Ringtrail does not route) come too, in the period's own days; their client name is "".
    Drill-down filters need a ``period``: the report's labels are computed per period.
    """
    filt = filt or CallFilter()
    check_filter(filt)
    page = max(1, page)
    per_page = min(max(1, per_page), 1000)
    client_ids = list(client_ids)
    if not client_ids and agency_id is None:
        return CallPage([], 0, page, per_page)
    firsts = _firsts(client_ids)
    identified = _identifiable()
    kind = case(
        (
            and_(identified, firsts.c.first_at.is_not(None), Call.started_at <= firsts.c.first_at),
            literal("first"),
        ),
        (and_(identified, firsts.c.first_at.is_not(None)), literal("repeat")),
        else_=literal(None),
    )
    where = []
    if filt.q:
        where.append(_search(filt.q))
    if filt.tracking:
        where.append(_tracking(filt.tracking))
    if filt.status == "answered":
        where.append(Call.answered.is_(True))
    elif filt.status == "missed":
        where.append(Call.answered.is_(False))
    if filt.confidence:
        where.append(Call.confidence == filt.confidence)
    if filt.caller:
        where.append(kind == filt.caller)
    if since is not None:
        where.append(Call.started_at >= since)
    if until is not None:
        where.append(Call.started_at < until)
    drilling = bool(filt.drills)
    if drilling:
        if period is None:
            raise Invalid("A drill-down needs a date range.")
        ids = drilled_ids(db, client_ids, period, filt, timezones)
        if not ids:
            return CallPage([], 0, page, per_page)
        where.append(
            Call.id.in_(bindparam("ids", sorted(ids), expanding=True, literal_execute=True))
        )

    def narrowed(query):
        query = (
            query.outerjoin(VisitSnapshot, Call.visit_id == VisitSnapshot.id)
            .outerjoin(Client, Client.id == Call.client_id)
            .outerjoin(
                firsts,
                (firsts.c.client_id == Call.client_id) & (firsts.c.caller == CALLER_KEY),
            )
            .where(*where)
        )
        theirs = query.where(Call.client_id.in_(client_ids))
        if period is not None:
            theirs = _in_period(theirs, period, timezones)
        if agency_id is None or drilling:
            return theirs
        unclaimed = [Call.client_id.is_(None), Call.agency_id == agency_id]
        if period is not None:
            lo, hi = period.bounds
            unclaimed += [Call.started_at >= lo, Call.started_at < hi]
        return query.where(or_(theirs.whereclause, and_(*unclaimed)))

    total = db.scalar(narrowed(select(func.count(Call.id)).select_from(Call))) or 0
    rows = db.execute(
        narrowed(select(Call, VisitSnapshot, func.coalesce(Client.name, ""), kind))
        .order_by(*_order(filt.sort))
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return CallPage([LogRow(*r) for r in rows], int(total), page, per_page)


def _key(call: Call) -> str | None:
    """The caller's identity as :data:`queries.CALLER_KEY` reads it; None when withheld."""
    if call.caller_hash:
        return call.caller_hash
    return None if phones.is_withheld(call.caller_number) else call.caller_number


def caller_calls(db: Session, call: Call, limit: int = 50) -> list[Call]:
    """The same caller's other calls to the same client, newest first, with their visits.

    Matched on the keyed hash when the call has one (the only trace of a caller in HIPAA
    mode), else on the number; none for a withheld number or a call of no client.
    """
    key = _key(call)
    if call.client_id is None or key is None:
        return []
    return list(
        db.scalars(
            select(Call)
            .where(Call.client_id == call.client_id, Call.id != call.id, key == CALLER_KEY)
            .order_by(Call.started_at.desc(), Call.id.desc())
            .limit(limit)
        )
    )


def caller_kind(db: Session, call: Call) -> str | None:
    """Whether ``call`` is its caller's first call to its client, a repeat, or neither."""
    key = _key(call)
    if call.client_id is None or call.started_at is None or key is None:
        return None
    first = db.scalar(
        select(func.min(Call.started_at)).where(Call.client_id == call.client_id, key == CALLER_KEY)
    )
    return "first" if first is None or call.started_at <= first else "repeat"
