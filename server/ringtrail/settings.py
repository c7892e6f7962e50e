"""Every ``RINGTRAIL_*`` setting, declared once with its default and what it does.

``create_app`` applies the defaults of the app's settings, then reads the environment
with Flask's ``from_prefixed_env("RINGTRAIL")`` (so numbers and booleans are JSON), then
a test configuration. The ``ringtrail`` command reads the command settings (``BIND``,
``WORKERS``, ``THREADS``, ``NEW_USER_PASSWORD``) through :func:`from_env`; the test
settings are read by the test suite and ``tests/run.sh``. The README's configuration
table is checked against this list by the test suite, in both directions.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

PREFIX = "RINGTRAIL_"


@dataclass(frozen=True)
class Setting:
    """One setting: its name without the prefix, its default, and where it is read."""

    name: str
    default: Any
    doc: str
    scope: str = "app"  # "app" (the Flask config), "command" or "tests"

    @property
    def env(self) -> str:
        return PREFIX + self.name


SETTINGS: tuple[Setting, ...] = (
    Setting("PUBLIC_URL", "http://127.0.0.1:5000", "scheme and host Twilio and browsers use"),
    Setting("DATABASE_URL", None, "SQLAlchemy URL; default SQLite in the instance folder"),
    Setting("REDIS_URL", None, "Redis for leases and visits; default the embedded Redis"),
    Setting("QUEUE_REDIS_URL", None, "Redis for RQ and stashed events; default REDIS_URL"),
    Setting("REDIS_CLUSTER", False, "REDIS_URL names a node of a Redis Cluster"),
    Setting("DEFAULT_FORWARD_NUMBER", None, "E.164 number for calls to unknown numbers"),
    Setting("SECRET_KEY", None, "Flask secret; default random, kept in the instance folder"),
    Setting("ENCRYPTION_KEYS", None, "Fernet keys for secrets at rest, newest first"),
    Setting("INSTANCE_PATH", None, "instance folder; default ./instance"),
    Setting("SPOOL_DIR", None, "call events that could not be queued; default instance/spool"),
    Setting("TWILIO_API_URL", "https://api.twilio.com", "Twilio's REST API"),
    Setting("NUMBER_MONTHLY_PRICE", "1.15 USD", "a tracking number's monthly price (autosizing)"),
    Setting("TWILIO_TIMEOUT", 10.0, "seconds to wait for Twilio's REST API"),
    Setting("REDIS_TIMEOUT", 0.25, "seconds before a hot-path Redis command gives up"),
    Setting("DATABASE_TIMEOUT", 1.0, "seconds to wait for a database connection"),
    Setting("CACHE_SECONDS", 30, "seconds between version-row reads while the channel is up"),
    Setting("SESSION_TTL_SLACK", 600, "seconds a visit outlives its lease plus match window"),
    Setting("LEASE_HISTORY_SECONDS", 86400, "lease history kept past the match window"),
    Setting("CLOCK_TOLERANCE_SECONDS", 5, "how far a spooled call's web-node clock may be off"),
    Setting("REPEAT_CALLER_DAYS", 30, "a caller who called within this many days is a repeat"),
    Setting("SESSION_LIMIT_SITE", 1200, "session starts per site per minute (0: none)"),
    Setting("SESSION_LIMIT_CLIENT", 20, "session starts per anonymous client per 10 min (0: none)"),
    Setting("TRUSTED_PROXIES", 0, "proxies in front whose X-Forwarded-For is believed"),
    Setting("MAX_BODY_BYTES", 16 * 1024, "largest public API body accepted"),
    Setting("UA_MAX_CHARS", 512, "user agents are cut to this length before parsing"),
    Setting("HEADLESS_IS_BOT", True, "treat headless browsers as bots"),
    Setting("SECURE_COOKIES", None, "Secure session cookie; default when PUBLIC_URL is https"),
    Setting("LOGIN_HOURS", 12, "how long a dashboard login lasts"),
    Setting("API_RATE_LIMIT_HOUR", 1000, "admin API requests per key per hour (0: none)"),
    Setting("API_RATE_LIMIT_DAY", 10000, "admin API requests per key per day (0: none)"),
    Setting("RATE_LIMIT_REDIS_URL", None, "Redis for rate-limit counters; default the queue's"),
    Setting(
        "GOOGLE_DATAMANAGER_URL",
        "https://datamanager.googleapis.com",
        "Google's Data Manager API (Google Ads conversions)",
    ),
    Setting("GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token", "Google's OAuth token URL"),
    Setting(
        "GOOGLE_ANALYTICS_URL", "https://www.google-analytics.com", "GA4's Measurement Protocol"
    ),
    Setting("UPLOAD_TIMEOUT", 15.0, "seconds to wait for an ad platform"),
    Setting("METRICS_TOKEN", None, "bearer token for /metrics; unset: /metrics is off"),
    Setting("SMTP_URL", None, "mail server, smtp[s]://user:pass@host:port; unset: no e-mail"),
    Setting("MAIL_FROM", "Ringtrail <ringtrail@localhost>", "From address of the e-mails sent"),
    Setting("OUTBOX_TIMEOUT", 10.0, "seconds to wait for the mail server or Slack per message"),
    Setting("WEBHOOKS_ALLOW_HTTP", False, "webhook URLs may be http:// to loopback/private hosts"),
    Setting("WEBHOOKS_TIMEOUT", 10.0, "seconds a webhook receiver has to answer"),
    Setting("WEBHOOKS_SECRET_GRACE_HOURS", 24, "hours a rotated webhook secret still signs"),
    Setting("BIND", "127.0.0.1:8000", "ringtrail serve: address gunicorn listens on", "command"),
    Setting("WORKERS", None, "ringtrail serve: gunicorn workers; default 2 x cores + 1", "command"),
    Setting("THREADS", 4, "ringtrail serve: threads per worker", "command"),
    Setting("NEW_USER_PASSWORD", None, "ringtrail user create: the password", "command"),
    Setting("TEST_REDIS_URL", None, "tests: a Redis of your own (it must be empty)", "tests"),
    Setting("TEST_DATABASE_URL", None, "tests: also run storage tests on PostgreSQL", "tests"),
    Setting("VENV", ".venv", "tests/run.sh: the virtualenv to use", "tests"),
)

BY_NAME = {s.name: s for s in SETTINGS}
APP_DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS if s.scope == "app"}


def from_env(name: str, environ: dict[str, str] | None = None) -> Any:
    """A command setting from the environment (JSON-decoded, as Flask does), else its
    default; a setting that is not declared is a bug, so it raises KeyError."""
    setting = BY_NAME[name]
    raw = (os.environ if environ is None else environ).get(setting.env)
    if raw is None:
        return setting.default
    try:
        return json.loads(raw)
    except ValueError:
        return raw
