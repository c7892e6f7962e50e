"""The admin API of webhook endpoints: made, changed, rotated, tested and resent; bad
input is a 4xx with a reason; the event body is documented and matches what is sent."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from ringtrail.storage.models import Client, WebhookDelivery
from tests.helpers import bearer, make_site, new_key, run_jobs
from tests.outbound.conftest import complete, start_call


@pytest.fixture
def setup(db):
    return make_site(db, numbers=1)


@pytest.fixture
def key(app, setup):
    return new_key(app, setup.agency.id)


def create(client, key, **data):
    return client.post("/api/v1/webhooks", json=data, headers=bearer(key))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({}, "url"),
        ({"url": "ftp://127.0.0.1/x"}, "https://"),
        ({"url": "http://hooks.example.com/x"}, "https://"),
        ({"url": "https://user:pw@hooks.example.com/x"}, "password"),
        ({"url": "https://hooks.example.com/x", "events": ["call.ended"]}, "events"),
        ({"url": "https://hooks.example.com/x", "events": []}, "events"),
        ({"url": "https://hooks.example.com/x", "secret": "mine"}, "secret"),
        ({"url": "https://hooks.example.com/x", "include_caller_number": "yes"}, "true or false"),
        ({"url": "https://hooks.example.com/x", "client_id": 99999}, "client"),
    ],
)
def test_bad_input_is_a_4xx_with_a_reason(client, key, data, reason):
    res = create(client, key, **data)
    assert 400 <= res.status_code < 500, res.get_data(as_text=True)
    assert reason in res.get_data(as_text=True)


def test_an_endpoint_is_made_listed_changed_and_deleted(client, key, setup):
    res = create(client, key, url="http://127.0.0.1:9/hooks", client_id=setup.client.id)
    assert res.status_code == 201, res.get_json()
    made = res.get_json()
    assert made["secret"].startswith("whsec_") and made["state"] == "enabled"
    assert made["events"] == ["call.started", "call.completed", "call.updated"]
    listed = client.get("/api/v1/webhooks", headers=bearer(key)).get_json()
    assert [e["id"] for e in listed["items"]] == [made["id"]]
    assert "secret" not in listed["items"][0]  # shown once only
    path = f"/api/v1/webhooks/{made['id']}"
    changed = client.patch(path, json={"events": ["call.completed"]}, headers=bearer(key))
    assert changed.get_json()["events"] == ["call.completed"]
    off = client.patch(path, json={"enabled": False}, headers=bearer(key)).get_json()
    assert off["state"] == "disabled" and off["state_reason"].startswith("disabled by")
    assert client.patch(path, json={}, headers=bearer(key)).status_code == 422
    assert client.delete(path, headers=bearer(key)).status_code == 204
    assert client.get(path, headers=bearer(key)).status_code == 404


def test_a_client_key_makes_its_clients_endpoints_only(app, client, setup):
    key = new_key(app, setup.agency.id, setup.client.id)
    made = create(client, key, url="https://hooks.example.com/x").get_json()
    assert made["client_id"] == setup.client.id
    agency_key = new_key(app, setup.agency.id)
    agency_wide = create(client, agency_key, url="https://hooks.example.com/all").get_json()
    listed = client.get("/api/v1/webhooks", headers=bearer(key)).get_json()
    assert [e["id"] for e in listed["items"]] == [made["id"]]  # not the agency's own
    path = f"/api/v1/webhooks/{agency_wide['id']}"
    assert client.get(path, headers=bearer(key)).status_code == 404


def test_hipaa_clients_never_send_the_callers_number(app, client, db, key, setup, receivers):
    db.get(Client, setup.client.id).hipaa = True
    db.commit()
    hipaa_client = {"client_id": setup.client.id, "include_caller_number": True}
    refused = create(client, key, url="https://h.example/x", **hipaa_client)
    assert refused.status_code == 422 and "HIPAA" in refused.get_json()["error"]
    receiver = receivers()
    made = create(client, key, url=receiver.url, include_caller_number=True).get_json()
    receiver.secrets.append(made["secret"])
    call = start_call(db, setup, caller="+12125550143", hipaa=True)
    complete(db, call)
    from ringtrail.outbound import delivery

    delivery.sweep()
    assert len(receiver.order) == 2
    for event in receiver.handled.values():
        assert event["data"]["call"]["caller_number"] is None
    for row in db.scalars(select(WebhookDelivery)):
        assert "2125550143" not in row.body


def test_the_callers_number_only_when_asked(app, client, db, key, setup, receivers):
    from ringtrail.outbound import delivery

    asked, not_asked = receivers(), receivers()
    for receiver, include in ((asked, True), (not_asked, False)):
        made = create(client, key, url=receiver.url, include_caller_number=include).get_json()
        receiver.secrets.append(made["secret"])
    start_call(db, setup, caller="+12125550143")
    delivery.sweep()
    (got,) = asked.handled.values()
    (other,) = not_asked.handled.values()
    assert got["data"]["call"]["caller_number"] == "+12125550143"
    assert other["data"]["call"]["caller_number"] is None


def test_rotation_signs_with_both_secrets_for_the_grace(app, client, db, key, setup, receivers):
    old_receiver = receivers()
    made = create(client, key, url=old_receiver.url).get_json()
    old_receiver.secrets.append(made["secret"])
    res = client.post(f"/api/v1/webhooks/{made['id']}/rotate", headers=bearer(key))
    assert res.status_code == 200
    new_secret = res.get_json()["secret"]
    assert new_secret != made["secret"] and res.get_json()["previous_secret_until"]
    new_receiver = receivers(secret=new_secret)
    client.patch(
        f"/api/v1/webhooks/{made['id']}", json={"url": new_receiver.url}, headers=bearer(key)
    )
    start_call(db, setup)
    from ringtrail.outbound import delivery

    delivery.sweep()
    (request,) = new_receiver.requests
    assert request["verified"] and len(request["headers"]["webhook-signature"].split(" ")) == 2
    body = next(iter(new_receiver.bodies))
    Webhook(made["secret"]).verify(body, request["headers"])  # the old one verifies too


def test_test_event_and_resend_by_hand_keep_the_id(app, client, db, key, setup, receivers):
    receiver = receivers()
    made = create(client, key, url=receiver.url).get_json()
    receiver.secrets.append(made["secret"])
    res = client.post(f"/api/v1/webhooks/{made['id']}/test", headers=bearer(key))
    assert res.status_code == 202 and res.get_json()["event"] == "webhook.test"
    run_jobs(app)
    assert [e["type"] for e in receiver.handled.values()] == ["webhook.test"]
    log = client.get(f"/api/v1/webhooks/{made['id']}/deliveries", headers=bearer(key)).get_json()
    (row,) = log["items"]
    assert (row["status"], row["attempts"], row["response_code"]) == ("delivered", 1, 200)
    assert row["latency_ms"] is not None
    again = client.post(f"/api/v1/webhook-deliveries/{row['id']}/resend", headers=bearer(key))
    assert again.status_code == 202
    run_jobs(app)
    detail = client.get(f"/api/v1/webhook-deliveries/{row['id']}", headers=bearer(key))
    detail = detail.get_json()
    assert [a["manual"] for a in detail["log"]] == [True, True] and detail["attempts"] == 2
    assert {r["id"] for r in receiver.requests} == {row["message_id"]}
    assert len(receiver.order) == 1  # the receiver handled that id once


def _keys(schema: dict, components: dict) -> set[str]:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return set(schema.get("properties", {}))


def test_the_body_sent_is_the_documented_webhook_event(app, client, db, key, setup, receivers):
    doc = client.get("/api/v1/openapi.json").get_json()
    components = doc["components"]["schemas"]
    event = components["WebhookEvent"]
    assert _keys(event, components) == {"type", "timestamp", "data"}
    receiver = receivers()
    made = create(client, key, url=receiver.url).get_json()
    receiver.secrets.append(made["secret"])
    start_call(db, setup)
    from ringtrail.outbound import delivery

    delivery.sweep()
    (sent,) = receiver.handled.values()
    assert set(sent) == _keys(event, components)
    data_schema = event["properties"]["data"]
    data_schema = data_schema.get("allOf", [data_schema])[0]
    data_props = components[data_schema["$ref"].rsplit("/", 1)[1]]["properties"]
    assert set(sent["data"]) == set(data_props)
    for part in ("call", "attribution", "outcome"):
        ref = data_props[part].get("allOf", [data_props[part]])[0]
        assert set(sent["data"][part]) == _keys(ref, components), part
