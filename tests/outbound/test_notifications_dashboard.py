"""The Notifications page: everyone sets their own, report-only users too; only managers
set others' and the client's Slack URL; tenants stay apart; e-mail off is said."""

from __future__ import annotations

import pytest

from ringtrail.crypto import unseal
from ringtrail.outbound import preferences
from ringtrail.storage.models import ClientNotifications, User
from tests.helpers import log_in, make_site, make_user


@pytest.fixture
def app_config(app_config):
    return app_config | {"WTF_CSRF_ENABLED": False}


def prefs(db, user_id):
    db.expire_all()
    return preferences.preferences_of(db, db.get(User, user_id))[0]


def test_a_report_only_user_sets_their_own_and_never_anothers(app, db, client):
    setup = make_site(db, numbers=1)
    reader = make_user(db, setup, "report_only", client=setup.client)
    other = make_user(db, setup, "report_only", client=setup.client)
    log_in(client, reader)

    page = client.get("/dashboard/notifications")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "E-mail is off" in html and "RINGTRAIL_SMTP_URL" in html
    assert "Slack and summaries, per client" not in html  # a reader sets no Slack URL

    mine = f"/dashboard/users/{reader.id}/notifications/{setup.client.id}"
    res = client.post(mine, data={"missed_calls": "1", "by_email": "1"})
    assert res.status_code == 302
    got = prefs(db, reader.id)
    assert got["missed_calls"] and got["by_email"] and not got["new_calls"]

    theirs = f"/dashboard/users/{other.id}/notifications/{setup.client.id}"
    res = client.post(theirs, data={"new_calls": "1"}, follow_redirects=True)
    assert "only an agency admin or a client manager" in res.get_data(as_text=True)
    assert prefs(db, other.id)["new_calls"] is False
    res = client.post(
        f"/dashboard/clients/{setup.client.id}/notifications",
        data={"slack_webhook_url": "https://hooks.slack.com/services/x"},
    )
    assert res.status_code == 403
    assert db.get(ClientNotifications, setup.client.id) is None


def test_a_manager_sets_a_users_and_the_clients_slack_url_which_is_never_shown(app, db, client):
    setup = make_site(db, numbers=1)
    manager = make_user(db, setup, "client_manager", client=setup.client)
    reader = make_user(db, setup, "report_only", client=setup.client)
    log_in(client, manager)
    res = client.post(
        f"/dashboard/users/{reader.id}/notifications/{setup.client.id}",
        data={"weekly_summary": "1", "by_slack": "1"},
    )
    assert res.headers["Location"].endswith(f"/dashboard/notifications?user={reader.id}")
    got = prefs(db, reader.id)
    assert got["weekly_summary"] and got["by_slack"] and not got["by_email"]

    secret = "https://hooks.slack.com/services/T1/B2/page-secret"
    res = client.post(
        f"/dashboard/clients/{setup.client.id}/notifications",
        data={"slack_webhook_url": secret, "summary_hour": "7"},
        follow_redirects=True,
    )
    html = res.get_data(as_text=True)
    assert "notification settings saved" in html and "page-secret" not in html
    assert "set: type a new one to replace it" in html
    db.expire_all()
    row = db.get(ClientNotifications, setup.client.id)
    assert unseal(row.slack_webhook_url) == secret and row.summary_hour == 7

    res = client.post(
        f"/dashboard/clients/{setup.client.id}/notifications",
        data={"slack_webhook_url": "ftp://nope"},
        follow_redirects=True,
    )
    assert "starts with https://" in res.get_data(as_text=True)
    page = client.get(f"/dashboard/notifications?user={reader.id}").get_data(as_text=True)
    assert f"What {reader.email} is told" in page


def test_another_agencys_user_and_client_are_404(app, db, client):
    a = make_site(db, numbers=1)
    b = make_site(db, numbers=1, number_start=50)
    admin_a = make_user(db, a, "agency_admin")
    user_b = make_user(db, b, "agency_admin")
    log_in(client, admin_a)
    assert client.get(f"/dashboard/notifications?user={user_b.id}").status_code == 404
    for path in (
        f"/dashboard/users/{user_b.id}/notifications/{b.client.id}",
        f"/dashboard/users/{admin_a.id}/notifications/{b.client.id}",
        f"/dashboard/clients/{b.client.id}/notifications",
    ):
        assert client.post(path, data={"new_calls": "1"}).status_code == 404, path


def test_the_page_is_reached_from_the_account_and_the_clients_settings(app, db, client):
    setup = make_site(db, numbers=1)
    manager = make_user(db, setup, "client_manager", client=setup.client)
    log_in(client, manager)
    account = client.get("/dashboard/account").get_data(as_text=True)
    assert 'href="/dashboard/notifications"' in account
    settings = client.get(f"/dashboard/settings/clients/{setup.client.id}")
    assert settings.status_code == 200
    assert f"/dashboard/notifications#client-notify-{setup.client.id}" in settings.get_data(
        as_text=True
    )
