"""Factories for the upload tests: a client with destinations and calls with visits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ringtrail.calls import hooks
from ringtrail.outbound.platforms import destinations
from tests.helpers import add_call

REFRESH = "1//refresh-token-of-the-test"
GOOGLE = {
    "account_id": "123-456-7890",
    "conversion_action_id": "987654321",
    "oauth_client_id": "client.apps.googleusercontent.com",
    "oauth_client_secret": "GOCSPX-client-secret",
    "refresh_token": REFRESH,
}
GA4 = {"measurement_id": "G-TEST1234", "api_secret": "ga4-api-secret-xyz"}


def connect_google(db, google, setup, **extra):
    google.refresh_tokens.add(REFRESH)
    dest = destinations.connect(db, setup.client, "google_ads", GOOGLE | extra)
    db.commit()
    return dest


def connect_ga4(db, google, setup, **extra):
    google.ga4_secrets[GA4["measurement_id"]] = GA4["api_secret"]
    dest = destinations.connect(db, setup.client, "ga4", GA4 | extra)
    db.commit()
    return dest


def completed_call(db, setup, *, click_ids=None, consent="granted", ga4=None, talk=90, **kw):
    """A completed call with a visit, and its "completed" hook, committed."""
    visit = {"click_ids": click_ids if click_ids is not None else {"gclid": "EAIaIQgclid1"}}
    visit |= {"consent": consent, "ga4": ga4}
    started = datetime.now(UTC) - timedelta(minutes=10)
    call = add_call(db, setup, started, talk=talk, visit=visit, **kw)
    hooks.emit(db, call, hooks.COMPLETED)
    db.commit()
    return call
