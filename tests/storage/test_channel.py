"""The change channel: every committed configuration change is announced once, nothing
else is, and a Redis that is away costs the writer a quarter of a second at most."""

from __future__ import annotations

import time

import pytest
import redis as redis_lib
from sqlalchemy import select

from ringtrail import create_app
from ringtrail.storage.channel import ConfigChannel
from ringtrail.storage.clients import make_redis
from ringtrail.storage.models import Client, ConfigVersion, User
from ringtrail.storage.sql import get_db
from tests.helpers import make_site, make_user
from tests.rules.test_failures import RedisServer


@pytest.fixture
def listener(redis_url):
    """A subscriber of the change channel on the test Redis; yields a function that
    returns the messages received so far."""
    client = redis_lib.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("ringtrail:config")
    pubsub.get_message(timeout=1)  # the confirmation

    def received(wait: float = 0.3) -> list[bytes]:
        messages, deadline = [], time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            message = pubsub.get_message(timeout=left)
            if message is not None:
                messages.append(message["data"])
        return messages

    yield received
    pubsub.close()
    client.close()


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.close()


def version(db) -> int:
    return db.scalar(select(ConfigVersion.version))


def test_each_configuration_commit_is_announced_once(db, listener):
    setup = make_site(db)
    assert len(listener()) == 1  # one commit of many new rows: one message
    client = db.get(Client, setup.client.id)
    client.record_calls = True
    db.flush()
    client.whisper = True
    db.commit()  # two flushes, one transaction
    assert len(listener()) == 1

    make_user(db, setup)  # not configuration: the version row stays, nobody is told
    assert listener() == []

    before = version(db)
    db.get(Client, setup.client.id).suspended = True
    db.flush()
    db.rollback()  # bumped in the transaction, then rolled back: nothing to announce
    assert version(db) == before
    user = db.scalars(select(User)).first()
    user.email = "someone@example.com"
    db.commit()  # a later commit does not announce the rolled-back change either
    assert listener() == []


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_a_commit_with_redis_away_is_announced_by_the_version_row_alone(
    app_config, redis_client, own_redis, fault
):
    app = create_app(app_config | {"QUEUE_REDIS_URL": own_redis.url})
    try:
        with app.app_context():
            db = get_db()
            setup = make_site(db)
            before = version(db)
            own_redis.stop() if fault == "stopped" else own_redis.freeze()
            db.get(Client, setup.client.id).record_calls = True
            started = time.monotonic()
            db.commit()
            assert time.monotonic() - started < 0.6  # one 0.25 s timeout, no retry storm
            assert version(db) == before + 1
    finally:
        app.extensions["ringtrail"]["engine"].dispose()


def test_the_first_announcement_after_a_redis_restart_gets_through(own_redis):
    channel = ConfigChannel(make_redis(own_redis.url, 0.25))
    assert channel.announce()  # a pooled connection now exists
    own_redis.stop()
    own_redis.start()
    subscriber = redis_lib.Redis.from_url(own_redis.url).pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(channel.name)
    subscriber.get_message(timeout=1)
    assert channel.announce()  # the pool replaces the connection the restart killed
    message = subscriber.get_message(timeout=1)
    assert message is not None and message["channel"] == channel.name.encode()
    subscriber.close()
    own_redis.stop()
    started = time.monotonic()
    assert not channel.announce()
    assert time.monotonic() - started < 0.6
