"""The first-run checklist on the overview, and where a client's own people land."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ringtrail.crypto import seal
from ringtrail.storage.models import (
    Agency,
    AuditEntry,
    Client,
    DailyVisits,
    Pool,
    Site,
    TrackingNumber,
)
from tests.helpers import add_call, log_in, make_site, make_user


def csrf(client, path: str = "/dashboard") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def steps(html: str) -> dict[str, bool]:
    """Each step of the checklist on the page, and whether it is ticked."""
    found = re.findall(r'data-step="([a-z]+)" data-done="(true|false)"', html)
    return {key: done == "true" for key, done in found}


@pytest.fixture
def empty(db):
    """An agency with nothing set up, and its admin."""
    agency = Agency(name="New agency")
    db.add(agency)
    db.commit()

    class Setup:
        pass

    setup = Setup()
    setup.agency = agency
    return setup, make_user(db, setup)


def test_an_empty_install_shows_every_step_open_with_its_link(client, db, empty):
    _, admin = empty
    log_in(client, admin)
    html = client.get("/dashboard").get_data(as_text=True)
    assert steps(html) == dict.fromkeys(
        ("carrier", "client", "site", "numbers", "snippet", "call"), False
    )
    assert "0 of 6 steps done" in html
    assert 'href="/dashboard/settings/carrier"' in html
    assert 'href="/dashboard/settings#add-client"' in html
    assert "must be one of its <em>allowed origins</em>" in html
    assert "dismiss-first-run" not in html  # not until every step is done


def test_steps_tick_themselves_off_from_what_is_there(client, db, empty):
    setup, admin = empty
    log_in(client, admin)
    agency = setup.agency
    agency.twilio_account_sid = "AC" + secrets.token_hex(16)
    agency.twilio_auth_token = seal("x" * 32)
    client_row = Client(agency=agency, name="Acme", business_number="+14155550100")
    db.add(client_row)
    db.commit()
    assert steps(client.get("/dashboard").get_data(as_text=True)) == {
        "carrier": True,
        "client": True,
        "site": False,
        "numbers": False,
        "snippet": False,
        "call": False,
    }
    site = Site(client=client_row, name="Web", public_key=secrets.token_hex(10), allowed_origins=[])
    pool = Pool(site=site, business_number="+14155550100")
    db.add_all([site, pool])
    db.commit()
    html = client.get("/dashboard").get_data(as_text=True)
    assert steps(html)["site"] and not steps(html)["numbers"]
    assert f'href="/dashboard/settings/pools/{pool.id}"' in html  # add numbers there
    assert "The site has no allowed origin yet." in html
    assert f'href="/dashboard/settings/sites/{site.id}#allowed_origins"' in html

    db.add(TrackingNumber(pool=pool, number="+16285550101", role="pool"))
    site.allowed_origins = ["https://acme.example"]
    db.commit()
    html = client.get("/dashboard").get_data(as_text=True)
    assert steps(html)["numbers"] and not steps(html)["snippet"]
    assert "Waiting for the first visit" in html

    db.add(
        DailyVisits(
            site_id=site.id,
            day=datetime.now(UTC).date(),
            source="google",
            medium="organic",
            visits=1,
        )
    )
    db.commit()
    assert steps(client.get("/dashboard").get_data(as_text=True))["snippet"]


def test_a_visit_still_in_redis_counts_for_the_snippet_step(client, db, redis_client):
    setup = make_site(db)
    log_in(client, make_user(db, setup))
    assert not steps(client.get("/dashboard").get_data(as_text=True))["snippet"]
    today = datetime.now(UTC).date().isoformat()
    from ringtrail.tracking.pool import PoolKeys

    redis_client.hincrby(PoolKeys(setup.pool.id).visits(today), "google|organic", 1)
    assert steps(client.get("/dashboard").get_data(as_text=True))["snippet"]


def test_once_complete_an_admin_puts_the_list_away(client, db):
    setup = make_site(db)
    db.add(
        DailyVisits(
            site_id=setup.site.id,
            day=datetime.now(UTC).date(),
            source="google",
            medium="organic",
            visits=3,
        )
    )
    db.commit()
    admin = make_user(db, setup)
    log_in(client, admin)
    html = client.get("/dashboard").get_data(as_text=True)
    assert not steps(html)["call"]
    # Not complete: putting it away is refused with the reason, and it stays.
    answer = client.post(
        "/dashboard/first-run/dismiss", data={"csrf_token": csrf(client)}, follow_redirects=True
    )
    assert "finish every step of the first run" in answer.get_data(as_text=True)
    assert 'id="first-run"' in answer.get_data(as_text=True)

    add_call(db, setup, datetime.now(UTC))
    html = client.get("/dashboard").get_data(as_text=True)
    assert all(steps(html).values()) and "You are tracking calls" in html
    assert 'id="dismiss-first-run"' in html
    answer = client.post(
        "/dashboard/first-run/dismiss", data={"csrf_token": csrf(client)}, follow_redirects=True
    )
    assert 'id="first-run"' not in answer.get_data(as_text=True)
    assert db.scalar(select(AuditEntry).where(AuditEntry.object_type == "first_run"))


def test_only_an_agency_admin_may_put_it_away(client, db):
    setup = make_site(db)
    manager = make_user(db, setup, "client_manager", setup.client)
    log_in(client, manager)
    token = csrf(client, "/dashboard/settings")
    assert (
        client.post("/dashboard/first-run/dismiss", data={"csrf_token": token}).status_code == 403
    )


@pytest.mark.parametrize("role", ["report_only", "client_manager"])
def test_a_clients_people_land_on_their_clients_view(client, db, role):
    setup = make_site(db)
    other = make_site(db, agency=setup.agency, number_start=10)
    setup.client.name, other.client.name = "Acme Plumbing", "Acme Roofing"
    db.commit()
    log_in(client, make_user(db, setup, role, setup.client))
    answer = client.get("/dashboard")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Acme Plumbing" in html and "Acme Roofing" not in html
    assert 'id="source-report"' in html  # the client's own view
    for agency_only in (
        'id="overview"',
        "<h2>Clients</h2>",
        "Pools that need more numbers",
        'id="first-run"',
    ):
        assert agency_only not in html
