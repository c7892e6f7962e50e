"""The worker process: its scheduler comes back by itself after Redis went away, and it
runs the periodic jobs as RQ cron jobs."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib
from rq import Queue
from rq.cron import CronScheduler
from rq.serializers import JSONSerializer

from tests.faults import Process, RedisServer, wait_for
from tests.helpers import cli_env

pytestmark = pytest.mark.slow


def test_the_scheduler_comes_back_by_itself_after_redis_went_away(app_config, tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    env = dict(os.environ) | cli_env(app_config) | {"RINGTRAIL_REDIS_URL": server.url}
    worker = Process(["worker"], env, tmp_path / "worker.log")
    worker.start()
    client = redis_lib.Redis(port=server.port)
    try:
        # RQ's cron registry shows the worker's periodic jobs.
        def periodic() -> set[str]:
            return {
                (job.func_name, job.cron)
                for scheduler in CronScheduler.all(client)
                for job in scheduler.get_jobs()
            }

        expected = {
            ("ringtrail.reports.counters.periodic_flush", "*/5 * * * *"),
            ("ringtrail.privacy.retention.periodic_enforce", "7 * * * *"),
            ("ringtrail.reports.autosizer.periodic_autosize", "17 * * * *"),
            ("ringtrail.outbound.messages.send_job", "* * * * *"),
            ("ringtrail.outbound.summaries.periodic_summaries", "3 * * * *"),
            ("ringtrail.outbound.delivery.periodic_sweep", "* * * * *"),
            ("ringtrail.outbound.platforms.send.periodic_send", "* * * * *"),
        }
        wait_for(lambda: periodic() == expected, 30, "the cron jobs registered")

        server.stop()  # every connection refused: the worker and its scheduler lose Redis
        wait_for(lambda: "scheduling failed" in worker.output(), 15, "the outage noticed")
        server.start()  # back, and empty
        queue = Queue("ringtrail", connection=client, serializer=JSONSerializer)
        job = queue.enqueue_at(datetime.now(UTC) + timedelta(seconds=1), "os.getpid")
        took = wait_for(
            lambda: job.get_status(refresh=True) == "finished", 30, "a scheduled job run"
        )
        print(f"a job scheduled after the outage ran {took:.1f} s later")
        assert worker.proc.poll() is None  # the worker never died
        wait_for(lambda: periodic() == expected, 15, "the cron jobs registered again")
    finally:
        worker.stop()
        client.close()
        server.close()
