"""The client's "Ad platforms" page and a call's upload status, in the dashboard; the
admin API's routes for the same; report-only users read and never get a form."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ringtrail.outbound.platforms import send
from ringtrail.storage.models import AdDestination
from tests.helpers import bearer, log_in, make_site, make_user, new_key
from tests.outbound.platforms.helpers import REFRESH, completed_call


@pytest.fixture
def app_config(app_config):
    return app_config | {"WTF_CSRF_ENABLED": False}


FORM = {
    "account_id": "123-456-7890",
    "conversion_action_id": "555",
    "oauth_client_id": "dash.apps.googleusercontent.com",
    "oauth_client_secret": "dash-secret-value",
    "refresh_token": REFRESH,
    "lead_status": ["qualified", "customer"],
    "min_duration_seconds": "",
    "min_confidence": "late",
    "default_value": "80.00",
    "currency": "usd",
    "enabled": "on",
}


def test_a_manager_connects_google_ads_tests_it_and_sees_a_calls_upload(app, client, db, google):
    setup = make_site(db, numbers=1)
    google.refresh_tokens.add(REFRESH)
    log_in(client, make_user(db, setup, "client_manager", setup.client))
    page = f"/dashboard/settings/clients/{setup.client.id}/ad-platforms"
    assert 'id="form-google_ads"' in client.get(page).get_data(as_text=True)
    res = client.post(f"{page}/google_ads", data=FORM)
    assert res.status_code == 302
    dest = db.scalar(select(AdDestination))
    assert (dest.account_id, dest.lead_statuses, dest.default_value_minor) == (
        "1234567890",
        ["qualified", "customer"],
        8000,
    )
    assert dest.min_duration_seconds is None and dest.refresh_token.startswith("fernet:")
    from ringtrail.storage.models import AuditEntry

    entry = db.scalar(select(AuditEntry).where(AuditEntry.object_type == "ad_destination"))
    assert entry.details["secrets"] == ["oauth_client_secret", "refresh_token"]
    assert "dash-secret-value" not in str(entry.details) and REFRESH not in str(entry.details)
    client.post(f"{page}/google_ads/test")
    shown = client.get(page).get_data(as_text=True)
    assert "the connection works" in shown and "dash-secret-value" not in shown
    assert google.ingested[-1]["validateOnly"] is True

    call = completed_call(db, setup)
    detail = client.get(f"/dashboard/calls/{call.id}").get_data(as_text=True)
    assert 'id="uploads"' in detail and 'data-status="skipped"' in detail
    assert "not a conversion by this destination" in detail


def test_a_paused_destination_says_why_and_errors_are_listed(app, client, db, google):
    setup = make_site(db, numbers=1)
    google.refresh_tokens.add(REFRESH)
    log_in(client, make_user(db, setup, "agency_admin"))
    page = f"/dashboard/settings/clients/{setup.client.id}/ad-platforms"
    client.post(f"{page}/google_ads", data=FORM | {"min_duration_seconds": "60"})
    completed_call(db, setup, click_ids={"gclid": "bad-one"})
    with app.app_context():
        send.send_due()
    google.refresh_tokens.clear()
    completed_call(db, setup)
    with app.app_context():
        send.send_due()
    shown = client.get(page).get_data(as_text=True)
    assert 'id="paused-google_ads"' in shown and "invalid_grant" in shown
    assert 'id="errors-google_ads"' in shown and "invalid gclid" in shown


def test_report_only_users_read_without_forms_and_cannot_post(app, client, db, google):
    setup = make_site(db, numbers=1)
    log_in(client, make_user(db, setup, "report_only", setup.client))
    page = f"/dashboard/settings/clients/{setup.client.id}/ad-platforms"
    assert 'id="form-google_ads"' not in client.get(page).get_data(as_text=True)
    assert client.post(f"{page}/google_ads", data=FORM).status_code == 403
    assert db.scalar(select(AdDestination)) is None


def test_a_hipaa_client_page_says_why_it_is_off(app, client, db):
    setup = make_site(db, numbers=1)
    setup.client.hipaa = True
    db.commit()
    log_in(client, make_user(db, setup, "agency_admin"))
    page = client.get(f"/dashboard/settings/clients/{setup.client.id}/ad-platforms")
    text = page.get_data(as_text=True)
    assert 'id="hipaa-off"' in text and "regulators" in text and 'id="form-' not in text


def test_the_api_connects_lists_tests_and_shows_a_calls_uploads(app, client, db, google):
    setup = make_site(db, numbers=1)
    google.refresh_tokens.add(REFRESH)
    key = bearer(new_key(app, setup.agency.id))
    base = f"/api/v1/clients/{setup.client.id}/ad-platforms"
    body = {k: v for k, v in FORM.items() if k in ("account_id", "conversion_action_id")}
    body |= {
        "oauth_client_id": "api.apps.googleusercontent.com",
        "oauth_client_secret": "api-secret-value",
        "refresh_token": REFRESH,
        "lead_statuses": ["qualified"],
    }
    res = client.put(f"{base}/google_ads", json=body, headers=key)
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["refresh_token"] == "…test" and "api-secret" not in res.get_data(
        as_text=True
    )
    assert (
        client.put(f"{base}/google_ads", json={"min_confidence": "x"}, headers=key).status_code
        == 422
    )
    assert client.put(f"{base}/meta", json={}, headers=key).status_code == 404
    listed = client.get(base, headers=key).get_json()
    assert [d["platform"] for d in listed] == ["google_ads"]
    assert client.post(f"{base}/google_ads/test", headers=key).get_json()["ok"] is True
    call = completed_call(db, setup, talk=20)  # the 60 s minimum stays: not a conversion
    (upload,) = client.get(f"/api/v1/calls/{call.id}/uploads", headers=key).get_json()
    assert (upload["platform"], upload["status"], upload["reason"]) == (
        "google_ads",
        "skipped",
        "not_a_conversion",
    )
    assert client.delete(f"{base}/google_ads", headers=key).status_code == 204
    assert client.get(base, headers=key).get_json() == []


def test_the_call_log_csv_has_each_calls_upload_status(app, client, db, google):
    import csv
    import io

    setup = make_site(db, numbers=1)
    google.refresh_tokens.add(REFRESH)
    log_in(client, make_user(db, setup, "agency_admin"))
    client.post(
        f"/dashboard/settings/clients/{setup.client.id}/ad-platforms/google_ads",
        data=FORM | {"min_duration_seconds": "60"},
    )
    counted = completed_call(db, setup)
    short = completed_call(db, setup, talk=10)
    with app.app_context():
        send.send_due()
    export = client.get("/dashboard/calls.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = {r["call id"]: r for r in csv.DictReader(io.StringIO(export))}
    assert rows[counted.call_sid]["ad platform uploads"] == "google_ads: accepted"
    assert rows[short.call_sid]["ad platform uploads"] == "google_ads: skipped (not_a_conversion)"
