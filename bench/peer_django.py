"""The peer: call-tracking-django's forward-call webhook, re-created for the benchmark.

Issue 17 asks the voice webhook for at least 3 × the throughput of the forward-call
webhook of TwilioDevEd's call-tracking-django (the Django sample app Twilio publishes for
call tracking; read in its repository, ``call_tracking/views.py``, ``models.py``,
``urls.py`` and ``twilio_sample_project/settings/common.py``). This module re-creates
what that app does for one incoming call, written afresh for Django 5, in one module:

- the view is ``csrf_exempt``; it looks the lead source up by the called number
  (``LeadSource.objects.get(incoming_number=POST["Called"])``), saves a ``Lead`` with the
  caller's number, city and state (``POST["Caller"]``, ``["CallerCity"]``,
  ``["CallerState"]``) through the ORM, and answers TwiML built with the twilio library:
  ``<Dial>`` to the lead source's forwarding number in E.164, in an ``HttpResponse``
  with Django's default content type, as the original does;
- no signature check and nothing queued: the row is written while Twilio waits;
- the models: ``LeadSource`` (name, unique incoming number, forwarding number) and
  ``Lead`` (foreign key to the source, caller's number, a timestamp set on insert, city,
  two-letter state), the numbers as django-phonenumber-field's ``PhoneNumberField``, so
  each lookup, save and load parses the number as there;
- the settings as the original's: ``DEBUG`` off, its middleware stack (sessions, common,
  CSRF, authentication, messages, clickjacking, security) and the contrib apps it
  needs, ``USE_TZ``, every host allowed (its production settings), and the database's
  connection closed after each request (``CONN_MAX_AGE`` 0, as its ``dj_database_url``
  gives).

Departures, for the benchmark: by default SQLite instead of PostgreSQL (one file in
the bench's temporary folder, named by ``BENCH_PEER_DATABASE``), in WAL mode with SQLite's default
``synchronous=FULL``, so each saved lead is one fsync of the log, as PostgreSQL's commit
and the queue Redis's ``appendfsync always`` are (``BENCH_PEER_DATABASE`` may instead
be a PostgreSQL URL, the original's database: ``bench/hotpaths.py --peer-database``;
its server's work, off the app's CPU, is then on the same cores); the tables are made
with the schema editor (no migrations); only the webhook's URL is routed
(``/call-tracking/forward-call``) and the app's other pages (purchase numbers, charts,
admin) are left out.

Served by gunicorn with the same settings as the other bench apps
(``bench.peer_django:application``, bench/gunicorn_bench.py). ``BENCH_PEER_DATABASE=FILE
python bench/peer_django.py INCOMING FORWARDING`` makes the tables and one lead source.
Needs the ``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import unquote, urlsplit

import django
from django.conf import settings

DATABASE = os.environ.get("BENCH_PEER_DATABASE")
if not DATABASE:
    raise RuntimeError("set BENCH_PEER_DATABASE to the peer's SQLite file")

POSTGRESQL = DATABASE.startswith(("postgresql://", "postgres://"))


def database_settings(value: str) -> dict:
    """Django's settings for ``value``: a PostgreSQL URL (the original's database; the
    bench's ``--peer-database``) or an SQLite file. The connection is closed after each
    request either way (``CONN_MAX_AGE`` 0, as the original's ``dj_database_url`` gives)."""
    if not POSTGRESQL:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": value, "CONN_MAX_AGE": 0}
    url = urlsplit(value)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": unquote(url.username or ""),
        "PASSWORD": unquote(url.password or ""),
        "HOST": url.hostname or "",
        "PORT": str(url.port or ""),
        "CONN_MAX_AGE": 0,
    }


if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-peer-not-secret",  # noqa: S106
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            "django.middleware.security.SecurityMiddleware",
        ],
        ROOT_URLCONF=__name__,
        DATABASES={"default": database_settings(DATABASE)},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        LANGUAGE_CODE="en-us",
        TIME_ZONE="UTC",
        USE_I18N=True,
        USE_TZ=True,
        # A failed answer's traceback on stderr (the bench's peer.log), not to the admins.
        LOGGING={
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"stderr": {"class": "logging.StreamHandler"}},
            "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
        },
    )
    django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection, models  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from phonenumber_field.modelfields import PhoneNumberField  # noqa: E402
from twilio.twiml.voice_response import VoiceResponse  # noqa: E402

APP_LABEL = "call_tracking"


class LeadSource(models.Model):
    name = models.CharField(max_length=100, blank=True)
    incoming_number = PhoneNumberField(unique=True)
    forwarding_number = PhoneNumberField(blank=True)

    class Meta:
        app_label = APP_LABEL


class Lead(models.Model):
    source = models.ForeignKey(LeadSource, on_delete=models.CASCADE)
    phone_number = PhoneNumberField()
    timestamp = models.DateTimeField(auto_now_add=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2)

    class Meta:
        app_label = APP_LABEL


@csrf_exempt
def forward_call(request):
    """One incoming call: find its lead source, record the lead, dial the business."""
    source = LeadSource.objects.get(incoming_number=request.POST["Called"])
    Lead(
        source=source,
        phone_number=request.POST["Caller"],
        city=request.POST["CallerCity"],
        state=request.POST["CallerState"],
    ).save()
    answer = VoiceResponse()
    answer.dial(source.forwarding_number.as_e164)
    return HttpResponse(str(answer))


urlpatterns = [path("call-tracking/forward-call", forward_call, name="forward_call")]

application = WSGIHandler()


def setup_database(incoming: str, forwarding: str) -> LeadSource:
    """Make the tables (an SQLite file in WAL mode; on PostgreSQL, replacing the
    peer's tables of an earlier run) and one lead source; the source."""
    with connection.cursor() as cursor:
        if POSTGRESQL:
            cursor.execute(
                f"DROP TABLE IF EXISTS {Lead._meta.db_table}, {LeadSource._meta.db_table}"
            )
        else:
            cursor.execute("PRAGMA journal_mode=WAL")  # kept in the file
    with connection.schema_editor() as editor:
        editor.create_model(LeadSource)
        editor.create_model(Lead)
    return LeadSource.objects.create(
        name="Bench", incoming_number=incoming, forwarding_number=forwarding
    )


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: BENCH_PEER_DATABASE=FILE peer_django.py INCOMING FORWARDING")
    setup_database(*sys.argv[1:])
    connection.close()


if __name__ == "__main__":
    main()
