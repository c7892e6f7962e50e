"""Which visit a call belongs to, and how sure we are.

A call at time t on number N is:

- ``exact``: exactly one lease of N was live at t, and N was not shared;
- ``ambiguous``: N was shared on exhaustion at t (or several leases cover t);
- ``late``: no lease was live, the last one ended within the match window before t
  (and, by construction, N was not leased again since);
- ``none``: otherwise.

Calls to fixed source-level or overflow numbers are ``source``: attributed to a source,
never to a person.
"""

from __future__ import annotations

from dataclasses import dataclass

from ringtrail.tracking.pool import LeaseRecord


@dataclass(frozen=True)
class Attribution:
    """The confidence of a call's attribution and the session it points to, if any."""

    confidence: str
    session: str | None


def attribute(records: list[LeaseRecord], t: float, match_window: float) -> Attribution:
    """Classify a call at time ``t`` against the leases remembered for its number."""
    covering = [r for r in records if r.start <= t <= r.end]
    if covering:
        newest = max(covering, key=lambda r: r.start)
        if len(covering) == 1 and not newest.shared:
            return Attribution("exact", newest.session)
        return Attribution("ambiguous", newest.session)
    ended = [r for r in records if r.end < t]
    if ended:
        last = max(ended, key=lambda r: r.end)
        if t - last.end <= match_window:
            return Attribution("ambiguous" if last.shared else "late", last.session)
    return Attribution("none", None)
