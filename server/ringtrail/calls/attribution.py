"""Which visit a call belongs to, and how sure we are.

A visitor *could have called* number N at time t if N was shown to them by t and their
lease ended less than the match window before t (``LeaseRecord.could_call``). A call at
time t on N is:

- ``exact``: a lease of N was live at t, its visitor was on the page then (active within
  ``PRESENT_SECONDS`` before the call, or after it), and is the only one who could have
  called: nobody else was shown N within the match window before the call;
- ``late``: exactly one visitor could have called, but not while on the page: their lease
  had ended, or they had been idle for longer than ``PRESENT_SECONDS``. (A stranger
  dialling a number at random, or a number written down days ago, reaches a live lease
  far more often than a visitor who is on the page: presence is what makes a call
  certain.)
- ``ambiguous``: several visitors could have called; the call lists them all, best first
  (live leases first, then the most recently active);
- ``repeat``: the caller called this client before (see :func:`repeat_of`), and gets the
  visit of that earlier call;
- ``none``: nobody could have called, and the caller is not a repeat caller.

Calls to fixed source-level or overflow numbers are ``source``: attributed to a source,
never to a person.

The boundary rule is the lease script's: a lease is live on ``[start, end)``. Leases that
began after the call are ignored, so a call replayed from the spool hours later is judged
as it would have been when it happened. A call whose time was read on a web node's own
clock (spooled, not stamped by Redis) is judged with a ``tolerance``: any lease that could
have been live or callable within it counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ringtrail.tracking.pool import LeaseRecord

# A visitor active this recently (a page view, or a heartbeat: the snippet sends one each
# minute in use) is on the page; a call then is theirs beyond doubt.
PRESENT_SECONDS = 120


@dataclass(frozen=True)
class Attribution:
    """The confidence of a call's attribution, the session it points to, and, when
    ambiguous, every session that could have called, best first."""

    confidence: str
    session: str | None
    candidates: tuple[str, ...] = ()


def candidates(
    records: Sequence[LeaseRecord], t: float, match_window: float, tolerance: float = 0.0
) -> list[LeaseRecord]:
    """One record per visitor who could have called at ``t``, best first."""
    best: dict[str, LeaseRecord] = {}
    for r in records:
        if r.could_call(t, match_window, tolerance):
            kept = best.get(r.session)
            if kept is None or r.end > kept.end:
                best[r.session] = r
    return sorted(best.values(), key=lambda r: (r.live(t, tolerance), r.end), reverse=True)


def attribute(
    records: Sequence[LeaseRecord], t: float, match_window: float, tolerance: float = 0.0
) -> Attribution:
    """Classify a call at time ``t`` against the leases remembered for its number."""
    found = candidates(records, t, match_window, tolerance)
    if not found:
        return Attribution("none", None)
    first = found[0]
    if len(found) > 1:
        return Attribution("ambiguous", first.session, tuple(r.session for r in found))
    on_page = first.live(t, tolerance) and first.present(t, PRESENT_SECONDS, tolerance)
    return Attribution("exact" if on_page else "late", first.session)


@dataclass(frozen=True)
class EarlierCall:
    """A call the same caller made to the same client before."""

    id: int
    at: float
    number: str
    pool_id: int | None


def repeat_of(
    found: Attribution,
    earlier: Sequence[EarlierCall],
    *,
    number: str,
    pool_id: int | None,
    t: float,
    window: float,
) -> EarlierCall | None:
    """The earlier call this one repeats, if any (the caller commits to its visit).

    A caller who dials the same tracking number again within ``window`` is redialling
    from their phone's call log: whoever holds the number now is not them. A caller on
    another number of the same pool is a repeat only when the leases name nobody (a
    number kept from a visit long gone); if they could be one of its recent visitors,
    the leases say more. Withheld callers never get here: they have no caller hash.
    """
    recent = sorted(
        (c for c in earlier if t - window <= c.at < t), key=lambda c: c.at, reverse=True
    )
    same_number = next((c for c in recent if c.number == number), None)
    if same_number is not None:
        return same_number
    if found.confidence == "none" and pool_id is not None:
        return next((c for c in recent if c.pool_id == pool_id), None)
    return None
