"""RQ jobs: periodic scheduling, and moving jobs queued under an older job path.

A job names its function by import path, and RQ stores that path in Redis. Periodic jobs
(the traffic flush, retention) reschedule themselves: each run queues the next one for
the next time slot, under a job id named after the slot, so a fleet of workers asking
for the same slot keeps one chain.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

# Job functions that moved, old path -> new path. Jobs carry only ids, so a job queued by
# an older release runs unchanged once it names the function's new home.
MOVED: dict[str, str] = {
    "server.jobs.apply_event": "ringtrail.calls.intake.apply_event",
    "server.traffic.flush_and_reschedule": "ringtrail.reports.counters.flush_and_reschedule",
    "server.retention.enforce_and_reschedule": (
        "ringtrail.privacy.retention.enforce_and_reschedule"
    ),
}


def schedule_every(
    queue: Queue,
    func: Callable,
    every: int,
    name: str,
    *,
    now: float | None = None,
    description: str = "",
) -> str:
    """Queue ``func`` for the start of the next ``every``-second slot; returns the job id."""
    now = time.time() if now is None else now
    slot = int(now // every) + 1
    job_id = f"{name}-{slot}"
    queue.enqueue_at(
        datetime.fromtimestamp(slot * every, UTC),
        func,
        job_id=job_id,
        job_timeout=every,
        description=description or name,
    )
    return job_id


def registries(queue: Queue) -> list:
    """Every registry of the queue that can hold a job: started, failed, deferred,
    scheduled, finished and canceled."""
    return [
        queue.started_job_registry,
        queue.failed_job_registry,
        queue.deferred_job_registry,
        queue.scheduled_job_registry,
        queue.finished_job_registry,
        queue.canceled_job_registry,
    ]


def all_job_ids(queue: Queue) -> set[str]:
    """The ids of every job the queue or one of its registries holds."""
    ids = set(queue.get_job_ids())
    for registry in registries(queue):
        ids.update(registry.get_job_ids(cleanup=False))
    return ids


def move_job_paths(queue: Queue, moved: dict[str, str] | None = None) -> int:
    """Point jobs that name a moved function at its new path, wherever they wait (queued,
    scheduled, deferred, started or failed); returns how many moved. Idempotent."""
    moved = MOVED if moved is None else moved
    count = 0
    for job_id in sorted(all_job_ids(queue)):
        try:
            job = Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer)
        except NoSuchJobError:
            continue
        new = moved.get(job.func_name)
        if new is None:
            continue
        job.func_name = new  # RQ re-serializes the call with the new path
        job.save()
        count += 1
    return count
