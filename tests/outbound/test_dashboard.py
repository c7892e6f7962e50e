"""Dashboard pages of webhooks: made and resent by editors, read by report-only users
(who change nothing), and a paused endpoint shown where people look."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from ringtrail.outbound import delivery
from ringtrail.storage.models import WebhookDelivery, WebhookEndpoint, utcnow
from tests.helpers import log_in, make_site, make_user, run_jobs
from tests.outbound.conftest import endpoint_for, start_call


@pytest.fixture
def app_config(app_config):
    return app_config | {"WTF_CSRF_ENABLED": False}


def test_an_admin_adds_an_endpoint_and_resends_from_its_log(app, client, db, receivers):
    setup = make_site(db, numbers=1)
    log_in(client, make_user(db, setup))
    receiver = receivers(answers=[500])
    page = client.post(
        "/dashboard/settings/webhooks",
        data={"url": receiver.url, "client_id": str(setup.client.id), "events": ["call.started"]},
    )
    assert page.status_code == 200
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", page.get_data(as_text=True)).group(0)
    receiver.secrets.append(secret)
    endpoint = db.scalar(select(WebhookEndpoint))
    assert endpoint.events == ["call.started"] and endpoint.client_id == setup.client.id
    bad = client.post("/dashboard/settings/webhooks", data={"url": "ftp://x", "events": []})
    assert bad.status_code == 422
    start_call(db, setup)
    delivery.sweep()
    path = f"/dashboard/settings/webhooks/{endpoint.id}"
    log = client.get(path).get_data(as_text=True)
    assert "answered 500" in log and "send again" in log
    row = db.scalar(select(WebhookDelivery))
    res = client.post(f"/dashboard/settings/webhook-deliveries/{row.id}/resend")
    assert res.status_code == 302
    run_jobs(app)
    assert len(receiver.order) == 1
    db.expire_all()  # the test's session is the requests' too (one app context)
    assert "delivered" in client.get(path).get_data(as_text=True)
    assert client.get(path + "?status=nope").status_code == 200  # a filter of nothing
    rotated = client.post(path + "/rotate").get_data(as_text=True)
    assert re.search(r"whsec_", rotated) and secret not in rotated


def test_report_only_users_read_but_change_nothing(app, client, db, receivers):
    setup = make_site(db, numbers=1)
    endpoint = endpoint_for(db, setup, receivers())
    start_call(db, setup)
    reader = make_user(db, setup, role="report_only", client=setup.client)
    log_in(client, reader)
    path = f"/dashboard/settings/webhooks/{endpoint.id}"
    page = client.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Delivery log" in text and "send again" not in text and "Rotate" not in text
    assert client.get("/dashboard/settings/webhooks").status_code == 200
    row = db.scalar(select(WebhookDelivery))
    for target in (
        "/dashboard/settings/webhooks",
        path + "/disable",
        path + "/rotate",
        path + "/delete",
        path + "/test",
        f"/dashboard/settings/webhook-deliveries/{row.id}/resend",
    ):
        assert client.post(target, data={"url": "https://x.example"}).status_code == 403, target
    db.expire_all()
    assert db.get(WebhookEndpoint, endpoint.id).state == "enabled"


def test_a_client_manager_cannot_touch_the_agencys_own_endpoints(app, client, db, receivers):
    setup = make_site(db, numbers=1)
    agency_wide = endpoint_for(db, setup, receivers(), client=False)
    log_in(client, make_user(db, setup, role="client_manager", client=setup.client))
    form = {"url": "https://x.example/h", "events": ["call.completed"]}
    res = client.post("/dashboard/settings/webhooks", data=form)
    assert res.status_code == 200  # made for the manager's client, never the agency's
    made = db.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()[-1]
    assert made.client_id == setup.client.id
    assert client.get(f"/dashboard/settings/webhooks/{agency_wide.id}").status_code == 404
    mine = client.get(f"/dashboard/settings/webhooks?client={setup.client.id}")
    assert "x.example/h" in mine.get_data(as_text=True)
    other = make_site(db, numbers=1, number_start=40)
    assert client.get(f"/dashboard/settings/webhooks?client={other.client.id}").status_code == 404


def test_a_paused_endpoint_is_shown(app, client, db, receivers):
    setup = make_site(db, numbers=1)
    receiver = receivers()
    endpoint = endpoint_for(db, setup, receiver)
    receiver.down()
    start_call(db, setup)
    t0 = utcnow()
    delivery.sweep(t0)
    delivery.sweep(t0 + timedelta(days=3, hours=1))
    db.expire_all()
    log_in(client, make_user(db, setup))
    settings = client.get("/dashboard/settings").get_data(as_text=True)
    assert "1 endpoint paused" in settings
    page = client.get(f"/dashboard/settings/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "Paused" in page and "Failing for 3 days" in page and "waits (paused)" in page
    assert "paused" in client.get("/dashboard/settings/webhooks").get_data(as_text=True)
