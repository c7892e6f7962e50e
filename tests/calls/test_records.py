"""Call records: repeat callers and the candidates of ambiguous calls, on real Redis and
SQL, with the call's time injected through the event's clock."""

from __future__ import annotations

import dataclasses
import time

import pytest
from sqlalchemy import select

from ringtrail.calls.events import CallEvent, RouteFacts
from ringtrail.calls.records import apply_event, candidate_visits
from ringtrail.storage.models import Call
from ringtrail.tracking.pool import get_pools
from ringtrail.tracking.visits import Visit, get_visits
from tests.helpers import bearer, log_in, make_site, make_user, new_key

CALLER = "+12125550143"
OTHER = "+13125550177"


def visit(setup, session: str, at: float, source: str) -> None:
    """A visitor of ``source`` leases the pool's number at ``at``."""
    got = get_pools().lease(
        setup.pool.id,
        session,
        numbers=setup.numbers,
        lease_seconds=60,
        rest_seconds=3600,
        now=at,
    )
    assert got.number == setup.numbers[0]
    get_visits().create(
        session,
        Visit(
            site_id=setup.site.id,
            started=at,
            landing_url=f"https://shop.example/{source}",
            source=source,
            medium="cpc",
            pages=[[0, f"/{source}"]],
        ),
        ttl=86400,
    )


def call(db, setup, at: float, caller: str | None, *, hipaa: bool = False) -> Call:
    """A voice event at ``at`` (on the one clock) to the pool's number, applied."""
    route = RouteFacts(
        "pool", setup.pool.id, setup.site.id, setup.client.id, 3600, agency_id=setup.agency.id
    )
    event = CallEvent.voice(
        provider="twilio",
        call_sid=f"CA{time.time_ns()}",
        received_at=at,
        to=setup.numbers[0],
        caller=caller,
        route=route,
        hipaa=hipaa,
        agency_id=setup.agency.id,
    )
    made = apply_event(db, dataclasses.replace(event, clock=at), get_pools(), get_visits())
    db.commit()
    return made


@pytest.mark.postgres
@pytest.mark.parametrize("hipaa", [False, True])
def test_a_redial_gets_the_earlier_calls_visit(app, db, hipaa):
    """A caller redials from the call log after the number went to someone else."""
    setup = make_site(db, numbers=1, lease_seconds=60, match_window=3600)
    t = time.time() - 5 * 3600
    visit(setup, "visitor-a-0000001", t, "google")
    first = call(db, setup, t + 30, CALLER, hipaa=hipaa)
    assert (first.confidence, first.session_id) == ("exact", "visitor-a-0000001")
    visit(setup, "visitor-b-0000001", t + 60 + 3600, "bing")  # after the rest
    again = call(db, setup, t + 3700, CALLER, hipaa=hipaa)
    assert (again.confidence, again.repeat_of) == ("repeat", first.id)
    assert (again.session_id, again.visit_id) == ("visitor-a-0000001", first.visit_id)
    assert (again.source, again.caller_number) == ("google", None if hipaa else CALLER)
    # Anyone else calling then is B's call.
    other = call(db, setup, t + 3710, OTHER, hipaa=hipaa)
    assert (other.confidence, other.session_id) == ("exact", "visitor-b-0000001")


@pytest.mark.parametrize("withheld", ["anonymous", "+266696687", "", None])
def test_withheld_callers_never_match_one_another(app, db, withheld):
    setup = make_site(db, numbers=1, lease_seconds=60, match_window=3600)
    t = time.time() - 5 * 3600
    visit(setup, "visitor-a-0000002", t, "google")
    first = call(db, setup, t + 30, withheld)
    visit(setup, "visitor-b-0000002", t + 60 + 3600, "bing")
    second = call(db, setup, t + 3700, withheld)
    assert first.caller_hash is None and second.caller_hash is None
    assert (second.confidence, second.session_id, second.repeat_of) == (
        "exact",
        "visitor-b-0000002",
        None,
    )


def test_no_repeat_past_the_window(app, db):
    app.config["REPEAT_CALLER_DAYS"] = 0.01  # 864 s
    setup = make_site(db, numbers=1, lease_seconds=60, match_window=3600)
    t = time.time() - 5 * 3600
    visit(setup, "visitor-a-0000003", t, "google")
    call(db, setup, t + 30, CALLER)
    visit(setup, "visitor-b-0000003", t + 60 + 3600, "bing")
    later = call(db, setup, t + 3700, CALLER)
    assert (later.confidence, later.session_id) == ("exact", "visitor-b-0000003")


@pytest.mark.postgres
def test_an_ambiguous_call_lists_its_candidates_in_the_api_and_on_its_page(app, client, db):
    setup = make_site(db, numbers=1, lease_seconds=60, match_window=3600)
    t = time.time() - 3600
    visit(setup, "visitor-a-0000004", t, "google")
    # B arrives while the number rests: the pool is exhausted and shares it.
    shared = get_pools().lease(
        setup.pool.id,
        "visitor-b-0000004",
        numbers=setup.numbers,
        lease_seconds=60,
        rest_seconds=3600,
        now=t + 100,
    )
    assert shared.status == "shared"
    get_visits().create(
        "visitor-b-0000004",
        Visit(
            site_id=setup.site.id,
            started=t + 100,
            landing_url="https://shop.example/bing",
            source="bing",
            medium="cpc",
        ),
        ttl=86400,
    )
    made = call(db, setup, t + 130, CALLER)
    assert made.confidence == "ambiguous" and made.session_id == "visitor-b-0000004"
    assert [v.source for v in candidate_visits(db, made)] == ["bing", "google"]

    key = new_key(app, setup.agency.id)
    detail = client.get(f"/api/v1/calls/{made.id}", headers=bearer(key)).get_json()
    assert [c["source"] for c in detail["candidates"]] == ["bing", "google"]
    assert [c["session_id"] for c in detail["candidates"]] == [
        "visitor-b-0000004",
        "visitor-a-0000004",
    ]

    log_in(client, make_user(db, setup))
    page = client.get(f"/dashboard/calls/{made.id}").get_data(as_text=True)
    section = page[page.index('id="candidates"') :]
    assert section.index("bing / cpc") < section.index("google / cpc")
    assert "several visitors could have called" in page
    # Another tenant's snapshot id in the list would not show: only the call's site's.
    other = make_site(db, numbers=1, number_start=50)
    stored = db.scalar(select(Call).where(Call.id == made.id))
    stored.site_id = other.site.id
    db.commit()
    assert candidate_visits(db, stored) == []
