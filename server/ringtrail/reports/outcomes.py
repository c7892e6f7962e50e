"""Outcome figures for the source report: qualified leads, value and calls by tag, per
row of the same report (source, campaign, keyword …), and the blocked calls kept apart.

:func:`outcome_figures` takes the source report's own filters and groups calls exactly as
:func:`~ringtrail.reports.queries.call_facts` does, so each figure belongs to the row it
is shown in. Blocked calls are refused, never connected: they are not in the report's
calls, and are counted here on their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ringtrail.reports.queries import Period, call_facts
from ringtrail.storage.models import Call, CallTag, ClientTag

QUALIFIED = ("qualified", "customer")  # a customer was a qualified lead first
CHUNK = 2000  # ids per IN (…): well under every database's limit on parameters


@dataclass
class OutcomeFigures:
    """One row's outcomes."""

    qualified: int = 0
    value: Counter[str] = field(default_factory=Counter)  # currency -> minor units
    tags: Counter[str] = field(default_factory=Counter)  # tag -> calls carrying it

    def value_text(self) -> str:
        """The value, one amount per currency ("1250.00 USD; 80.00 EUR"), or ""."""
        return "; ".join(f"{minor / 100:.2f} {cur}" for cur, minor in sorted(self.value.items()))

    def tags_text(self) -> str:
        """Calls by tag ("booked: 3; hot lead: 1"), most first, or ""."""
        return "; ".join(f"{tag}: {n}" for tag, n in sorted(self.tags.items(), key=_most))


def _most(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0].lower()


@dataclass
class OutcomeReport:
    rows: dict[str, OutcomeFigures]
    total: OutcomeFigures
    blocked: int  # calls refused because the client blocked the caller

    def row(self, label: str) -> OutcomeFigures:
        """The figures of one report row (empty for a row with no calls)."""
        return self.rows.get(label) or OutcomeFigures()


def outcome_figures(
    db: Session,
    client_ids: Sequence[int],
    period: Period,
    dimension: str = "source",
    touch: str = "last",
) -> OutcomeReport:
    """Qualified leads, value and calls by tag for each row of the source report with
    these filters, its total, and the blocked calls of the period."""
    facts = call_facts(db, client_ids, period, touch)
    label_of = {f.id: f.dims[dimension] for f in facts}
    rows: dict[str, OutcomeFigures] = {}
    total = OutcomeFigures()
    ids = list(label_of)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for call_id, status, minor, currency in db.execute(
            select(Call.id, Call.lead_status, Call.value_minor, Call.currency).where(
                Call.id.in_(chunk)
            )
        ):
            row = rows.setdefault(label_of[call_id], OutcomeFigures())
            for figures in (row, total):
                figures.qualified += status in QUALIFIED
                if minor is not None and currency:
                    figures.value[currency] += minor
        tagged = db.execute(
            select(CallTag.call_id, ClientTag.name)
            .join(ClientTag, CallTag.tag_id == ClientTag.id)
            .where(CallTag.call_id.in_(chunk))
        )
        for call_id, name in tagged:
            rows.setdefault(label_of[call_id], OutcomeFigures()).tags[name] += 1
            total.tags[name] += 1
    blocked = 0
    if client_ids:
        lo, hi = period.bounds
        blocked = db.scalar(
            select(func.count(Call.id)).where(
                Call.client_id.in_(client_ids),
                Call.blocked.is_(True),
                Call.started_at >= lo,
                Call.started_at < hi,
            )
        )
    return OutcomeReport(rows, total, blocked)
