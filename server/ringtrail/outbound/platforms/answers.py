"""What a platform said to one request, in the terms the sender acts on."""

from __future__ import annotations

from dataclasses import dataclass, field

OK = "ok"  # taken (accepted, or sent where the platform confirms nothing)
RETRY = "retry"  # try again later: 429, 5xx, a timeout, a connection refused
AUTH = "auth"  # the credentials no longer work: pause the destination
REJECTED = "rejected"  # the platform refused the events; ``rejected`` names which


@dataclass
class Answer:
    kind: str
    reason: str = ""
    request_id: str | None = None
    # index of an event in the request -> the platform's reason; empty: all of them
    rejected: dict[int, str] = field(default_factory=dict)


def short(text: str, limit: int = 480) -> str:
    """A platform's words, on one line and bounded, for the log."""
    return " ".join(str(text).split())[:limit]
