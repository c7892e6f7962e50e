"""Tenancy: walk every route with an object id; agency A gets 404 for agency B's objects.

The walk reads ``app.url_map``, so a new endpoint is covered the day it is added. A
route whose id variable has no entry in ``OBJECTS`` fails the test until it gets one.

Each tenant's call has a recording, held by a local stand-in for the carrier, so that
every API GET of one's own objects, the recording included, really answers 200.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from ringtrail.accounts import access
from ringtrail.accounts.auth import cli_principal
from ringtrail.storage.models import AuditEntry, Call, TrackingNumber
from tests.helpers import make_site
from tests.twilio_standin import AUDIO

PASSWORD = "correct horse battery"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": False}


def _objects(
    app, agency_id: int, client_id: int, pool_id: int, site_id: int, tag: str, recording: str
):
    """Create a user, a key, a recorded call for one agency; returns ids by URL variable."""
    from ringtrail.storage.sql import get_db

    with app.test_request_context():
        db = get_db()
        user = access.create_user(
            db,
            cli_principal(),
            {"email": f"admin@{tag}.example", "role": "agency_admin", "password": PASSWORD},
            agency_id,
        )
        key, raw = access.create_key(db, cli_principal(), {"name": tag}, agency_id)
        call = Call(
            call_sid=f"CA-{tag}",
            client_id=client_id,
            site_id=site_id,
            pool_id=pool_id,
            recording_sid=recording,
        )
        db.add(call)
        db.commit()
        number = db.scalar(select(TrackingNumber.id).where(TrackingNumber.pool_id == pool_id))
        return raw, {
            "client_id": client_id,
            "site_id": site_id,
            "pool_id": pool_id,
            "number_id": number,
            "call_id": call.id,
            "call": call.id,  # the admin API names it {call}
            "user_id": user.id,
            "key_id": key.id,
        }


@pytest.fixture
def tenants(app, stand_in):
    from ringtrail.storage.sql import get_db

    with app.app_context():
        a = make_site(get_db(), numbers=2)
        b = make_site(get_db(), numbers=2, number_start=50)
        ids = {}
        for name, s in (("a", a), ("b", b)):
            stand_in.accounts[s.account_sid] = s.token
            recording = stand_in.add_recording(s.account_sid)
            ids[name] = (s.agency.id, s.client.id, s.pool.id, s.site.id, name, recording)
    key_a, objects_a = _objects(app, *ids["a"])
    _, objects_b = _objects(app, *ids["b"])
    return {"key_a": key_a, "a": objects_a, "b": objects_b}


def _id_routes(app):
    for rule in app.url_map.iter_rules():
        ints = [n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)]
        if ints:
            yield rule, ints


def _denied(app) -> int:
    from ringtrail.storage.sql import get_db

    with app.app_context():
        return get_db().scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "denied")
        )


def test_every_route_with_an_id_hides_other_tenants_objects(app, client, tenants):
    routes = list(_id_routes(app))
    assert len(routes) >= 10, [r.rule for r, _ in routes]  # the walk really walks
    # Log agency A's admin in to the dashboard (the API uses A's key).
    login = client.post("/login", data={"email": "admin@a.example", "password": PASSWORD})
    assert login.status_code == 302
    checked = []
    for rule, names in routes:
        missing = [n for n in names if n not in tenants["b"]]
        assert not missing, f"{rule.rule}: add {missing} to the tenancy test's objects"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = rule.build({n: tenants["b"][n] for n in names}, append_unknown=False)[1]
            before = _denied(app)
            headers = {}
            if rule.rule.startswith("/api/"):
                headers["Authorization"] = f"Bearer {tenants['key_a']}"
            res = client.open(path, method=method, headers=headers, json={})
            assert res.status_code == 404, f"{method} {path}: {res.status_code}"
            assert _denied(app) > before, f"{method} {path} was not audited"
            checked.append(f"{method} {rule.rule}")
    assert any(c.startswith("PATCH /api/v1/pools/") for c in checked)
    assert any("/dashboard/settings/pools/" in c for c in checked)


def test_a_tenant_reaches_its_own_objects(app, client, tenants, stand_in):
    headers = {"Authorization": f"Bearer {tenants['key_a']}"}
    reached = []
    for rule, names in _id_routes(app):
        if not rule.rule.startswith("/api/") or "GET" not in rule.methods:
            continue
        path = rule.build({n: tenants["a"][n] for n in names}, append_unknown=False)[1]
        res = client.get(path, headers=headers)
        assert res.status_code == 200, f"{path}: {res.status_code} {res.get_data()[:200]!r}"
        reached.append((path, res))
    recordings = [res for path, res in reached if path.endswith("/recording")]
    assert [r.data for r in recordings] == [AUDIO]  # streamed through, from the stand-in


def test_denied_attempts_record_who_and_what(app, client, tenants):
    headers = {"Authorization": f"Bearer {tenants['key_a']}"}
    res = client.patch(
        f"/api/v1/pools/{tenants['b']['pool_id']}", json={"lease_seconds": 5}, headers=headers
    )
    assert res.status_code == 404 and res.get_json() == {"error": "no such pool"}
    from ringtrail.storage.sql import get_db

    with app.app_context():
        entry = get_db().scalar(select(AuditEntry).where(AuditEntry.action == "denied"))
        assert entry.actor_type == "key" and entry.object_type == "pool"
        assert entry.object_id == tenants["b"]["pool_id"]
        assert entry.details["method"] == "PATCH"
        assert entry.details["target_agency_id"] != entry.agency_id
