"""The admin API: CRUD, validation, CSV import, calls, keys and their scope."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ringtrail.storage.models import ApiKey, AuditEntry, Call, TrackingNumber
from ringtrail.tracking.directory import site_for_key
from tests.helpers import BUSINESS, HUMAN_UA, ORIGIN, bearer, make_site, new_key, tracking_numbers


@pytest.fixture
def tenant(app, db):
    """One agency with a site, a pool of 3 numbers and an agency-wide key."""
    setup = make_site(db, numbers=3)
    setup.extra["key"] = new_key(app, setup.agency.id)
    return setup


@pytest.fixture
def api(client, tenant):
    """Call the API as the tenant's agency key."""

    def call(method: str, path: str, body=None, key=None, **kw):
        headers = bearer(key or tenant.extra["key"])
        if body is not None:
            kw["json"] = body
        return client.open("/api/v1" + path, method=method, headers=headers, **kw)

    return call


@pytest.mark.postgres
def test_crud_of_a_whole_tree_is_audited_and_reaches_the_directory(app, api, tenant, db):
    res = api("POST", "/clients", {"name": "Dental", "business_number": "(415) 555-0111"})
    assert res.status_code == 201, res.get_json()
    client = res.get_json()
    assert client["business_number"] == "+14155550111"
    res = api(
        "POST",
        "/sites",
        {"client_id": client["id"], "name": "Main", "allowed_origins": ["https://dental.example/"]},
    )
    assert res.status_code == 201, res.get_json()
    site = res.get_json()
    assert site["allowed_origins"] == ["https://dental.example"]
    res = api(
        "POST",
        "/pools",
        {"site_id": site["id"], "business_number": "+14155550111", "lease_seconds": 900},
    )
    assert res.status_code == 201, res.get_json()
    pool = res.get_json()
    assert pool["numbers"] == 0
    number = tracking_numbers(1, start=500)[0]
    res = api("POST", "/numbers", {"pool_id": pool["id"], "number": number})
    assert res.status_code == 201, res.get_json()
    assert api("GET", f"/pools/{pool['id']}").get_json()["numbers"] == 1

    res = api("PATCH", f"/pools/{pool['id']}", {"lease_seconds": 1200})
    assert res.status_code == 200 and res.get_json()["lease_seconds"] == 1200
    with app.app_context():
        config = site_for_key(site["public_key"])
        assert config.pools[0].lease_seconds == 1200
        assert config.pools[0].numbers == (number,)

    assert api("DELETE", f"/sites/{site['id']}").status_code == 409  # still has a pool
    listed = api("GET", f"/numbers?pool_id={pool['id']}").get_json()["items"]
    number_id = listed[0]["id"]
    assert api("DELETE", f"/numbers/{number_id}").status_code == 204
    assert api("DELETE", f"/pools/{pool['id']}").status_code == 204
    assert api("DELETE", f"/sites/{site['id']}").status_code == 204
    assert api("DELETE", f"/clients/{client['id']}").status_code == 204
    assert api("GET", f"/clients/{client['id']}").status_code == 404

    db.expire_all()
    trail = [
        (e.action, e.object_type)
        for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))
        if e.actor_type == "key"
    ]
    assert trail == [
        ("create", "client"),
        ("create", "site"),
        ("create", "pool"),
        ("create", "number"),
        ("update", "pool"),
        ("delete", "number"),
        ("delete", "pool"),
        ("delete", "site"),
        ("delete", "client"),
    ]
    update = db.scalar(select(AuditEntry).where(AuditEntry.action == "update"))
    assert update.details == {"lease_seconds": [900, 1200]}
    assert update.agency_id == tenant.agency.id


@pytest.fixture
def other(app, db):
    """A second agency, with its own site and pool."""
    return make_site(db, numbers=2, number_start=100)


def _bad_cases():
    long_name = "x" * 201
    return [
        ("POST", "/clients", {"name": "A", "business_number": "12"}, 422, "not a valid phone"),
        ("POST", "/clients", {"name": "A", "business_number": "+1 415 555"}, 422, "phone"),
        ("POST", "/clients", {"name": "A", "business_number": "call me"}, 422, "phone"),
        ("POST", "/clients", {"name": long_name, "business_number": BUSINESS}, 422, "name"),
        ("POST", "/clients", {"name": "A\x00", "business_number": BUSINESS}, 400, "NUL byte"),
        ("POST", "/clients", {"name": "A\x01", "business_number": BUSINESS}, 422, "control"),
        (
            "POST",
            "/clients",
            {"name": "A", "business_number": BUSINESS, "timezone": "Mars/Base"},
            422,
            "time zone",
        ),
        ("POST", "/clients", {"name": "A", "business_number": BUSINESS, "x": 1}, 422, "Unknown"),
        (
            "POST",
            "/pools",
            {"site_id": "SITE", "business_number": BUSINESS, "lease_seconds": 0},
            422,
            "lease_seconds",
        ),
        (
            "POST",
            "/pools",
            {"site_id": "SITE", "business_number": BUSINESS, "lease_seconds": -60},
            422,
            "lease_seconds",
        ),
        ("PATCH", "/pools/POOL", {"lease_seconds": 0}, 422, "lease_seconds"),
        ("PATCH", "/pools/POOL", {"lease_seconds": "1800"}, 422, "lease_seconds"),
        ("PATCH", "/pools/POOL", {"match_window_seconds": -1}, 422, "match_window"),
        ("PATCH", "/pools/POOL", {"rest_seconds": -1}, 422, "rest_seconds"),
        ("PATCH", "/pools/POOL", {"rest_seconds": 700000}, 422, "rest_seconds"),
        ("PATCH", "/pools/POOL", {"exhaustion_policy": "panic"}, 422, "exhaustion_policy"),
        ("PATCH", "/pools/POOL", {"site_id": 1}, 422, "Unknown field"),
        (
            "POST",
            "/pools",
            {"site_id": "OTHER_SITE", "business_number": BUSINESS},
            404,
            "no such site",
        ),
        ("POST", "/sites", {"client_id": "OTHER_CLIENT", "name": "S"}, 404, "no such client"),
        (
            "POST",
            "/numbers",
            {"pool_id": "OTHER_POOL", "number": "+16285550999"},
            404,
            "no such pool",
        ),
        ("POST", "/keys", {"name": "k", "client_id": "OTHER_CLIENT"}, 404, "no such client"),
        (
            "POST",
            "/sites",
            {"client_id": "CLIENT", "name": "S", "allowed_origins": ["javascript:x"]},
            422,
            "origin",
        ),
        ("POST", "/sites", {"client_id": "CLIENT", "name": "S" * 300}, 422, "name"),
        ("POST", "/numbers", {"pool_id": "POOL", "number": "TRACKING"}, 409, "already in pool"),
        (
            "POST",
            "/numbers",
            {"pool_id": "POOL", "number": "OTHER_TRACKING"},
            409,
            "already in another pool",
        ),
        ("POST", "/numbers", {"pool_id": "POOL", "number": "555-0100"}, 422, "phone"),
        (
            "POST",
            "/numbers",
            {"pool_id": "POOL", "number": "+16285550999", "role": "source"},
            400,
            "needs a source",
        ),
        (
            "POST",
            "/users",
            {"email": "a@b.example", "role": "client_manager", "password": "long enough pw"},
            400,
            "client_id",
        ),
        (
            "POST",
            "/users",
            {"email": "not-an-email", "role": "agency_admin", "password": "long enough pw"},
            422,
            "email",
        ),
        (
            "POST",
            "/users",
            {"email": "a@b.example", "role": "agency_admin", "password": "short"},
            422,
            "password",
        ),
        ("GET", "/calls?confidence=certain", None, 422, "confidence"),
        ("GET", "/calls?per_page=100000", None, 422, "per_page"),
        ("GET", "/calls?since=yesterday", None, 422, "since"),
        ("GET", "/pools/99999999999999999999", None, 404, "no such pool"),
        # Strict types: what the document calls a boolean or an integer, and nothing else.
        ("PATCH", "/pools/POOL", {"record_calls": 0}, 422, "true or false"),
        ("PATCH", "/pools/POOL", {"record_calls": "true"}, 422, "true or false"),
        ("PATCH", "/pools/POOL", {"lease_seconds": True}, 422, "lease_seconds"),
        ("PATCH", "/pools/POOL", {"lease_seconds": 60.0}, 422, "lease_seconds"),
        ("GET", "/calls?per_page=%2B5", None, 422, "per_page"),
        ("GET", "/calls?page=1_0", None, 422, "page"),
        # Text as the document declares it: lengths of the value as sent, not blank.
        ("POST", "/keys", {"name": "   "}, 422, "must not be blank"),
        ("PATCH", "/pools/POOL", {"name": " " * 200 + "x"}, 422, "name"),
        # A patch that changes nothing is a mistake.
        ("PATCH", "/pools/POOL", {}, 422, "send at least one field to change"),
        ("PATCH", "/clients/CLIENT", {}, 422, "send at least one field to change"),
        # A source number needs a source: refused when the request says so.
        (
            "POST",
            "/numbers",
            {"pool_id": "POOL", "number": "+16285550999", "role": "source", "source": None},
            400,
            "needs a source",
        ),
        ("GET", "/pools/0", None, 404, "not found"),
    ]


@pytest.mark.parametrize(("method", "path", "body", "status", "reason"), _bad_cases())
def test_bad_input_gets_a_4xx_with_a_readable_reason(
    api, tenant, other, method, path, body, status, reason
):
    names = {
        "OTHER_SITE": other.site.id,
        "OTHER_CLIENT": other.client.id,
        "OTHER_POOL": other.pool.id,
        "SITE": tenant.site.id,
        "CLIENT": tenant.client.id,
        "POOL": tenant.pool.id,
    }
    strings = {"TRACKING": tenant.numbers[0], "OTHER_TRACKING": other.numbers[0]}
    path = path.replace("POOL", str(tenant.pool.id)) if "/pools/POOL" in path else path
    path = path.replace("CLIENT", str(tenant.client.id))
    if body is not None:
        body = {
            k: names.get(v, strings.get(v, v)) if isinstance(v, str) else v for k, v in body.items()
        }
    res = api(method, path, body)
    assert res.status_code == status, res.get_json()
    error = res.get_json()["error"]
    assert reason.lower() in error.lower(), error


def test_a_405_names_the_allowed_methods(api):
    res = api("TRACE", "/clients")
    assert res.status_code == 405 and "error" in res.get_json()
    assert set(res.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    res = api("PUT", f"/pools/{1}")
    assert res.status_code == 405
    assert {"GET", "PATCH", "DELETE"} <= set(res.headers["Allow"].replace(" ", "").split(","))


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_a_patch_without_a_body_is_refused(api, tenant, content_type):
    kw = {"content_type": content_type} if content_type else {}
    res = api("PATCH", f"/pools/{tenant.pool.id}", **kw)
    assert res.status_code == 422
    assert res.get_json() == {"error": "send at least one field to change"}


def test_a_source_number_without_its_stored_source_is_a_conflict(api, tenant, db):
    number = db.scalar(select(TrackingNumber).where(TrackingNumber.number == tenant.numbers[0]))
    res = api("PATCH", f"/numbers/{number.id}", {"role": "source"})
    assert res.status_code == 409 and "needs a source" in res.get_json()["error"]
    res = api("PATCH", f"/numbers/{number.id}", {"role": "source", "source": "google"})
    assert res.status_code == 200 and res.get_json()["source"] == "google"


def test_malformed_json_and_oversized_bodies_are_4xx(api, client, tenant):
    res = client.post(
        "/api/v1/clients",
        data="{not json",
        headers=bearer(tenant.extra["key"]),
        content_type="application/json",
    )
    assert 400 <= res.status_code < 500 and "error" in res.get_json()
    res = client.post(
        "/api/v1/clients",
        data=json.dumps({"name": "A" * (2 * 1024 * 1024), "business_number": BUSINESS}),
        headers=bearer(tenant.extra["key"]),
        content_type="application/json",
    )
    assert res.status_code == 413 and res.get_json() == {"error": "request body too large"}
    nested = "[" * 10000 + "]" * 10000
    res = client.post(
        "/api/v1/clients",
        data=nested,
        headers=bearer(tenant.extra["key"]),
        content_type="application/json",
    )
    assert 400 <= res.status_code < 500


def test_csv_import_is_all_or_nothing_with_a_reason_per_row(api, client, tenant, other, db):
    path = f"/api/v1/pools/{tenant.pool.id}/numbers/import"
    good = tracking_numbers(2, start=700)
    csv_text = "\n".join(
        [
            "number,role,source",
            "(628) 200-0700",  # good, national format
            good[1],  # good, E.164
            "12345",  # malformed
            "628-200-0700",  # repeated (same number as row 2)
            other.numbers[0],  # another agency's pool
            tenant.numbers[0],  # already in this pool: unchanged
            "+16282000799,source,",  # source without a source
        ]
    )
    res = client.post(
        path, data=csv_text, headers=bearer(tenant.extra["key"]), content_type="text/csv"
    )
    assert res.status_code == 422, res.get_json()
    body = res.get_json()
    assert body["error"] == "4 row(s) rejected; nothing was imported"
    reasons = {row["row"]: row["error"] for row in body["rows"]}
    assert set(reasons) == {4, 5, 6, 8}
    assert "not a valid phone number" in reasons[4]
    assert "repeated (row 2)" in reasons[5]
    assert reasons[6] == f"{other.numbers[0]} is already in another pool"
    assert "needs a source" in reasons[8]
    db.expire_all()
    assert db.scalar(select(TrackingNumber).where(TrackingNumber.number == good[0])) is None

    fixed = "\n".join(["(628) 200-0700", good[1], tenant.numbers[0], "+16282000799,source,google"])
    res = client.post(
        path, data=fixed, headers=bearer(tenant.extra["key"]), content_type="text/csv"
    )
    assert res.status_code == 201, res.get_json()
    assert res.get_json() == {
        "imported": 3,
        "unchanged": 1,
        "numbers": [good[0], good[1], "+16282000799"],
    }
    again = client.post(
        path, data=fixed, headers=bearer(tenant.extra["key"]), content_type="text/csv"
    )
    assert again.get_json()["imported"] == 0 and again.get_json()["unchanged"] == 4
    res = client.post(
        path, data=b"\xff\xfe\x00bad", headers=bearer(tenant.extra["key"]), content_type="text/csv"
    )
    assert res.status_code == 400 and "UTF-8" in res.get_json()["error"]


def _lease(client, site_key: str, url: str) -> tuple[str, str]:
    body = {"site": site_key, "url": url, "referrer": "https://www.google.com/", "title": "Home"}
    res = client.post(
        "/v1/sessions",
        data=json.dumps(body),
        content_type="text/plain",
        headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA},
    )
    assert res.status_code == 200, res.get_data(as_text=True)
    data = res.get_json()
    return data["session"], data["numbers"][BUSINESS]["e164"]


@pytest.mark.postgres
def test_ingested_calls_are_attributed_like_twilio_calls_and_idempotent(api, client, tenant):
    url = "https://shop.example/p?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=x1"
    session, number = _lease(client, tenant.site_key, url)
    page = {"site": tenant.site_key, "url": "https://shop.example/pricing", "title": "Pricing"}
    res = client.post(
        f"/v1/sessions/{session}/pageviews",
        data=json.dumps(page),
        content_type="text/plain",
        headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA},
    )
    assert res.status_code == 200
    body = {
        "provider": "telnyx",
        "call_id": "v3:abc-123",
        "to": number,
        "from": "+12125550143",
        "status": "completed",
        "duration_seconds": 95,
    }
    res = api("POST", "/calls", body)
    assert res.status_code == 201, res.get_json()
    call = res.get_json()
    assert call["confidence"] == "exact"
    assert (call["source"], call["medium"], call["campaign"]) == ("google", "cpc", "spring")
    assert call["has_click_id"] is True and call["status"] == "completed"
    assert call["duration_seconds"] == 95 and call["provider"] == "telnyx"
    assert [p["path"] for p in call["visit"]["pages"]] == ["/p", "/pricing"]
    assert call["visit"]["click_ids"] == {"gclid": "x1"}

    again = api("POST", "/calls", body)
    assert again.status_code == 200 and again.get_json()["id"] == call["id"]
    detail = api("GET", f"/calls/{call['id']}").get_json()
    assert detail["visit"]["session_id"] == session

    # An unknown number, or a number of another agency, is a 404.
    res = api("POST", "/calls", {**body, "call_id": "other-1", "to": "+16285550999"})
    assert res.status_code == 404 and res.get_json()["error"] == "no such tracking number"
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    res = api("POST", "/calls", {**body, "call_id": "f-1", "started_at": future})
    assert res.status_code == 422 and "future" in res.get_json()["error"]


def test_call_list_filters_and_paginates(api, tenant, db):
    base = datetime(2026, 3, 1, 12, tzinfo=UTC)
    for i in range(7):
        db.add(
            Call(
                call_sid=f"CA{i}",
                client_id=tenant.client.id,
                site_id=tenant.site.id,
                pool_id=tenant.pool.id,
                tracking_number=tenant.numbers[0],
                started_at=base + timedelta(days=i),
                source="google" if i % 2 else "bing",
                confidence="exact" if i < 4 else "late",
            )
        )
    db.commit()
    res = api("GET", "/calls?per_page=3&page=2").get_json()
    assert res["total"] == 7 and res["page"] == 2
    assert [c["call_id"] for c in res["items"]] == ["CA3", "CA2", "CA1"]
    res = api("GET", "/calls?source=google&confidence=exact").get_json()
    assert [c["call_id"] for c in res["items"]] == ["CA3", "CA1"]
    res = api("GET", "/calls?since=2026-03-03T00:00:00Z&until=2026-03-05T00:00:00%2B00:00")
    assert [c["call_id"] for c in res.get_json()["items"]] == ["CA3", "CA2"]
    assert api("GET", "/calls?campaign=none").get_json()["total"] == 0


def test_keys_are_hashed_scoped_and_revoked_at_once(app, api, client, tenant, db):
    res = api("POST", "/keys", {"name": "reporting", "client_id": tenant.client.id})
    assert res.status_code == 201
    created = res.get_json()
    raw = created["key"]
    assert raw.startswith("rt_") and len(raw) >= 40 and created["prefix"] == raw[:12]
    row = db.get(ApiKey, created["id"])
    assert raw not in (row.key_hash, row.prefix) and len(row.key_hash) == 64
    assert "key" not in api("GET", f"/keys/{created['id']}").get_json()

    me = api("GET", "/me", key=raw).get_json()
    assert me["client_id"] == tenant.client.id and me["role"] == "client_manager"
    assert api("GET", "/keys", key=raw).status_code == 403  # client keys manage no keys
    assert (
        api("POST", "/clients", {"name": "X", "business_number": BUSINESS}, key=raw).status_code
        == 403
    )
    assert api("GET", "/pools", key=raw).status_code == 200

    assert api("DELETE", f"/keys/{created['id']}").status_code == 200
    res = api("GET", "/me", key=raw)
    assert res.status_code == 401 and res.get_json() == {"error": "unknown or revoked API key"}
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get(f"/api/v1/me?key={tenant.extra['key']}").status_code == 401
    actions = [(e.action, e.object_type) for e in db.scalars(select(AuditEntry))]
    assert ("create", "api_key") in actions and ("revoke", "api_key") in actions


def test_users_api_creates_users_with_hashed_passwords(api, tenant, db):
    res = api(
        "POST",
        "/users",
        {
            "email": "Manager@Client.example",
            "role": "client_manager",
            "client_id": tenant.client.id,
            "password": "correct horse battery",
        },
    )
    assert res.status_code == 201, res.get_json()
    user = res.get_json()
    assert user["email"] == "manager@client.example" and "password" not in user
    dup = api(
        "POST",
        "/users",
        {
            "email": "manager@client.example",
            "role": "agency_admin",
            "password": "correct horse battery",
        },
    )
    assert dup.status_code == 409
    res = api("PATCH", f"/users/{user['id']}", {"active": False})
    assert res.status_code == 200 and res.get_json()["active"] is False


LISTS = ["/clients", "/sites", "/pools", "/numbers", "/calls", "/users", "/keys", "/audit"]


@pytest.mark.parametrize("path", [*LISTS, "/erasures"])
def test_every_list_answers_one_page_the_same_way(api, path):
    """{items, page, per_page, total} everywhere, and no count in a header instead."""
    first = api("GET", f"{path}?per_page=1")
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert set(body) == {"items", "page", "per_page", "total"}
    assert (body["page"], body["per_page"]) == (1, 1)
    assert len(body["items"]) == min(1, body["total"])
    assert "X-Total-Count" not in first.headers
    beyond = api("GET", f"{path}?page=1000").get_json()
    assert beyond["items"] == [] and beyond["total"] == body["total"]
    assert api("GET", f"{path}?per_page=201").status_code == 422


def test_pages_of_a_list_add_up_to_its_total(api, tenant):
    for _ in range(4):
        assert api("POST", "/keys", {"name": "k"}).status_code == 201
    total = api("GET", "/keys").get_json()["total"]
    assert total == 5  # the tenant's own key and four more
    seen = []
    for page in (1, 2, 3):
        seen += [k["id"] for k in api("GET", f"/keys?per_page=2&page={page}").get_json()["items"]]
    assert len(seen) == len(set(seen)) == total


def test_a_pools_rest_is_set_read_and_reaches_the_lease_path(app, api, tenant, db):
    pool = f"/pools/{tenant.pool.id}"
    assert api("GET", pool).get_json()["rest_seconds"] is None  # the match window
    assert api("PATCH", pool, {"rest_seconds": 600}).status_code == 200
    assert api("GET", pool).get_json()["rest_seconds"] == 600
    with app.app_context():
        [config] = site_for_key(tenant.site_key).pools
    assert (config.rest_seconds, config.rest) == (600, 600)
    assert api("PATCH", pool, {"rest_seconds": None}).get_json()["rest_seconds"] is None
    with app.app_context():
        [config] = site_for_key(tenant.site_key).pools
    assert config.rest == config.match_window == 3600
