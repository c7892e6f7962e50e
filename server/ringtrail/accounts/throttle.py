"""Login throttling: exponential back-off that slows guessing and never locks the owner out.

A lockout lets anyone who knows an e-mail keep its owner out, and a limit per e-mail
alone does nothing against one client trying one password on many e-mails (spraying).
So failures are counted three ways, each for a window of :data:`WINDOW` seconds after
its last failure, and each count sets a delay before that identity may try again:

- **pair** (this e-mail from this client): guessing one account from one place. Three
  free tries (typos), then 1 s, 2 s, 4 s … up to :data:`MAX_DELAY`.
- **client** (this client, whatever the e-mail): spraying. Ten free failures, then the
  same doubling, for every e-mail it tries.
- **account** (this e-mail, from many clients): guessing from many places at once. It
  counts *distinct clients* that failed, not failures, so one attacker, however busy,
  never moves it. From the fifth client on, the same doubling applies to every client
  but one that has already logged in to this account (it carries a signed "known
  device" cookie, set at each login by the web layer). So an attacker's failures
  never hold up the owner: not from one client, and not from many as long as the owner
  uses a browser they logged in with before; a new browser during an attack from many
  places waits its turn (never more than :data:`MAX_DELAY`), it is never locked out.

A client is its fingerprint: a keyed hash (``hashing.LOGIN_CLIENT``) of its IP address
and user agent. An e-mail is its keyed hash (``hashing.LOGIN``). Redis holds only those
hashes, a count and a time, and only for the window: no IP address, no user agent, no
e-mail. An attempt made during its delay is refused without checking the password (so
it reveals nothing) and does not count. A success clears the pair's count.

The counters live on the rate-limit Redis. If it is down, logins go through unthrottled
(logged): a broken limiter must not lock everybody out.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis

from ringtrail.hashing import LOGIN, LOGIN_CLIENT, keyed_hash
from ringtrail.storage.clients import get_ratelimit_redis

log = logging.getLogger(__name__)

WINDOW = 900  # seconds a count lives after its last failure
MAX_DELAY = 900  # the longest wait between two tries
BASE_DELAY = 1.0
FREE = {"pair": 3, "client": 10, "account": 5}  # failures (account: clients) before delay


class ThrottleKeys:
    """Keys of the login throttle, one per counted identity.

    - ``failures(kind, digest)``  HASH  for "pair" and "client": ``n``, failures in the
      window; for "account": ``c:<client fingerprint>``, failures from each client; both:
      ``last``, epoch seconds of the latest. Expires :data:`WINDOW` seconds after it.
    """

    @staticmethod
    def failures(kind: str, digest: str) -> str:
        return f"ringtrail:login:{kind}:{digest}"


@dataclass(frozen=True)
class Verdict:
    """Whether a login attempt may be tried now, and if not, in how many seconds."""

    allowed: bool
    retry_after: int = 0
    counted: bool = True  # False when the store was unreachable


def email_hash(email: str) -> str:
    """The keyed hash that stands for a login e-mail, however it is typed."""
    return keyed_hash(LOGIN, email.strip().lower())


def client_fingerprint(address: str | None, user_agent: str | None) -> str:
    """The keyed hash that stands for a client: its address and user agent, never kept."""
    return keyed_hash(LOGIN_CLIENT, f"{address or ''}\n{(user_agent or '')[:512]}")


def delay(kind: str, failures: int) -> float:
    """Seconds to wait after ``failures`` failures of one identity: doubling, capped."""
    over = failures - FREE[kind]
    if over < 0:
        return 0.0
    return min(MAX_DELAY, BASE_DELAY * 2.0 ** min(over, 30))


def _identities(email: str, client: str, known_device: bool) -> dict[str, str]:
    who = email_hash(email)
    ids = {"pair": keyed_hash(LOGIN, f"{who}\n{client}"), "client": client}
    if not known_device:
        ids["account"] = who
    return ids


def check(
    email: str, client: str, *, known_device: bool = False, now: float | None = None
) -> Verdict:
    """May this client try this e-mail now? (Counts nothing.)"""
    now = time.time() if now is None else now
    ids = _identities(email, client, known_device)
    try:
        pipe = get_ratelimit_redis().pipeline(transaction=False)
        for kind, digest in ids.items():
            key = ThrottleKeys.failures(kind, digest)
            pipe.hlen(key) if kind == "account" else pipe.hget(key, "n")
            pipe.hget(key, "last")
        replies = pipe.execute()
    except (redis.RedisError, OSError):
        log.warning("login throttle: store unavailable; letting the attempt through")
        return Verdict(True, counted=False)
    wait = 0.0
    for kind, count, last in zip(ids, replies[::2], replies[1::2], strict=True):
        if count and last is not None:
            count = int(count) - 1 if kind == "account" else int(count)  # less "last"
            wait = max(wait, float(last) + delay(kind, count) - now)
    return Verdict(False, max(1, math.ceil(wait))) if wait > 0 else Verdict(True)


def failed(email: str, client: str, *, now: float | None = None) -> None:
    """Count one failed attempt (a wrong password or second-factor code) every way."""
    now = time.time() if now is None else now
    try:
        pipe = get_ratelimit_redis().pipeline(transaction=True)
        for kind, digest in _identities(email, client, known_device=False).items():
            key = ThrottleKeys.failures(kind, digest)
            pipe.hincrby(key, f"c:{client}" if kind == "account" else "n", 1)
            pipe.hset(key, "last", repr(now))
            pipe.expire(key, WINDOW)
        pipe.execute()
    except (redis.RedisError, OSError):
        log.warning("login throttle: store unavailable; failure not counted")


def succeeded(email: str, client: str) -> None:
    """A login got through: this client's count for this e-mail starts again."""
    try:
        digest = _identities(email, client, known_device=True)["pair"]
        get_ratelimit_redis().delete(ThrottleKeys.failures("pair", digest))
    except (redis.RedisError, OSError):
        log.warning("login throttle: store unavailable; count not cleared")
