"""gunicorn's settings for ``ringtrail serve`` and ``ringtrail demo``
(``--config python:ringtrail.cli.gunicorn_config``).

- The access log leaves out the client's address (gunicorn's default format starts with
  ``%(h)s``) and the query string: Ringtrail writes no IP address to its logs.
- Each worker process runs the spool's replayer (:mod:`ringtrail.calls.replayer`), so
  spooled call events are queued within seconds of the stores answering, with or
  without traffic.
- Each worker builds the user-agent resolver (about 0.7 s) and the crawler pattern
  (about 0.2 s) before it takes a request, so no visitor's request waits for them.
"""

from __future__ import annotations

accesslog = "-"
access_log_format = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'


def post_worker_init(worker) -> None:
    """Start the spool's replayer for the app this worker serves; build the user-agent
    resolver and the crawler pattern."""
    from ringtrail.calls import replayer
    from ringtrail.tracking import devices

    replayer.start(worker.wsgi)
    devices.resolver()
    devices.crawler_pattern()
