"""One hierarchy for what a service refuses, with a reason a person can read.

Services raise these; they never build HTTP answers or exit codes. The web layer maps
each class to an HTTP status in one place (``ringtrail.web.errors``) and the command
line maps each to a message and an exit code (``ringtrail.cli``)::

    RingtrailError
    ├── Invalid            the input is malformed                       400
    │   ├── Unprocessable  well-formed, but it breaks a rule            422
    │   └── TooLarge       the body is larger than allowed              413
    ├── Unauthenticated    no credentials, or unknown ones              401
    ├── Forbidden          known, but not allowed to do this            403
    ├── NotFound           no such object (or another tenant's)         404
    ├── Conflict           clashes with what exists                     409
    ├── RateLimited        too many requests; retry after N seconds     429
    └── Unavailable        a store or the carrier is away; try again    503
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class RingtrailError(Exception):
    """A refusal with a readable reason."""

    default_reason = "refused"

    def __init__(self, reason: str = ""):
        super().__init__(reason or self.default_reason)

    @property
    def reason(self) -> str:
        return str(self)


class Invalid(RingtrailError):
    """Input that is malformed."""

    default_reason = "invalid input"


@dataclass(frozen=True)
class RowError:
    """Why one row of a bulk input (a CSV import) was refused."""

    row: int
    value: str
    error: str


class Unprocessable(Invalid):
    """Well-formed input that breaks a rule; ``rows`` says which rows, for bulk input."""

    default_reason = "the input breaks a rule"

    def __init__(self, reason: str = "", rows: Sequence[RowError] = ()):
        super().__init__(reason)
        self.rows = list(rows)


class TooLarge(Invalid):
    """A body larger than allowed."""

    default_reason = "request body too large"


class Unauthenticated(RingtrailError):
    """No credentials, or ones nobody knows."""

    default_reason = "authentication required"


class Forbidden(RingtrailError):
    """Known, but not allowed to do this."""

    default_reason = "not allowed"


class NotFound(RingtrailError):
    """No such object; another tenant's object is reported the same way."""

    default_reason = "not found"


class Conflict(RingtrailError):
    """The change clashes with what exists (a duplicate, or objects still attached)."""

    default_reason = "conflict"


class RateLimited(RingtrailError):
    """Too many requests; ``retry_after`` seconds until the window ends."""

    default_reason = "rate limit exceeded"

    def __init__(self, retry_after: int):
        super().__init__(f"rate limit exceeded; retry in {retry_after} s")
        self.retry_after = retry_after


class Unavailable(RingtrailError):
    """A store or the carrier cannot answer now; the same request may work later."""

    default_reason = "temporarily unavailable"
