"""GA4 through the Measurement Protocol, against a local /mp/collect stand-in."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ringtrail.outbound.platforms import destinations, send
from ringtrail.storage.models import AdDestination, AdUpload, utcnow
from tests.helpers import make_site
from tests.outbound.platforms.helpers import GA4, completed_call, connect_ga4


def row_of(db, call) -> AdUpload:
    db.expire_all()
    return db.scalar(select(AdUpload).where(AdUpload.call_id == call.id))


def test_the_event_carries_client_id_session_id_value_and_consent(app, db, google):
    setup = make_site(db, numbers=1)
    connect_ga4(db, google, setup, event_name="qualified_call", default_value_minor=1999)
    call = completed_call(db, setup, ga4={"cid": "1234.5678", "sid": "1733000000"})
    with app.app_context():
        send.send_due()
    ((query, body),) = google.collected
    assert query == {"measurement_id": GA4["measurement_id"], "api_secret": GA4["api_secret"]}
    assert body["client_id"] == "1234.5678"
    assert body["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"}
    (event,) = body["events"]
    assert event["name"] == "qualified_call"
    assert event["params"]["session_id"] == "1733000000"
    assert (event["params"]["value"], event["params"]["currency"]) == (19.99, "USD")
    assert event["params"]["transaction_id"] == call.call_sid
    assert body["timestamp_micros"] == int(call.started_at.timestamp() * 1_000_000)
    assert row_of(db, call).status == "sent"  # GA4 confirms nothing


def test_429_and_5xx_are_retried_and_401_pauses(app, db, google):
    setup = make_site(db, numbers=1)
    dest = connect_ga4(db, google, setup)
    call = completed_call(db, setup, ga4={"cid": "1.2"})
    google.failures.extend([429, 500])
    now = utcnow()
    with app.app_context():
        send.send_due(now)
    assert (row_of(db, call).status, row_of(db, call).attempts) == ("queued", 1)
    with app.app_context():
        send.send_due(now + timedelta(minutes=2))
    assert row_of(db, call).attempts == 2
    google.failures.append(401)
    with app.app_context():
        send.send_due(now + timedelta(hours=1))
    db.expire_all()
    assert db.get(AdDestination, dest.id).paused_at is not None
    assert google.collected == []


def test_test_connection_reads_the_validation_servers_messages(app, db, google):
    setup = make_site(db, numbers=1)
    dest = connect_ga4(db, google, setup)
    with app.app_context():
        assert destinations.test_connection(dest).kind == "ok"
        google.ga4_secrets.clear()
        answer = destinations.test_connection(dest)
    assert answer.kind == "rejected" and "API secret" in answer.reason
