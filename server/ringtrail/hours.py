"""Business hours: whether a moment falls inside a client's opening hours, in its zone.

Call planning (``telephony/plan.py``: after-hours routing) and automation rules
(``calls/rules.py``: the business-hours condition) read the same rule from here.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from ringtrail.terms import DAYS

log = logging.getLogger(__name__)


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes)


def open_now(hours: dict | None, timezone: str, now: float) -> bool:
    """Whether ``now`` is within business hours ({"mon": [["09:00", "17:00"]], ...}).

    No hours means always open. A range whose end is before its start runs past
    midnight. Hours that cannot be read count as open: the call then reaches the business.
    """
    if not hours:
        return True
    try:
        local = datetime.fromtimestamp(now, ZoneInfo(timezone))
        minute = local.hour * 60 + local.minute
        today, yesterday = DAYS[local.weekday()], DAYS[local.weekday() - 1]
        for start, end in hours.get(today) or ():
            first, last = _minutes(start), _minutes(end)
            if first <= minute < last or (last <= first and minute >= first):
                return True
        for start, end in hours.get(yesterday) or ():
            first, last = _minutes(start), _minutes(end)
            if last <= first and minute < last:
                return True
        return False
    except Exception:  # a bad time zone or a malformed range: never keep a caller out
        log.warning("business hours unreadable; treating as open")
        return True
