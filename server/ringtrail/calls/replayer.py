"""The spool's replayer: a thread in every web process and in the worker that brings
spooled call events to their records without waiting for traffic.

Every few seconds it runs :func:`ringtrail.calls.intake.replay` (forget what is
committed, queue again what the queue does not hold) and, in the worker,
:func:`ringtrail.calls.intake.resume_waiting` (jobs that failed while SQL was away run
as soon as it answers). A store that is away makes one round fail quietly; the next
round tries again, so events are queued within seconds of the stores answering.
"""

from __future__ import annotations

import logging
import threading

from ringtrail.calls.intake import GRACE, replay, resume_waiting

log = logging.getLogger(__name__)

EVERY = 5.0  # seconds between rounds


class Replayer(threading.Thread):
    """The background thread; :meth:`stop` ends it after the current round."""

    def __init__(self, app, *, every: float = EVERY, grace: float = GRACE, resume: bool = False):
        super().__init__(name="ringtrail-replayer", daemon=True)
        self.app = app
        self.every = every
        self.grace = grace
        self.resume = resume
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            self.round()

    def round(self) -> None:
        """One round; never raises."""
        try:
            with self.app.app_context():
                replay(self.grace)
                if self.resume:
                    resume_waiting()
        except Exception as exc:  # a store is away: the next round tries again
            log.info("replayer: %s", exc)

    def stop(self) -> None:
        """End the thread after its current round."""
        self._stop_event.set()


def start(app, **kwargs) -> Replayer:
    """Start a replayer for ``app`` (see :class:`Replayer` for the options)."""
    thread = Replayer(app, **kwargs)
    thread.start()
    return thread
