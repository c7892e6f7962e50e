"""The autosizing planner: what a pool that sizes itself should do now. Pure: no stores.

From the pool's observed traffic, estimated as the pool-health page does (each day's
busiest hour at the 90 % quantile, :func:`sizing.peak_arrivals`; the observed hold plus
the rest, :func:`sizing.hold_seconds`), Erlang-B gives the size that turns away at most
the target share of peak visitors (:func:`sizing.recommend`). The planner keeps it
within the pool's minimum and maximum and its monthly spending cap, and decides:

- **buy** K numbers when the pool is smaller than that (as many as the maximum and the
  cap allow: numbers still retiring are paid for until they go back to the carrier);
- **retire** M surplus numbers only once the recommendation has stayed below the pool's
  size for the whole cool-down (a busy day after a quiet week should not find the pool
  just shrunk);
- or **nothing**, with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from ringtrail import terms
from ringtrail.reports import sizing

BUY, RETIRE, NOTHING = "buy", "retire", "nothing"


@dataclass(frozen=True)
class Price:
    """A number's monthly price, in minor units (cents) of ``currency``."""

    minor: int
    currency: str

    @classmethod
    def parse(cls, text: object) -> Price:
        """``"1.15 USD"``, ``"2 EUR"`` or a bare amount (US dollars)."""
        amount, _, currency = str(text).strip().partition(" ")
        try:
            minor = Decimal(amount) * 100
        except InvalidOperation:
            raise ValueError(f"not a price: {text!r} (say 1.15 USD)") from None
        currency = (currency.strip() or "USD").upper()
        if minor < 0 or minor != minor.to_integral_value() or len(currency) != 3:
            raise ValueError(f"not a price: {text!r} (say 1.15 USD)")
        return cls(int(minor), currency)

    def text(self, count: int = 1) -> str:
        return f"{Decimal(self.minor * count) / 100:.2f} {self.currency}"


@dataclass(frozen=True)
class Limits:
    """A pool's autosizing settings (``models.PoolAutosize``)."""

    target_overflow: float = terms.DEFAULT_TARGET_OVERFLOW
    min_numbers: int = terms.DEFAULT_AUTOSIZE_MIN
    max_numbers: int = terms.DEFAULT_AUTOSIZE_MAX
    monthly_cap_minor: int | None = None  # None: no cap
    currency: str = "USD"
    cooldown_seconds: int = terms.DEFAULT_AUTOSIZE_COOLDOWN_SECONDS


@dataclass(frozen=True)
class Observed:
    """What the pool looks like now: its traffic estimate and its numbers."""

    peak_arrivals: float  # per hour, :func:`sizing.peak_arrivals`
    hold_seconds: float  # kept plus rest, :func:`sizing.hold_seconds`
    size: int  # leasable numbers (not retiring)
    retiring: int = 0  # still the carrier's bill until released


@dataclass(frozen=True)
class Plan:
    """What to do: ``action`` with ``count`` numbers, and why. ``surplus_since`` is the
    state to keep for the next run (when the recommendation fell below the size)."""

    action: str
    count: int
    reason: str
    recommended: int
    target: int
    size: int
    surplus_since: datetime | None = None

    def to_json(self) -> dict:
        out = asdict(self)
        out["surplus_since"] = self.surplus_since.isoformat() if self.surplus_since else None
        return out


def affordable(limits: Limits, price: Price) -> int | None:
    """How many numbers the monthly cap pays for (None: no cap; 0 in another currency)."""
    if limits.monthly_cap_minor is None:
        return None
    if limits.currency.upper() != price.currency or price.minor <= 0:
        return 0 if price.minor > 0 else None
    return limits.monthly_cap_minor // price.minor


def plan(
    observed: Observed,
    limits: Limits,
    price: Price,
    *,
    now: datetime,
    surplus_since: datetime | None = None,
) -> Plan:
    """Decide what the pool should do now (see the module's docstring)."""
    recommended = sizing.recommend(
        observed.peak_arrivals, observed.hold_seconds, limits.target_overflow
    )
    target = min(max(recommended, limits.min_numbers), limits.max_numbers)
    size = observed.size
    base = Plan(NOTHING, 0, "", recommended, target, size)
    if size < target:
        wanted = target - size
        cap = affordable(limits, price)
        count = wanted
        reason = f"{recommended} recommended for a {limits.target_overflow:.1%} overflow"
        if target != recommended:
            reason += f", kept within {limits.min_numbers}–{limits.max_numbers}"
        if cap is not None:
            room = max(0, cap - size - observed.retiring)
            count = min(wanted, room)
            if count < wanted:
                held = size + observed.retiring
                if limits.currency.upper() != price.currency:
                    why = f"the cap is in {limits.currency}, numbers are priced in {price.currency}"
                else:
                    why = (
                        f"the cap of {Price(limits.monthly_cap_minor or 0, price.currency).text()}"
                        f" a month pays for {cap} at {price.text()} ({held} held)"
                    )
                if count == 0:
                    return replace(base, reason=f"{reason}; {size} now, but {why}")
                reason += f"; {count} of {wanted}: {why}"
        return replace(base, action=BUY, count=count, reason=f"buy {count}: {reason}")
    if size > target:
        surplus = size - target
        since = surplus_since or now
        ends = since + timedelta(seconds=limits.cooldown_seconds)
        if now < ends:
            return replace(
                base,
                surplus_since=since,
                reason=(
                    f"{surplus} surplus ({recommended} recommended, {size} in the pool); "
                    f"they retire if it stays so until {ends:%Y-%m-%d %H:%M} UTC"
                ),
            )
        return replace(
            base,
            action=RETIRE,
            count=surplus,
            surplus_since=since,
            reason=(
                f"retire {surplus}: {recommended} recommended, {size} in the pool since "
                f"{since:%Y-%m-%d %H:%M} UTC (cool-down {limits.cooldown_seconds // 3600} h)"
            ),
        )
    return replace(base, reason=f"the pool's {size} numbers meet the target")
