"""The watcher keeps each process's routing table current: changes arrive on the change
channel at once, by the version row when Redis is away, and a table nobody changed stays
confirmed however long a line is quiet.

Two apps on one database and one Redis stand for two web processes. Faults are real: a
redis-server of the test's own is stopped or frozen (SIGSTOP), the database is pointed
at one that is not there.
"""

from __future__ import annotations

import gc
import time

import pytest

from ringtrail import create_app
from ringtrail.storage.models import Client, TrackingNumber
from ringtrail.storage.sql import get_db
from ringtrail.tracking.directory import get_directory
from ringtrail.tracking.watcher import POLL
from tests.helpers import call_params, database_down, make_site, twilio_post
from tests.rules.test_failures import RedisServer

RECORDED = 'record="record-from-answer-dual"'


@pytest.fixture
def app_config(app_config):
    # The watcher runs only with a cache time, as in production (the suite's default is 0).
    return app_config | {"CACHE_SECONDS": 30}


@pytest.fixture
def apps(app_config, redis_client):
    """Apps on the test's database and Redis, each standing for one web process."""
    made = []

    def make(**overrides):
        application = create_app(app_config | overrides)
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["ringtrail"]["engine"].dispose()


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.close()


def setup_in(app, **kwargs):
    with app.app_context():
        return make_site(get_db(), record=True, **kwargs)


def directory_of(app):
    with app.app_context():
        directory = get_directory()
        assert directory.get() is not None
        return directory


def set_client(app, client_id: int, **values) -> float:
    """Commit a change to a client as any writer would; returns when it was committed."""
    with app.app_context():
        db = get_db()
        client = db.get(Client, client_id)
        for name, value in values.items():
            setattr(client, name, value)
        db.commit()
        return time.monotonic()


def wait_for(predicate, limit: float) -> float:
    """Seconds until ``predicate()`` holds; fails after ``limit`` seconds."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < limit, f"not within {limit} s"
        time.sleep(0.005)
    return time.monotonic() - started


def recorded_call(app, setup, number: str) -> bool:
    """A signed voice webhook to ``app``; whether its TwiML records (after the notice)."""
    response = twilio_post(
        app.test_client(), "/telephony/twilio/voice", call_params(setup, number), setup.token
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    if RECORDED not in body:
        return False
    assert body.index("<Say>") < body.index(RECORDED), body
    return True


def test_a_change_reaches_another_process_through_the_channel(apps):
    writer, other = apps(), apps()
    setup = setup_in(writer)
    number = setup.numbers[0]
    directory = directory_of(other)
    # Both channel and version row confirmed: the next version-row read is 30 s away, so
    # only the channel can bring the changes below in time.
    wait_for(lambda: directory._watcher._checked, 5)
    delays = []
    for record in (False, True, False, True):
        committed = set_client(writer, setup.client.id, record_calls=record)
        wait_for(lambda r=record: directory.get().routes[number].record is r, 2.0)
        delays.append(time.monotonic() - committed)
    assert max(delays) < 1.0, delays
    assert recorded_call(other, setup, number)


def test_a_new_number_and_a_new_site_reach_another_process(apps):
    writer, other = apps(), apps()
    setup = setup_in(writer)
    directory = directory_of(other)
    with writer.app_context():
        db = get_db()
        db.add(TrackingNumber(pool_id=setup.pool.id, number="+16285559999", role="pool"))
        db.commit()
        site = make_site(db, numbers=1, number_start=100).site_key
    wait_for(lambda: "+16285559999" in directory.get().routes, 2.0)
    wait_for(lambda: site in directory.get().sites, 2.0)


def test_a_quiet_table_stays_confirmed_without_a_single_request(apps):
    """Time alone never makes the table stale: the watcher confirms it while nobody calls."""
    app = apps()
    setup = setup_in(app)
    directory = directory_of(app)
    directory.current_for = 1.0  # instead of 5 s, so that a few seconds of quiet are plenty
    snapshot = directory.get()
    snapshot.loaded_at -= 120  # as if it was last confirmed two minutes ago
    assert not directory.current(snapshot)
    time.sleep(3)  # no request at all
    assert directory.get() is snapshot  # nothing changed, nothing was reloaded
    assert directory.current(snapshot)
    assert recorded_call(app, setup, setup.numbers[0])


def test_with_redis_stopped_changes_arrive_by_the_version_row(apps, own_redis):
    writer = apps()
    other = apps(QUEUE_REDIS_URL=own_redis.url)  # its change channel is on this server
    setup = setup_in(writer)
    number = setup.numbers[0]
    directory = directory_of(other)
    wait_for(lambda: directory._watcher._checked, 5)
    own_redis.stop()
    directory.current_for = 2 * POLL + 0.5
    for record in (False, True):
        committed = set_client(writer, setup.client.id, record_calls=record)
        wait_for(lambda r=record: directory.get().routes[number].record is r, 2.0)
        assert time.monotonic() - committed < 2.0
    time.sleep(3 * POLL)  # polled, the table stays confirmed
    assert directory.current(directory.get())


def test_with_redis_frozen_changes_still_arrive_within_two_seconds(apps, own_redis):
    """A Redis that accepts connections and never answers: pongs stop, so the watcher reads
    the version row within a second, long before it gives the channel up."""
    writer = apps()
    other = apps(QUEUE_REDIS_URL=own_redis.url)
    setup = setup_in(writer)
    number = setup.numbers[0]
    directory = directory_of(other)
    wait_for(lambda: directory._watcher._checked, 5)
    own_redis.freeze()
    try:
        for record in (False, True, False):
            committed = set_client(writer, setup.client.id, record_calls=record)
            wait_for(lambda r=record: directory.get().routes[number].record is r, 2.0)
            assert time.monotonic() - committed < 2.0
            time.sleep(1.5)
    finally:
        own_redis.thaw()


def test_with_the_database_away_the_channel_keeps_the_table_confirmed(apps):
    """The database is away but nothing was announced: calls are answered as configured."""
    app = apps()
    setup = setup_in(app)
    directory = directory_of(app)
    directory.current_for = 1.0
    wait_for(lambda: directory._watcher._checked, 5)
    with database_down(app):
        time.sleep(3)  # three confirmation windows without the database
        assert directory.current(directory.get())
        assert recorded_call(app, setup, setup.numbers[0])


def test_with_the_database_and_redis_away_the_table_is_no_longer_confirmed(apps, own_redis):
    app = apps(QUEUE_REDIS_URL=own_redis.url)
    setup = setup_in(app)
    directory = directory_of(app)
    directory.current_for = 1.0
    assert recorded_call(app, setup, setup.numbers[0])
    own_redis.stop()
    with database_down(app):
        wait_for(lambda: not directory.current(directory.get()), 5)
        assert not recorded_call(app, setup, setup.numbers[0])  # the degraded answer
    # The database back: confirmed (and recording) again within a poll.
    wait_for(lambda: directory.current(directory.get()), 2 * POLL + 1)


def test_a_process_starting_with_a_disk_copy_answers_from_sql(apps):
    """A restarted process's first call is answered as configured, not from the disk copy."""
    first = apps()
    setup = setup_in(first)
    directory_of(first)  # writes directory.json
    restarted = apps()
    assert recorded_call(restarted, setup, setup.numbers[0])


def test_the_watcher_ends_with_its_app(app_config, redis_client):
    app = create_app(app_config)
    with app.app_context():
        get_directory().get()
        thread = get_directory()._watcher._thread
    assert thread.is_alive()
    app.extensions["ringtrail"]["engine"].dispose()
    del app

    def ended() -> bool:
        gc.collect()
        return not thread.is_alive()

    wait_for(ended, 5)
