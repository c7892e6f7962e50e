"""Session starts through the public API: source-level numbers on exhaustion, and the
limits per site and per anonymous client, which keep no address."""

from __future__ import annotations

import json

from ringtrail.tracking.pool import PoolKeys
from tests.helpers import BUSINESS, HUMAN_UA, ORIGIN, make_site, tracking_numbers
from tests.rules.test_no_ip import everything_in_redis

IP = "198.51.100.23"


def start(client, setup, url="https://shop.example/", address=IP, ua=HUMAN_UA, headers=None):
    """POST /v1/sessions from ``address``; returns (session, the number shown)."""
    response = client.post(
        "/v1/sessions",
        content_type="text/plain",
        headers={"Origin": ORIGIN, "User-Agent": ua, **(headers or {})},
        environ_base={"REMOTE_ADDR": address},
        data=json.dumps({"site": setup.site_key, "url": url}),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    shown = answer["numbers"].get(BUSINESS)
    return answer["session"], shown["e164"] if shown else BUSINESS


def test_on_exhaustion_a_source_with_its_own_number_gets_it(app, client, db):
    [google] = tracking_numbers(1, start=700)
    setup = make_site(db, numbers=1, source_numbers={"google/cpc": google})
    first, number = start(client, setup)
    assert number == setup.numbers[0]
    ad = "https://shop.example/?utm_source=google&utm_medium=cpc"
    session, shown = start(client, setup, ad, address="198.51.100.24")
    assert shown == google  # the burst keeps its source, and takes no shared number
    # A page view of that visitor keeps the same answer and is not a new exhaustion.
    page = client.post(
        f"/v1/sessions/{session}/pageviews",
        content_type="text/plain",
        headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA},
        data=json.dumps({"site": setup.site_key, "url": ad}),
    )
    assert page.get_json()["numbers"][BUSINESS]["e164"] == google
    # A visitor of another source still shares the pool's number (reuse_oldest).
    _, other = start(client, setup, address="198.51.100.25")
    assert other == setup.numbers[0]
    stats = client.application.extensions["ringtrail"]["pools"].stats(setup.pool.id)
    assert (stats["exhausted"], stats["shared"]) == ("2", "1")


def test_one_client_cannot_drain_the_pool(app, client, db, redis_client):
    app.config["SESSION_LIMIT_CLIENT"] = 3
    setup = make_site(db, numbers=10)
    got = [start(client, setup) for _ in range(5)]
    assert [s is not None for s, _ in got] == [True, True, True, False, False]
    assert [n for _, n in got[3:]] == [BUSINESS, BUSINESS]  # never an error on the page
    # Another client (address, or browser) is not limited by the first one.
    assert start(client, setup, address="198.51.100.99")[0] is not None
    assert start(client, setup, ua=HUMAN_UA + " Edg/124.0")[0] is not None
    assert redis_client.zcard(PoolKeys(setup.pool.id).busy) == 5
    # The limit's key is a keyed hash that expires with its 10-minute window; no address
    # is anywhere in Redis, nor a visit for the turned-away starts.
    [key] = [k for k in redis_client.keys("*:client:*") if redis_client.get(k) == "5"]
    assert 0 < redis_client.ttl(key) <= 600
    assert IP not in everything_in_redis(redis_client)
    assert len(redis_client.keys("ringtrail:visit:*")) == 5


def test_session_starts_are_limited_per_site(app, client, db):
    app.config["SESSION_LIMIT_SITE"] = 2
    [fixed] = tracking_numbers(1, start=800)
    setup = make_site(db, numbers=10, source_numbers={"*": fixed})
    got = [start(client, setup, address=f"198.51.100.{i}") for i in range(3)]
    assert [s is not None for s, _ in got] == [True, True, False]
    assert got[2][1] == fixed  # over the limit: the source-level number


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(app, client, db):
    app.config["SESSION_LIMIT_CLIENT"] = 1
    app.config["TRUSTED_PROXIES"] = 1
    setup = make_site(db, numbers=10)
    proxy = "10.0.0.1"
    one = {"X-Forwarded-For": "203.0.113.5"}
    two = {"X-Forwarded-For": "spoofed, 203.0.113.6"}
    assert start(client, setup, address=proxy, headers=one)[0] is not None
    assert start(client, setup, address=proxy, headers=two)[0] is not None
    assert start(client, setup, address=proxy, headers=one)[0] is None
