"""Notification preferences through the admin API: who may change whose, bad input is a
4xx with a reason, the Slack URL is sealed and never shown back, tenants stay apart."""

from __future__ import annotations

from sqlalchemy import select

from ringtrail.crypto import unseal
from ringtrail.storage.models import AuditEntry, Client, ClientNotifications
from tests.helpers import bearer, make_site, make_user, new_key


def test_an_agency_key_sets_a_users_preferences_for_a_client(app, db, client):
    setup = make_site(db, numbers=1)
    user = make_user(db, setup, "client_manager", client=setup.client)
    key = new_key(app, setup.agency.id)
    url = f"/api/v1/users/{user.id}/notifications"

    listed = client.get(url, headers=bearer(key)).get_json()
    assert listed["total"] == 1
    assert listed["items"][0] | {"client_name": None} == {
        "client_id": setup.client.id,
        "client_name": None,
        "new_calls": False,
        "missed_calls": False,
        "first_time_callers": False,
        "qualified_leads": False,
        "daily_summary": False,
        "weekly_summary": False,
        "by_email": True,
        "by_slack": False,
    }
    res = client.patch(
        f"{url}/{setup.client.id}",
        json={"missed_calls": True, "weekly_summary": True},
        headers=bearer(key),
    )
    assert res.status_code == 200, res.get_json()
    got = client.get(url, headers=bearer(key)).get_json()["items"][0]
    assert got["missed_calls"] and got["weekly_summary"] and not got["new_calls"]
    audit = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "notifications"))
    assert [e.details["changes"]["missed_calls"] for e in audit] == [[False, True]]

    assert client.delete(f"{url}/{setup.client.id}", headers=bearer(key)).status_code == 204
    assert not client.get(url, headers=bearer(key)).get_json()["items"][0]["missed_calls"]


def test_bad_input_is_a_4xx_with_a_reason(app, db, client):
    setup = make_site(db, numbers=1)
    other_client = Client(agency_id=setup.agency.id, name="Other", business_number="+12125550100")
    db.add(other_client)
    db.commit()
    user = make_user(db, setup, "client_manager", client=setup.client)
    key = new_key(app, setup.agency.id)
    url = f"/api/v1/users/{user.id}/notifications/{setup.client.id}"
    for body in ({}, {"new_calls": "often"}, {"colour": True}):
        res = client.patch(url, json=body, headers=bearer(key))
        assert res.status_code == 422, (body, res.status_code)
        assert res.get_json()["error"]
    # The client's user cannot be told about another client of the agency.
    res = client.patch(
        f"/api/v1/users/{user.id}/notifications/{other_client.id}",
        json={"new_calls": True},
        headers=bearer(key),
    )
    assert res.status_code == 422 and "cannot be told" in res.get_json()["error"]
    settings = f"/api/v1/clients/{setup.client.id}/notifications"
    for body in (
        {"slack_webhook_url": "javascript:alert(1)"},
        {"summary_hour": 24},
        {"summary_hour": "8"},
    ):
        res = client.patch(settings, json=body, headers=bearer(key))
        assert res.status_code == 422, (body, res.status_code)


def test_the_slack_url_is_sealed_and_never_shown(app, db, client):
    setup = make_site(db, numbers=1)
    key = new_key(app, setup.agency.id, setup.client.id)  # a client key may set it
    url = f"/api/v1/clients/{setup.client.id}/notifications"
    slack = "https://hooks.slack.com/services/T1/B2/very-secret"
    res = client.patch(
        url, json={"slack_webhook_url": slack, "summary_hour": 7}, headers=bearer(key)
    )
    assert res.status_code == 200, res.get_json()
    shown = client.get(url, headers=bearer(key))
    assert shown.get_json() == {
        "client_id": setup.client.id,
        "slack": True,
        "summary_hour": 7,
        "email_enabled": False,
    }
    assert b"very-secret" not in shown.data and b"very-secret" not in res.data
    stored = db.get(ClientNotifications, setup.client.id)
    db.refresh(stored)
    assert "very-secret" not in stored.slack_webhook_url
    assert unseal(stored.slack_webhook_url) == slack
    audit = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "client_notifications"))
    assert all("very-secret" not in str(e.details) for e in audit)

    assert (
        client.patch(url, json={"slack_webhook_url": None}, headers=bearer(key)).status_code == 200
    )
    assert client.get(url, headers=bearer(key)).get_json()["slack"] is False


def test_a_client_key_sees_only_its_clients_users(app, db, client):
    setup = make_site(db, numbers=1)
    admin = make_user(db, setup, "agency_admin")
    mine = make_user(db, setup, "report_only", client=setup.client)
    key = new_key(app, setup.agency.id, setup.client.id)
    assert (
        client.get(f"/api/v1/users/{mine.id}/notifications", headers=bearer(key)).status_code == 200
    )
    assert (
        client.get(f"/api/v1/users/{admin.id}/notifications", headers=bearer(key)).status_code
        == 404
    )
    res = client.patch(
        f"/api/v1/users/{admin.id}/notifications/{setup.client.id}",
        json={"new_calls": True},
        headers=bearer(key),
    )
    assert res.status_code == 404


def test_another_agency_gets_404_for_users_and_clients(app, db, client):
    a = make_site(db, numbers=1)
    b = make_site(db, numbers=1, number_start=50)
    user_b = make_user(db, b, "agency_admin")
    key_a = new_key(app, a.agency.id)
    for method, path in (
        ("GET", f"/api/v1/users/{user_b.id}/notifications"),
        ("PATCH", f"/api/v1/users/{user_b.id}/notifications/{b.client.id}"),
        ("DELETE", f"/api/v1/users/{user_b.id}/notifications/{b.client.id}"),
        ("GET", f"/api/v1/clients/{b.client.id}/notifications"),
        ("PATCH", f"/api/v1/clients/{b.client.id}/notifications"),
    ):
        res = client.open(path, method=method, json={"new_calls": True}, headers=bearer(key_a))
        assert res.status_code == 404, (method, path, res.status_code)
    # A's own user cannot be pointed at B's client either.
    user_a = make_user(db, a, "agency_admin")
    res = client.patch(
        f"/api/v1/users/{user_a.id}/notifications/{b.client.id}",
        json={"new_calls": True},
        headers=bearer(key_a),
    )
    assert res.status_code == 404
