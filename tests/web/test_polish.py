"""Polish for people: error pages, the favicon, forms that keep what was typed, the
time-zone picker, a pool's numbers in pages with bulk actions, the audit log in words."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ringtrail.storage.models import AuditEntry, Client, Pool, TrackingNumber
from tests.helpers import bearer, log_in, make_site, make_user, new_key, tracking_numbers


def csrf(client, path: str = "/dashboard/settings") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture
def admin(client, db):
    setup = make_site(db)
    log_in(client, make_user(db, setup))
    return setup


# -- error pages and the favicon ---------------------------------------------------------


def assert_styled(html: str) -> None:
    assert '<link rel="stylesheet" href="/static/app.css">' in html
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    for framework in ("Werkzeug", "Traceback", "The requested URL was not found"):
        assert framework not in html


def test_a_missing_page_is_the_apps_own_404(client, admin):
    answer = client.get("/dashboard/no-such-page")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert "<h1>Page not found</h1>" in html and "/dashboard/no-such-page" in html
    assert 'class="mainnav"' in html  # the app's layout, with its navigation
    assert_styled(html)


def test_a_refused_page_is_the_apps_own_403(client, db):
    setup = make_site(db)
    log_in(client, make_user(db, setup, "report_only", setup.client))
    answer = client.get("/dashboard/settings")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 403
    assert "<h1>Not allowed</h1>" in html and "ask an agency admin" in html
    assert_styled(html)


def test_a_server_error_is_a_page_without_a_trace(app, client, admin):
    def broken():
        raise RuntimeError("secret internals: /srv/ringtrail/db.py line 42")

    app.add_url_rule("/dashboard/broken", "broken", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production
    answer = client.get("/dashboard/broken")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 500
    assert "Something went wrong on our side" in html and "secret internals" not in html
    assert_styled(html)


def test_apis_still_answer_json_errors(client, admin):
    answer = client.get("/api/v1/no-such-thing")
    assert answer.status_code in (401, 404) and answer.is_json


def test_the_favicon_answers_at_both_addresses(client):
    for path in ("/favicon.ico", "/static/favicon.svg"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.mimetype == "image/svg+xml" and answer.data.lstrip().startswith(b"<svg")
    assert client.get("/favicon.ico").cache_control.max_age == 7 * 86400


# -- forms keep what was typed -------------------------------------------------------------


def test_a_refused_client_form_keeps_what_was_typed(client, db, admin):
    sent = {
        "csrf_token": csrf(client),
        "name": "Dental Care of Austin",
        "business_number": "not a phone",
        "timezone": "Chicago",
        "record_calls": "on",
    }
    page = client.post("/dashboard/settings/clients", data=sent, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "flash-error" in html
    form = html[html.index('id="add-client-form"') :]
    assert 'value="Dental Care of Austin"' in form and 'value="not a phone"' in form
    assert 'value="Chicago"' in form and 'name="record_calls" checked' in form
    # Once only: the next visit starts clean.
    again = client.get("/dashboard/settings").get_data(as_text=True)
    assert "Dental Care of Austin" not in again


def test_a_refused_site_form_comes_back_in_its_clients_section(client, db, admin):
    other = make_site(db, agency=admin.agency, number_start=10)
    sent = {
        "csrf_token": csrf(client),
        "client_id": str(other.client.id),
        "name": "Landing pages",
        "consent_mode": "required",
        "allowed_origins": "not an origin",
    }
    html = client.post("/dashboard/settings/sites", data=sent, follow_redirects=True).get_data(
        as_text=True
    )
    assert "flash-error" in html
    mine = html[html.index(f'id="add-site-{admin.client.id}"') :]
    mine = mine[: mine.index("</details>")]
    theirs = html[html.index(f'id="add-site-{other.client.id}"') :]
    theirs = theirs[: theirs.index("</details>")]
    assert "Landing pages" in theirs and "not an origin" in theirs
    assert '<option value="required" selected>' in theirs
    assert "Landing pages" not in mine


def test_a_refused_user_form_keeps_the_email_but_never_the_password(client, db, admin):
    sent = {
        "csrf_token": csrf(client, "/dashboard/access"),
        "email": "new.person@agency.example",
        "role": "not a role",
        "password": "a password typed once",
    }
    html = client.post("/dashboard/access/users", data=sent, follow_redirects=True).get_data(
        as_text=True
    )
    assert "flash-error" in html and 'value="new.person@agency.example"' in html
    assert "a password typed once" not in html


def test_a_refused_pool_form_keeps_what_was_typed(client, db, admin):
    path = f"/dashboard/settings/pools/{admin.pool.id}"
    sent = {
        "csrf_token": csrf(client, path),
        "name": "Spring campaign",
        "business_number": "+14155550100",
        "lease_seconds": "5",  # below the minimum
        "match_window_seconds": "3600",
        "exhaustion_policy": "overflow",
    }
    html = client.post(path, data=sent, follow_redirects=True).get_data(as_text=True)
    assert "flash-error" in html
    assert 'value="Spring campaign"' in html and 'id="lease_seconds"' in html
    assert re.search(r'id="lease_seconds"[^>]*value="5"', html)
    assert '<option value="overflow" selected>' in html


# -- time zones ------------------------------------------------------------------------------


def test_chicago_alone_is_america_chicago(client, db, admin):
    sent = {
        "csrf_token": csrf(client),
        "name": "Windy City Plumbing",
        "business_number": "+13125550100",
        "timezone": "Chicago",
    }
    assert client.post("/dashboard/settings/clients", data=sent).status_code == 302
    created = db.scalar(select(Client).where(Client.name == "Windy City Plumbing"))
    assert created.timezone == "America/Chicago"


def test_a_misspelt_zone_is_refused_with_a_suggestion(client, db, admin):
    sent = {
        "csrf_token": csrf(client),
        "name": "Typo Plumbing",
        "business_number": "+13125550100",
        "timezone": "Chicgo",
    }
    html = client.post("/dashboard/settings/clients", data=sent, follow_redirects=True).get_data(
        as_text=True
    )
    assert "did you mean America/Chicago?" in html
    assert db.scalar(select(Client).where(Client.name == "Typo Plumbing")) is None


def test_the_api_reads_a_city_too(app, client, db, admin):
    key = new_key(app, admin.agency.id)
    body = {"name": "API Plumbing", "business_number": "+13125550100", "timezone": "new york"}
    answer = client.post("/api/v1/clients", json=body, headers=bearer(key))
    assert answer.status_code == 201 and answer.get_json()["timezone"] == "America/New_York"
    body["timezone"] = "Chicgo"
    refused = client.post("/api/v1/clients", json=body, headers=bearer(key))
    assert refused.status_code == 422 or refused.status_code == 400
    assert "did you mean America/Chicago?" in refused.get_json()["error"]


def test_the_client_form_offers_the_zones_grouped(client, db, admin):
    html = client.get(f"/dashboard/settings/clients/{admin.client.id}").get_data(as_text=True)
    assert 'list="zone-list"' in html
    assert re.search(r'<option value="America/Chicago" label="America · Chicago \(UTC', html)
    assert re.search(r'<option value="Europe/Paris" label="Europe · Paris \(UTC', html)


# -- a pool's numbers: pages and bulk actions --------------------------------------------------


@pytest.fixture
def big_pool(client, db):
    setup = make_site(db, numbers=120)
    log_in(client, make_user(db, setup))
    return setup


def shown_numbers(html: str) -> list[str]:
    return re.findall(r'name="ids" value="(\d+)"', html)


def test_numbers_come_50_a_page(client, db, big_pool):
    path = f"/dashboard/settings/pools/{big_pool.pool.id}"
    first = client.get(path).get_data(as_text=True)
    assert len(shown_numbers(first)) == 50 and "Showing 1–50 of 120 numbers" in first
    assert "Page 1 of 3" in first and "Save</button>" not in first.split('id="numbers"')[1]
    last = client.get(path + "?page=3").get_data(as_text=True)
    assert len(shown_numbers(last)) == 20 and "Showing 101–120 of 120 numbers" in last
    every = set()
    for page in (1, 2, 3):
        every |= set(shown_numbers(client.get(f"{path}?page={page}").get_data(as_text=True)))
    assert len(every) == 120


def bulk(client, pool_id: int, ids, action: str, **extra):
    path = f"/dashboard/settings/pools/{pool_id}"
    data = {"csrf_token": csrf(client, path), "ids": [str(i) for i in ids], "action": action}
    return client.post(f"{path}/numbers/bulk", data=data | extra, follow_redirects=True)


def test_bulk_actions_change_the_chosen_numbers_only(client, db, big_pool):
    pool_id = big_pool.pool.id
    numbers = db.scalars(
        select(TrackingNumber)
        .where(TrackingNumber.pool_id == pool_id)
        .order_by(TrackingNumber.number)
    ).all()
    chosen = [n.id for n in numbers[:3]]
    html = bulk(client, pool_id, chosen, "deactivate").get_data(as_text=True)
    assert "Changed 3 numbers of 3 chosen." in html
    db.expire_all()
    assert [n.active for n in numbers[:4]] == [False, False, False, True]

    html = bulk(client, pool_id, chosen[:1], "source", source="google/organic").get_data(
        as_text=True
    )
    assert "Changed 1 number of 1 chosen." in html
    db.expire_all()
    assert numbers[0].source == "google/organic"

    html = bulk(client, pool_id, chosen, "remove").get_data(as_text=True)
    assert "Removed 3 numbers from the pool." in html
    left = db.scalars(select(TrackingNumber.id).where(TrackingNumber.pool_id == pool_id)).all()
    assert len(left) == 117 and not set(chosen) & set(left)
    removed = db.scalars(select(AuditEntry).where(AuditEntry.action == "delete")).all()
    assert sorted(e.object_id for e in removed) == sorted(chosen)


def test_a_bulk_action_on_another_pools_number_changes_nothing(client, db, big_pool):
    other = make_site(db, agency=big_pool.agency, numbers=tracking_numbers(2, 500))
    foreign = other.pool.numbers[0].id
    mine = big_pool.pool.numbers[0].id
    html = bulk(client, big_pool.pool.id, [mine, foreign], "deactivate").get_data(as_text=True)
    assert "not in this pool" in html
    db.expire_all()
    assert db.get(TrackingNumber, mine).active and db.get(TrackingNumber, foreign).active


def test_a_bulk_action_needs_a_choice(client, db, big_pool):
    html = bulk(client, big_pool.pool.id, [], "deactivate").get_data(as_text=True)
    assert "choose at least one number" in html
    one = big_pool.pool.numbers[0].id
    html = bulk(client, big_pool.pool.id, [one], "explode").get_data(as_text=True)
    assert "choose what to do with the chosen numbers" in html


# -- the audit log in words --------------------------------------------------------------------


def test_the_audit_log_reads_as_words(client, db, admin):
    path = f"/dashboard/settings/pools/{admin.pool.id}"
    sent = {
        "csrf_token": csrf(client, path),
        "name": "Main line",
        "business_number": "+14155550100",
        "lease_seconds": "900",
        "match_window_seconds": "3600",
        "exhaustion_policy": "reuse_oldest",
    }
    assert client.post(path, data=sent).status_code == 302
    pool = db.get(Pool, admin.pool.id)
    assert pool.lease_seconds == 900
    html = client.get("/dashboard/access").get_data(as_text=True)
    log = html[html.index('id="audit-log"') :]
    assert re.search(r"<strong>[^<]+@example.com</strong> changed pool", log)
    assert re.search(
        r'<span class="field">lease seconds</span>: <span class="old">60</span> → '
        r'<span class="new">900</span>',
        log,
    )
    assert '{"' not in log and "&#34;" not in log  # no JSON
