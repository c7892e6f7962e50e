"""gunicorn settings for the benchmarked apps (``--config python:bench.gunicorn_bench``).

Ringtrail's workers start as ``ringtrail serve`` starts them (cli/gunicorn_config.py's
``post_worker_init``: the spool's replayer and the user-agent resolver built before the
first request); the baselines have nothing to start. No access log for any of them, so
the comparison leaves logging out on both sides.
"""

from __future__ import annotations

accesslog = None


def post_worker_init(worker) -> None:
    app = worker.wsgi
    if "ringtrail" in getattr(app, "extensions", {}):
        from ringtrail.cli import gunicorn_config

        gunicorn_config.post_worker_init(worker)
