"""Fresh figures: a visit and its call are counted together at once, before any copy of
the counters to SQL, and pool health's advice agrees with the numbers leased now."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from ringtrail.reports import advice, counters, queries
from ringtrail.reports.periods import preset
from ringtrail.storage.models import DailyVisits
from tests.helpers import (
    BUSINESS,
    HUMAN_UA,
    ORIGIN,
    call_params,
    make_site,
    run_jobs,
    twilio_post,
)

VOICE = "/telephony/twilio/voice"
LANDING = "https://shop.example/quote?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=boiler+repair"


def visit(client, setup, url: str = LANDING, address: str = "10.0.0.1") -> str:
    """A visitor lands on ``url`` and is leased a number; returns the number."""
    response = client.post(
        "/v1/sessions",
        data=json.dumps({"site": setup.site_key, "url": url, "referrer": ""}),
        content_type="text/plain",
        headers={"User-Agent": HUMAN_UA, "Origin": ORIGIN},
        environ_base={"REMOTE_ADDR": address},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["numbers"][BUSINESS]["e164"]


def report(app, setup, dimension: str) -> queries.SourceReport:
    from ringtrail.storage.sql import get_db

    with app.app_context():
        period = preset("today", queries.zone("UTC"))
        return queries.source_report(get_db(), [setup.client.id], period, dimension)


def test_a_call_and_its_visit_are_counted_together_at_once(app, client, db):
    setup = make_site(db)
    number = visit(client, setup)
    visit(client, setup, "https://shop.example/about", address="10.0.0.2")  # no call
    response = twilio_post(client, VOICE, call_params(setup, number), setup.token)
    assert response.status_code == 200
    run_jobs(app)

    # Nothing copied the counters to SQL: the visits come from Redis, live.
    assert db.scalars(select(DailyVisits)).all() == []
    by_campaign = report(app, setup, "campaign")
    spring = next(r for r in by_campaign.rows if r.label == "spring")
    assert (spring.calls, spring.visits, spring.visits_called) == (1, 1, 1)
    assert spring.conversion_rate == 1.0
    by_source = report(app, setup, "source")
    assert by_source.total.calls == 1 and by_source.total.visits == 2
    assert by_source.total.conversion_rate == 0.5
    by_keyword = {r.label: r for r in report(app, setup, "keyword").rows}
    assert by_keyword["boiler repair"].visits == 1 and by_keyword["(not set)"].visits == 1
    by_landing = {
        r.label: (r.visits, r.visits_called) for r in report(app, setup, "landing_page").rows
    }
    assert by_landing == {"/quote": (1, 1), "/about": (1, 0)}

    # After the copy, SQL holds the same counts, and the report does not double them.
    with app.app_context():
        counters.flush()
    db.expire_all()
    rows = db.scalars(select(DailyVisits)).all()
    assert sorted((r.campaign, r.keyword, r.landing_page, r.visits) for r in rows) == [
        ("", "", "/about", 1),
        ("spring", "boiler repair", "/quote", 1),
    ]
    again = report(app, setup, "source")
    assert (again.total.visits, again.total.visits_called) == (2, 1)


def test_visits_that_called_never_passes_every_visit(app, client, db):
    """A visitor who calls three times is one visit that called, not 300 %."""
    setup = make_site(db)
    number = visit(client, setup)
    for _ in range(3):
        twilio_post(client, VOICE, call_params(setup, number), setup.token)
    run_jobs(app)
    total = report(app, setup, "source").total
    assert (total.calls, total.visits, total.visits_called) == (3, 1, 1)
    assert total.conversion_rate == 1.0
    assert total.calls_per_visit == 3.0  # the old figure, kept for the API's readers


def test_pool_health_reads_todays_load_live_and_agrees_with_leased_now(app, client, db):
    from ringtrail.storage.sql import get_db
    from ringtrail.tracking.pool import get_pools

    setup = make_site(db, numbers=5)
    for i in range(4):
        visit(client, setup, address=f"10.0.1.{i}")
    with app.app_context():
        leased = get_pools().holder_count(setup.pool.id)
        period = preset("today", queries.zone("UTC"))
        (health,) = queries.pool_health(get_db(), [setup.client.id], period)
    assert leased == 4
    assert health.new_leases == 4 and health.peak_leases == 4  # nothing copied to SQL yet
    said = advice.advise(health, leased)
    assert said.needed >= leased
    # A pool busier right now than its hours so far: the advice never asks for fewer
    # numbers than are leased at this moment.
    quiet = queries.PoolHealth(
        **{**health.__dict__, "recommended": 1, "size": 5, "new_leases": 4, "hold_observed": True}
    )
    said = advice.advise(quiet, leased_now=4)
    assert said.needed == 4 and said.change == -1
    assert said.text == "1 number could go and 99 % of calls would still be matched to a visit."
    short = advice.advise(quiet, leased_now=9)
    assert short.text == "Add 4 numbers to keep 99 % of calls matched to a visit."


def test_reports_without_an_app_read_sql_alone(db):
    setup = make_site(db)
    day = datetime.now(UTC).date()
    db.add(DailyVisits(site_id=setup.site.id, day=day, source="google", medium="cpc", visits=7))
    db.commit()
    period = queries.Period(day, day)
    assert queries.visit_counts(db, [setup.client.id], period, "source") == {"google": 7}
