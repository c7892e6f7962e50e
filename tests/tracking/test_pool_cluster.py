"""Leases and visits run unchanged on a 3-primary Redis Cluster; RQ stays standalone."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter

import pytest
from redis.cluster import RedisCluster
from sqlalchemy import select

from ringtrail import create_app
from ringtrail.storage.models import Call
from ringtrail.tracking.pool import PoolKeys, PoolStore
from tests.helpers import (
    BUSINESS,
    HUMAN_UA,
    ORIGIN,
    call_params,
    make_site,
    run_jobs,
    tracking_numbers,
    twilio_post,
)

T0 = 1_800_000_000.0


@pytest.fixture
def cluster(redis_cluster_url):
    client = RedisCluster.from_url(redis_cluster_url, decode_responses=True)
    yield client
    client.flushall()
    client.close()


def _hammer(url: str, worker: int, count: int, numbers: list[str], out) -> None:
    store = PoolStore(RedisCluster.from_url(url, decode_responses=True))
    got = []
    for i in range(count):
        res = store.lease(
            7,
            f"w{worker}-s{i}",
            numbers=numbers,
            lease_seconds=3600,
            policy="original",
            now=T0 + i * 0.001,
        )
        got.append((res.status, res.number))
    out.put(got)


def test_concurrent_leases_never_double_book_on_the_cluster(redis_cluster_url, cluster):
    """The same 4 × 500 against 50 numbers as on standalone Redis, on the cluster."""
    numbers = tracking_numbers(50)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_hammer, args=(redis_cluster_url, w, 500, numbers, out))
        for w in range(4)
    ]
    for p in procs:
        p.start()
    results = [row for _ in procs for row in out.get(timeout=120)]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    granted = [number for status, number in results if status == "new"]
    assert len(granted) == 50 and len(set(granted)) == 50, Counter(granted).most_common(3)
    assert sum(1 for status, _ in results if status == "original") == 1950
    assert sorted(cluster.hgetall(PoolKeys(7).holders).values()) == sorted(numbers)


def test_pools_spread_over_the_cluster_slots(cluster):
    slots = {cluster.keyslot(PoolKeys(pool).free) for pool in range(20)}
    assert len(slots) > 1  # different pools land on different slots (and nodes)
    k = PoolKeys(3)
    assert len({cluster.keyslot(key) for key in (k.free, k.busy, k.leases, k.history)}) == 1


def test_session_and_call_on_the_cluster(
    cluster, redis_cluster_url, redis_url, app_config, redis_client
):
    """The public API leases on the cluster; the call job (on standalone RQ) attributes it."""
    app_config.update(REDIS_URL=redis_cluster_url, REDIS_CLUSTER=True, QUEUE_REDIS_URL=redis_url)
    app = create_app(app_config)
    with app.app_context():
        from ringtrail.storage.sql import get_db

        setup = make_site(get_db(), numbers=3)
    client = app.test_client()
    res = client.post(
        "/v1/sessions",
        content_type="text/plain",
        headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA},
        data=json.dumps({"site": setup.site_key, "url": "https://shop.example/?utm_source=bing"}),
    )
    data = res.get_json()
    assert res.status_code == 200 and data["session"]
    number = data["numbers"][BUSINESS]["e164"]
    page = client.post(
        f"/v1/sessions/{data['session']}/pageviews",
        content_type="text/plain",
        headers={"Origin": ORIGIN},
        data=json.dumps({"site": setup.site_key, "url": "https://shop.example/contact"}),
    )
    assert page.get_json()["numbers"][BUSINESS]["e164"] == number
    assert (
        twilio_post(
            client, "/telephony/twilio/voice", call_params(setup, number), setup.token
        ).status_code
        == 200
    )
    assert run_jobs(app) == 1
    with app.app_context():
        from ringtrail.storage.sql import get_db

        call = get_db().scalar(select(Call))
        assert (call.confidence, call.session_id, call.source) == ("exact", data["session"], "bing")
        assert [p[1] for p in call.visit.pages] == ["/", "/contact"]
    app.extensions["ringtrail"]["engine"].dispose()


def test_cluster_needs_a_separate_queue_redis(app_config, redis_cluster_url):
    app_config.update(REDIS_URL=redis_cluster_url, REDIS_CLUSTER=True, QUEUE_REDIS_URL=None)
    with pytest.raises(RuntimeError, match="RQ cannot use Redis Cluster"):
        create_app(app_config)
