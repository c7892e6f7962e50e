"""The autosizing job on real SQL and Redis, with a carrier written for the test that
buys and releases real ``TrackingNumber`` rows; retiring numbers end to end (a late
call still routes and is attributed; no release before the match window is over)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ringtrail.accounts import pool_autosize
from ringtrail.accounts.auth import Principal, cli_principal
from ringtrail.accounts.configuration import commit_config
from ringtrail.errors import Forbidden, Invalid, Unprocessable
from ringtrail.reports import autosizer
from ringtrail.storage.models import AuditEntry, Call, PoolAutosize, PoolHour, TrackingNumber
from ringtrail.storage.sql import get_db
from ringtrail.tracking.directory import route_for, site_for_key
from ringtrail.tracking.pool import PoolKeys, get_pools
from ringtrail.tracking.retiring import due_for_release, redis_now, release_time, retire
from ringtrail.tracking.visits import Visit, get_visits
from tests.helpers import BUSINESS, call_params, make_site, run_jobs, tracking_numbers, twilio_post


class SqlCarrier:
    """A carrier that buys numbers into the pool as real rows and releases by deleting
    them, remembering what it did."""

    def __init__(self):
        self.bought: list[str] = []
        self.released: list[str] = []
        self.next = 0

    def buy_for_pool(self, db, pool, count, *, actor):
        rows = []
        for number in tracking_numbers(count, start=500 + self.next, area="415"):
            rows.append(TrackingNumber(pool_id=pool.id, number=number, role="pool"))
        self.next += count
        db.add_all(rows)
        db.flush()
        self.bought += [r.number for r in rows]
        return rows

    def release_number(self, db, number, *, actor):
        self.released.append(number.number)
        db.delete(number)
        db.flush()


def busy_week(db, pool_id: int, now: datetime, arrivals: int = 60) -> None:
    """Seven days of load: ``arrivals`` in each day's busiest hour, half-hour holds."""
    for back in range(7):
        hour = (now - timedelta(days=back)).replace(minute=0, second=0, microsecond=0)
        db.add(
            PoolHour(
                pool_id=pool_id,
                hour=hour - timedelta(hours=1),
                new_leases=arrivals,
                exhausted=0,
                peak_leases=arrivals,
                held_seconds=arrivals * 1800,
                ended_leases=arrivals,
            )
        )
    db.commit()


def turn_on(db, setup, **settings) -> PoolAutosize:
    data = {"enabled": True, "cooldown_seconds": 0} | settings
    return pool_autosize.update(db, cli_principal(), setup.pool, data)


def pool_numbers(db, pool_id: int) -> list[TrackingNumber]:
    return list(
        db.scalars(
            select(TrackingNumber)
            .where(TrackingNumber.pool_id == pool_id)
            .order_by(TrackingNumber.id)
        )
    )


def entries(db, action: str) -> list[AuditEntry]:
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.mark.postgres
def test_a_busy_pool_buys_up_to_its_maximum_audited_and_leasable(app, db):
    setup = make_site(db, numbers=3, lease_seconds=1800, match_window=3600)
    now = datetime.now(UTC)
    busy_week(db, setup.pool.id, now)
    turn_on(db, setup, max_numbers=20)
    carrier = SqlCarrier()
    [outcome] = autosizer.run(db, get_pools(), carrier, now=now)
    assert outcome.done == "bought 17" and len(carrier.bought) == 17
    assert outcome.plan["action"] == "buy" and outcome.plan["recommended"] > 20
    assert len(pool_numbers(db, setup.pool.id)) == 20
    [entry] = entries(db, "autosize.buy")
    assert entry.actor == "autosizing" and entry.agency_id == setup.agency.id
    assert entry.details["numbers"] == carrier.bought
    row = db.get(PoolAutosize, setup.pool.id)
    assert row.last_plan["done"] == "bought 17" and row.last_run_at is not None
    # Bought numbers are leasable at once.
    [config] = site_for_key(setup.site_key).pools
    assert set(carrier.bought) <= set(config.numbers)
    # The next run has nothing to do: the pool is at its maximum.
    [again] = autosizer.run(db, get_pools(), carrier, now=now)
    assert again.done == "nothing" and len(carrier.bought) == 17


@pytest.mark.postgres
def test_the_cap_limits_what_is_bought(app, db):
    setup = make_site(db, numbers=3)
    now = datetime.now(UTC)
    busy_week(db, setup.pool.id, now)
    # 11.50 USD a month at 1.15 a number: 10 numbers, 3 held.
    turn_on(db, setup, max_numbers=100, monthly_cap_minor=1150, currency="USD")
    carrier = SqlCarrier()
    [outcome] = autosizer.run(db, get_pools(), carrier, now=now)
    assert outcome.done == "bought 7"
    assert "pays for 10" in outcome.plan["reason"]


@pytest.mark.postgres
def test_dry_runs_and_a_missing_carrier_change_nothing(app, db):
    setup = make_site(db, numbers=3)
    now = datetime.now(UTC)
    busy_week(db, setup.pool.id, now)
    turn_on(db, setup, max_numbers=20)
    carrier = SqlCarrier()
    [dry] = autosizer.run(db, get_pools(), carrier, now=now, dry_run=True)
    assert (dry.done, dry.plan["action"], dry.plan["count"]) == ("dry run", "buy", 17)
    assert db.get(PoolAutosize, setup.pool.id).last_run_at is None  # the job's dry run
    pool_autosize.update(db, cli_principal(), setup.pool, {"dry_run": True})
    [pool_dry] = autosizer.run(db, get_pools(), carrier, now=now)
    assert pool_dry.done == "dry run"
    assert db.get(PoolAutosize, setup.pool.id).last_plan["done"] == "dry run"
    pool_autosize.update(db, cli_principal(), setup.pool, {"dry_run": False})
    [unconnected] = autosizer.run(db, get_pools(), None, now=now)
    assert unconnected.done == autosizer.NOT_CONNECTED
    assert carrier.bought == [] and len(pool_numbers(db, setup.pool.id)) == 3
    assert entries(db, "autosize.buy") == []


def test_the_default_carrier_is_the_agencys_twilio_account(app, db):
    assert isinstance(autosizer.default_carrier(), autosizer.TwilioCarrier)


@pytest.mark.postgres
def test_a_pool_without_autosizing_is_left_alone(app, db):
    setup = make_site(db, numbers=3)
    busy_week(db, setup.pool.id, datetime.now(UTC))
    assert autosizer.run(db, get_pools(), SqlCarrier()) == []
    pool_autosize.update(db, cli_principal(), setup.pool, {"enabled": True})
    pool_autosize.update(db, cli_principal(), setup.pool, {"enabled": False})
    assert autosizer.run(db, get_pools(), SqlCarrier()) == []


@pytest.mark.postgres
def test_surplus_retires_after_the_cool_down_and_is_no_longer_leased(app, db):
    setup = make_site(db, numbers=6, lease_seconds=60, match_window=600)
    now = redis_now(get_pools())
    turn_on(db, setup, min_numbers=2, cooldown_seconds=3600)
    carrier = SqlCarrier()
    [first] = autosizer.run(db, get_pools(), carrier, now=now)
    assert first.done == "nothing" and "4 surplus" in first.plan["reason"]
    [second] = autosizer.run(db, get_pools(), carrier, now=now + timedelta(hours=1))
    assert second.done == "retired 4"
    retiring = [n for n in pool_numbers(db, setup.pool.id) if n.retiring_since]
    assert len(retiring) == 4
    assert all(n.release_after >= n.retiring_since + timedelta(seconds=660) for n in retiring)
    [entry] = entries(db, "autosize.retire")
    assert sorted(entry.details["numbers"]) == sorted(n.number for n in retiring)
    # They leave the lease set, and are still routed; visitors only get the other two.
    assert all(route_for(n.number) is not None for n in retiring)
    [config] = site_for_key(setup.site_key).pools
    assert len(config.numbers) == 2
    gone = {n.number for n in retiring}
    for i in range(8):
        got = get_pools().lease(
            setup.pool.id,
            f"visitor-{i}",
            numbers=config.numbers,
            lease_seconds=60,
            version=config.version,
        )
        assert got.number not in gone
    assert carrier.released == []  # not yet: the match window is not over


@pytest.mark.postgres
def test_a_late_caller_reaches_a_retiring_number_and_it_is_released_only_after(app, db):
    """A visitor shown a number calls after it retired, within the match window: the
    call routes to the business and is attributed to that visitor; the number goes back
    to the carrier only once that visitor's match window is over."""
    client = app.test_client()
    setup = make_site(db, numbers=2, lease_seconds=60, match_window=3600)
    store = get_pools()
    session = "retiring-visitor-session-1"
    got = store.lease(setup.pool.id, session, numbers=setup.numbers, lease_seconds=60)
    number = got.number
    get_visits().create(
        session,
        Visit(
            site_id=setup.site.id,
            started=got.at,
            landing_url="https://shop.example/retire",
            source="google",
            medium="cpc",
            pages=[[0, "/retire"]],
        ),
        ttl=86400,
    )
    # The number retires while its visitor is still on the page.
    row = db.scalar(select(TrackingNumber).where(TrackingNumber.number == number))
    retire(row, redis_now(store))
    commit_config(db)
    retired_at = row.retiring_since

    # The caller rings within the match window: forwarded to the business, attributed.
    params = call_params(setup, number)
    answer = twilio_post(client, "/telephony/twilio/voice", params, setup.token)
    assert answer.status_code == 200
    assert BUSINESS in answer.get_data(as_text=True)
    assert run_jobs(app) == 1
    with app.app_context():
        [call] = get_db().scalars(select(Call)).all()
        assert (call.tracking_number, call.session_id) == (number, session)
        assert call.confidence in ("exact", "late") and call.source == "google"

    # Not released while that visitor can still call: up to the lease end + the window.
    carrier = SqlCarrier()
    db.expire_all()
    row = db.scalar(select(TrackingNumber).where(TrackingNumber.number == number))
    due = release_time(db, store, row)
    assert due >= datetime.fromtimestamp(got.at + 60 + 3600, UTC) - timedelta(seconds=1)
    assert due >= retired_at + timedelta(seconds=3660)
    for at in (retired_at, due - timedelta(seconds=1)):
        autosizer.release_due(db, store, carrier, at)
        assert carrier.released == []
    assert [n.number for n in due_for_release(db, due)] == [number]
    released = autosizer.release_due(db, store, carrier, due)
    db.commit()
    assert [n.number for n in released] == carrier.released == [number]
    assert db.scalar(select(TrackingNumber).where(TrackingNumber.number == number)) is None
    [entry] = entries(db, "autosize.release")
    assert entry.details["number"] == number and entry.agency_id == setup.agency.id


@pytest.mark.postgres
def test_a_renewed_lease_pushes_the_release_back(app, db):
    setup = make_site(db, numbers=2, lease_seconds=60, match_window=600)
    store = get_pools()
    t0 = time.time()
    got = store.lease(setup.pool.id, "renewing-session-1", numbers=setup.numbers, lease_seconds=60)
    row = db.scalar(select(TrackingNumber).where(TrackingNumber.number == got.number))
    retire(row, datetime.fromtimestamp(t0, UTC))
    db.commit()
    first = release_time(db, store, row)
    # The holder keeps reading the page for another 10 minutes on its own number.
    others = [n for n in setup.numbers if n != got.number]
    for step in range(1, 21):
        again = store.lease(
            setup.pool.id,
            "renewing-session-1",
            numbers=others,
            lease_seconds=60,
            now=got.at + 30 * step,
        )
        assert (again.status, again.number) == ("renewed", got.number)
    assert not store.redis.sismember(PoolKeys(setup.pool.id).numbers, got.number)
    later = release_time(db, store, row)
    assert later - first >= timedelta(seconds=590)
    carrier = SqlCarrier()
    autosizer.release_due(db, store, carrier, first + timedelta(seconds=1))
    assert carrier.released == []
    assert row.release_after == later  # the due date moved with the lease


@pytest.mark.postgres
def test_settings_are_validated_and_money_needs_an_agency_admin(app, db):
    setup = make_site(db, numbers=1)
    admin = cli_principal()
    for bad, error in (
        ({"min_numbers": 5, "max_numbers": 2}, Unprocessable),
        ({"target_overflow": 0}, Invalid),
        ({"target_overflow": 0.9}, Invalid),
        ({"max_numbers": 0}, Invalid),
        ({"monthly_cap_minor": -1}, Invalid),
        ({"currency": "dollars"}, Invalid),
        ({"enabled": "yes"}, Invalid),
        ({"cooldown_seconds": 10**9}, Invalid),
        ({"colour": "red"}, Invalid),
    ):
        with pytest.raises(error):
            pool_autosize.update(db, admin, setup.pool, bad)
    assert db.get(PoolAutosize, setup.pool.id) is None
    manager = Principal("user", 9, setup.agency.id, setup.client.id, "client_manager", "m@x")
    with pytest.raises(Forbidden, match="spends money"):
        pool_autosize.update(db, manager, setup.pool, {"enabled": True})
    row = pool_autosize.update(db, manager, setup.pool, {"cooldown_seconds": 7200})
    assert row.cooldown_seconds == 7200 and row.enabled is False
    row = pool_autosize.update(
        db, admin, setup.pool, {"monthly_cap_minor": 5000, "currency": "eur"}
    )
    assert (row.monthly_cap_minor, row.currency) == (5000, "EUR")
    [entry] = [
        e for e in entries(db, "update") if e.object_type == "pool_autosizing" and e.actor == "cli"
    ]
    assert entry.details["monthly_cap_minor"] == [None, 5000]
    assert json.dumps(pool_autosize.describe(row))  # JSON as it is


@pytest.mark.postgres
def test_the_pool_health_page_shows_settings_plan_and_actions(app, db):
    from tests.helpers import log_in, make_user

    setup = make_site(db, numbers=3)
    now = datetime.now(UTC)
    busy_week(db, setup.pool.id, now)
    client = app.test_client()
    log_in(client, make_user(db, setup))
    page = client.get("/dashboard/pools").get_data(as_text=True)
    assert 'data-metric="autosize">off<' in page
    turn_on(db, setup, max_numbers=8, monthly_cap_minor=2000)
    carrier = SqlCarrier()
    autosizer.run(db, get_pools(), carrier, now=now)
    page = client.get("/dashboard/pools").get_data(as_text=True)
    assert 'data-metric="autosize">on<' in page
    assert "1–8 numbers" in page and "cap 20.00 USD a month" in page
    assert "bought 5" in page
    assert all(number in page for number in carrier.bought)
    assert "buy" in page.split('data-metric="actions"')[1]


@pytest.mark.postgres
def test_the_hourly_job_buys_through_the_agencys_twilio_account(app, db, stand_in):
    """End to end with the default carrier: the Twilio stand-in sells the numbers, the
    job buys them into the pool with Ringtrail's webhooks, and they are leasable."""
    assert autosizer.PERIODIC.func is autosizer.periodic_autosize
    assert autosizer.PERIODIC.cron == "17 * * * *"
    setup = make_site(db, numbers=3)
    stand_in.accounts[setup.account_sid] = setup.token
    for_sale = tracking_numbers(9, start=500, area="415")
    stand_in.offer(*for_sale)
    busy_week(db, setup.pool.id, datetime.now(UTC))
    turn_on(db, setup, max_numbers=10)
    with app.app_context():
        assert autosizer.periodic_autosize() == 1
    db.expire_all()
    plan = db.get(PoolAutosize, setup.pool.id).last_plan
    assert (plan["action"], plan["count"], plan["done"]) == ("buy", 7, "bought 7")
    bought = [n for n in pool_numbers(db, setup.pool.id) if n.carrier_sid]
    assert len(pool_numbers(db, setup.pool.id)) == 10 and len(bought) == 7
    owned = stand_in.owned(setup.account_sid)
    assert {n.number for n in bought} == set(owned) and set(owned) < set(for_sale)
    assert all(o["voice_url"].endswith("/telephony/twilio/voice") for o in owned.values())
    [entry] = entries(db, "autosize.buy")
    assert entry.actor == "autosizing" and sorted(entry.details["numbers"]) == sorted(owned)
    [config] = site_for_key(setup.site_key).pools
    assert set(owned) <= set(config.numbers)


@pytest.mark.postgres
def test_an_agency_without_a_twilio_account_is_told_and_nothing_is_bought(app, db, stand_in):
    setup = make_site(db, numbers=3)
    setup.agency.twilio_account_sid = None
    setup.agency.twilio_auth_token = None
    commit_config(db)
    stand_in.offer(*tracking_numbers(9, start=500, area="415"))
    busy_week(db, setup.pool.id, datetime.now(UTC))
    turn_on(db, setup, max_numbers=10)
    [outcome] = autosizer.run(db, get_pools(), now=redis_now(get_pools()))
    assert (outcome.plan["action"], outcome.done) == ("buy", autosizer.NOT_CONNECTED)
    assert len(pool_numbers(db, setup.pool.id)) == 3 and stand_in.numbers == {}
    assert entries(db, "autosize.buy") == []


class FailingCarrier(SqlCarrier):
    """Buys nothing (the carrier answers an error) and releases only the first number."""

    def buy_for_pool(self, db, pool, count, *, actor):
        raise RuntimeError("carrier said 429: try later")

    def release_number(self, db, number, *, actor):
        if self.released:
            raise RuntimeError("carrier said 500")
        super().release_number(db, number, actor=actor)


@pytest.mark.postgres
def test_carrier_failures_are_recorded_and_keep_what_was_done(app, db):
    setup = make_site(db, numbers=4, lease_seconds=60, match_window=600)
    now = redis_now(get_pools())
    busy_week(db, setup.pool.id, now)
    turn_on(db, setup, max_numbers=20)
    carrier = FailingCarrier()
    [outcome] = autosizer.run(db, get_pools(), carrier, now=now)
    assert outcome.done.startswith("failed: carrier said 429")
    db.expire_all()
    assert db.get(PoolAutosize, setup.pool.id).last_plan["done"] == outcome.done
    assert entries(db, "autosize.buy") == []
    # Two numbers retired long ago: the first goes back, the second waits for next time.
    for row in pool_numbers(db, setup.pool.id)[:2]:
        retire(row, now - timedelta(hours=2))
    commit_config(db)
    released = autosizer.release_due(db, get_pools(), carrier, now)
    assert [r.number for r in released] == carrier.released and len(carrier.released) == 1
    db.expire_all()
    left = [n for n in pool_numbers(db, setup.pool.id) if n.retiring_since]
    assert len(left) == 1 and left[0].number != carrier.released[0]
    assert len(entries(db, "autosize.release")) == 1
