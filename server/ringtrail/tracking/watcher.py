"""Keeps one process's routing table current: the change channel first, the version row
always.

One daemon thread per process, started by the first read of the directory (and again
after a fork). It

- subscribes to the change channel (``storage/channel.py``) and reads the version row,
  reloading only if it moved, whenever a change is announced, just after every
  (re)subscription (what was announced while it was away is lost), and every ``ttl``
  seconds as a safety net;
- pings the channel every second. Every change is announced after it commits, so a pong
  with nothing announced before it proves the table still current: the table stays
  confirmed through a database outage for as long as Redis answers;
- with the channel down (Redis stopped, hung or refusing), reads the version row every
  second instead, and tries the channel again every second.

Requests never wait on any of this: they read the snapshot this thread keeps current.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import redis

from ringtrail.storage.channel import ConfigChannel

log = logging.getLogger(__name__)

POLL = 1.0  # seconds between version-row reads while the channel cannot vouch, and retries
PING = 0.5  # seconds between pings on the channel
REPLY_DEADLINE = 2.0  # a channel whose awaited reply is later than this is broken


class ConfigWatcher:
    """The thread that keeps one directory current (see the module's docstring).

    The channel vouches for the table only while it is subscribed, the version row was
    read since, no announced change is unread, and a pong came back within the last
    POLL seconds; otherwise the version row is read every POLL seconds. It holds the
    directory weakly: when the app goes, the thread ends.
    """

    def __init__(self, directory: Any, channel: Callable[[], ConfigChannel] | None):
        self._directory = weakref.ref(directory)
        self._make_channel = channel
        self._channel: ConfigChannel | None = None
        self._pubsub: redis.client.PubSub | None = None
        self._listening = False  # the subscription is confirmed
        self._checked = False  # the version row was read since it was confirmed
        self._pending = True  # a change may have been announced that we have not read
        self._last_check = float("-inf")  # when the version row was last read (or tried)
        self._heard_at = float("-inf")  # when the last pong came back
        self._asked_at = 0.0  # when the reply we await was asked for (0: none awaited)
        self._next_ping = self._next_connect = 0.0
        self._thread = threading.Thread(
            target=self._run, name="ringtrail-config-watcher", daemon=True
        )

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def _run(self) -> None:
        while (directory := self._directory()) is not None:
            try:
                self._step(directory)
            except Exception:  # never let the thread die: calls depend on it
                log.exception("config watcher: unexpected error")
                self._drop()
                time.sleep(POLL)
            del directory
        self._drop()

    def _vouching(self, now: float) -> bool:
        """Whether the channel proves the table current, so SQL can wait for the safety net."""
        return (
            self._listening and self._checked and not self._pending and now - self._heard_at <= POLL
        )

    def _due(self, directory: Any, now: float) -> float:
        """When the version row must be read next: every POLL seconds, unless the channel
        vouches, and then when it stops vouching (no pong for POLL seconds) at the latest."""
        every_poll = self._last_check + POLL
        if not self._vouching(now):
            return every_poll
        return min(self._last_check + directory.ttl, max(self._heard_at + POLL, every_poll))

    def _step(self, directory: Any) -> None:
        """Read the version row if due, (re)subscribe if due, then listen a while."""
        if time.monotonic() >= self._due(directory, time.monotonic()):
            self._check(directory)
        if self._pubsub is None and self._make_channel and time.monotonic() >= self._next_connect:
            self._connect()
        if self._pubsub is None:
            now = time.monotonic()
            time.sleep(max(0.0, min(POLL, self._due(directory, now) - now)))
        else:
            self._listen(directory)

    def _check(self, directory: Any) -> None:
        self._last_check = time.monotonic()
        if directory.refresh():
            self._pending = False
            self._checked = self._listening

    def _connect(self) -> None:
        try:
            if self._channel is None:
                self._channel = self._make_channel()
            self._pubsub = self._channel.subscribe()
            self._asked_at = time.monotonic()  # the subscription's confirmation
        except (redis.RedisError, OSError) as exc:
            log.info("config watcher: change channel unavailable (%s); polling SQL", exc)
            self._drop()

    def _listen(self, directory: Any) -> None:
        """Handle what the channel says until the version row is due (a ping's interval at
        most); ping it when due; drop it if it stops answering."""
        try:
            while True:
                now = time.monotonic()
                if self._asked_at and now - self._asked_at > REPLY_DEADLINE:
                    raise redis.TimeoutError("the change channel stopped answering")
                if self._listening and not self._asked_at and now >= self._next_ping:
                    self._pubsub.ping(repr(now))
                    self._asked_at, self._next_ping = now, now + PING
                due = self._due(directory, now)
                if now >= due:
                    return
                message = self._pubsub.get_message(timeout=min(due - now, PING))
                if message is not None:
                    self._handle(message, directory)
                elif not self._asked_at:
                    return  # a quiet interval: let the loop look at the directory again
        except (redis.RedisError, OSError) as exc:
            log.warning("config watcher: change channel lost (%s); polling SQL", exc)
            self._drop()

    def _handle(self, message: dict, directory: Any) -> None:
        kind = message["type"]
        if kind == "subscribe":
            self._asked_at = 0.0
            self._listening, self._checked = True, False
            self._read_now()  # what was announced before we listened is lost
        elif kind == "message":
            self._read_now()
        elif kind == "pong":
            try:
                asked = float(message["data"])
            except (TypeError, ValueError):
                return
            self._asked_at, self._heard_at = 0.0, time.monotonic()
            if self._listening and self._checked and not self._pending:
                # Nothing was announced before our ping reached Redis: current as of then.
                directory.confirm(asked)

    def _read_now(self) -> None:
        self._pending, self._last_check = True, float("-inf")

    def _drop(self) -> None:
        """Forget the subscription; what is announced until the next one is lost."""
        if self._pubsub is not None:
            with contextlib.suppress(Exception):  # a broken connection is what we drop
                self._pubsub.close()
        self._pubsub = None
        self._listening = self._checked = False
        self._asked_at = 0.0
        self._next_connect = time.monotonic() + POLL
