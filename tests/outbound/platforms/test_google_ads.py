"""Google Ads through the Data Manager API, against a local stand-in that speaks its
protocol (the OAuth token endpoint and events:ingest): success, 401, 429, 5xx, a
malformed event, a timeout, refused credentials, batches and validate-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ringtrail.outbound.platforms import destinations, google_ads, send
from ringtrail.storage.models import AdDestination, AdUpload, utcnow
from tests.helpers import make_site, run_jobs
from tests.outbound.platforms.helpers import completed_call, connect_google


def row_of(db, call) -> AdUpload:
    db.expire_all()
    return db.scalar(
        select(AdUpload).where(AdUpload.call_id == call.id, AdUpload.key == "conversion")
    )


@pytest.mark.postgres
def test_a_queued_call_reaches_google_once_with_its_click_id_consent_and_value(app, db, google):
    setup = make_site(db, numbers=1)
    connect_google(db, google, setup, default_value_minor=4250, currency="USD")
    call = completed_call(db, setup, click_ids={"gclid": "EAIaIQ-the-click"})
    run_jobs(app)  # the job queued after the listener's commit
    run_jobs(app)
    with app.app_context():
        send.send_due()  # and the sweep: nothing left to send
    (event,) = google.events()
    assert event["adIdentifiers"] == {"gclid": "EAIaIQ-the-click"}
    assert event["transactionId"] == call.call_sid
    assert event["consent"] == {
        "adUserData": "CONSENT_GRANTED",
        "adPersonalization": "CONSENT_GRANTED",
    }
    assert (event["conversionValue"], event["currency"]) == (42.5, "USD")
    assert event["eventTimestamp"] == call.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = google.ingested[0]
    assert body["destinations"] == [
        {
            "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
            "productDestinationId": "987654321",
        }
    ]
    row = row_of(db, call)
    assert (row.status, row.attempts) == ("accepted", 1)
    assert row.request_id.startswith("req-")


def test_a_visit_without_consent_goes_with_consent_denied(app, db, google):
    setup = make_site(db, numbers=1)
    connect_google(db, google, setup)
    completed_call(db, setup, consent=None, click_ids={"wbraid": "wb-1"})
    with app.app_context():
        send.send_due()
    (event,) = google.events()
    assert event["adIdentifiers"] == {"wbraid": "wb-1"}
    assert set(event["consent"].values()) == {"CONSENT_DENIED"}


@pytest.mark.parametrize("failure", [429, 500, "hang"])
def test_429_5xx_and_a_timeout_are_retried_later_with_backoff(app, db, google, failure):
    setup = make_site(db, numbers=1)
    connect_google(db, google, setup)
    call = completed_call(db, setup)
    app.config["UPLOAD_TIMEOUT"] = 1.0
    google.hang_seconds = 3.0  # past RINGTRAIL_UPLOAD_TIMEOUT
    google.failures.append(failure)
    now = utcnow()
    with app.app_context():
        send.send_due(now)
    row = row_of(db, call)
    assert row.status == "queued" and row.attempts == 1
    assert row.next_attempt_at >= now + timedelta(seconds=55)
    assert row.reason
    app.config["UPLOAD_TIMEOUT"] = 10.0
    with app.app_context():
        assert send.send_due(now) == {}  # not due yet
        send.send_due(now + timedelta(minutes=2))
    assert row_of(db, call).status == "accepted"
    assert len(google.events()) == 1


def test_a_malformed_event_is_rejected_with_googles_reason_and_the_others_go(app, db, google):
    setup = make_site(db, numbers=1)
    connect_google(db, google, setup)
    good = completed_call(db, setup, click_ids={"gclid": "good-click"})
    bad = completed_call(db, setup, click_ids={"gclid": "bad-click"})
    with app.app_context():
        send.send_due()
    assert row_of(db, good).status == "accepted"
    rejected = row_of(db, bad)
    assert rejected.status == "rejected"
    assert "invalid gclid" in rejected.reason and "ad_identifiers.gclid" in rejected.reason
    assert [e["adIdentifiers"]["gclid"] for e in google.events()] == ["good-click"]


def test_a_401_pauses_the_destination_keeps_the_rows_and_reconnecting_resumes(app, db, google):
    setup = make_site(db, numbers=1)
    dest = connect_google(db, google, setup)
    call = completed_call(db, setup)
    google.failures.append(401)
    with app.app_context():
        send.send_due()
    db.expire_all()
    dest = db.get(AdDestination, dest.id)
    assert dest.paused_at is not None and "401" in dest.paused_reason
    assert row_of(db, call).status == "queued"
    with app.app_context():
        assert send.send_due(utcnow() + timedelta(hours=1)) == {}  # paused: nothing goes
    destinations.connect(db, setup.client, "google_ads", {"refresh_token": "1//new-token"})
    google.refresh_tokens.add("1//new-token")
    db.commit()
    with app.app_context():
        send.send_due()
    assert row_of(db, call).status == "accepted"
    assert db.get(AdDestination, dest.id).paused_at is None


def test_a_revoked_refresh_token_pauses_with_invalid_grant(app, db, google):
    setup = make_site(db, numbers=1)
    dest = connect_google(db, google, setup)
    completed_call(db, setup)
    google.refresh_tokens.clear()  # revoked at Google
    with app.app_context():
        send.send_due()
    db.expire_all()
    paused = db.get(AdDestination, dest.id)
    assert paused.paused_at is not None and "invalid_grant" in paused.paused_reason
    assert google.events() == []


def test_a_failing_destination_does_not_hold_up_another_clients(app, db, google):
    first, second = make_site(db, numbers=1), make_site(db, numbers=1, number_start=10)
    connect_google(db, google, first)
    connect_google(db, google, second)
    a = completed_call(db, first)
    b = completed_call(db, second)
    google.failures.append(500)
    with app.app_context():
        send.send_due()
    statuses = sorted([row_of(db, a).status, row_of(db, b).status])
    assert statuses == ["accepted", "queued"]


def test_events_go_in_requests_of_at_most_2000(app, db, google):
    setup = make_site(db, numbers=1)
    dest = connect_google(db, google, setup)
    call = completed_call(db, setup)
    events = [google_ads.build_event(call, row_of(db, call))] * 2001
    with pytest.raises(ValueError, match="2,000"):
        google_ads.ingest(dest, events)
    with app.app_context():
        answer = google_ads.ingest(db.get(AdDestination, dest.id), events[:2000])
    assert answer.kind == "ok" and len(google.ingested[-1]["events"]) == 2000


def test_test_connection_is_validate_only(app, db, google):
    setup = make_site(db, numbers=1)
    dest = connect_google(db, google, setup)
    with app.app_context():
        assert destinations.test_connection(dest).kind == "ok"
    assert google.ingested[-1]["validateOnly"] is True
    assert google.events() == []
    google.refresh_tokens.clear()
    with app.app_context():
        answer = destinations.test_connection(dest)
    assert answer.kind == "auth" and "invalid_grant" in answer.reason


def test_a_pause_emails_the_agencys_admins_once(app, db, google):
    from ringtrail.storage.models import OutboundMessage
    from tests.helpers import make_user

    setup = make_site(db, numbers=1)
    admin = make_user(db, setup, "agency_admin")
    make_user(db, setup, "client_manager", setup.client)  # a client's user is not told
    connect_google(db, google, setup)
    completed_call(db, setup)
    completed_call(db, setup)
    google.failures.extend([401, 401])
    with app.app_context():
        send.send_due()
        send.send_due(utcnow() + timedelta(hours=1))  # paused: nothing more is tried
    (mail,) = db.scalars(select(OutboundMessage)).all()
    assert mail.recipients == [admin.email] and mail.channel == "email"
    assert "Google Ads uploads paused" in mail.subject and "401" in mail.body
    assert mail.agency_id == setup.agency.id
