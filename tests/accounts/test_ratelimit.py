"""Per-key rate limits: 429 with Retry-After; a dead or hung limiter store lets requests by."""

from __future__ import annotations

import socket
import threading

import pytest

from ringtrail.accounts import ratelimit
from tests.helpers import bearer, make_site, new_key


@pytest.fixture
def key(app):
    from ringtrail.storage.sql import get_db

    with app.app_context():
        setup = make_site(get_db(), numbers=1)
    return new_key(app, setup.agency.id)


def test_over_the_limit_is_429_with_retry_after(app_config, redis_client):
    from ringtrail import create_app
    from ringtrail.storage.sql import get_db

    app = create_app({**app_config, "API_RATE_LIMIT_HOUR": 3, "API_RATE_LIMIT_DAY": 100})
    with app.app_context():
        setup = make_site(get_db(), numbers=1)
    raw = new_key(app, setup.agency.id)
    other = new_key(app, setup.agency.id)
    client = app.test_client()
    answers = [client.get("/api/v1/me", headers=bearer(raw)) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers[:3]] == ["2", "1", "0"]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    retry = int(answers[3].headers["Retry-After"])
    assert 1 <= retry <= 3600
    assert "rate limit exceeded" in answers[3].get_json()["error"]
    # Limits are per key: another key of the same agency still gets through.
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200
    app.extensions["ringtrail"]["engine"].dispose()


def test_the_tightest_window_decides_and_says_when_it_ends(app):
    now = 86400 * 20000 + 7200 + 10  # 02:00:10 on some day
    with app.app_context():
        limits = [(3600, 100), (86400, 2)]
        first, second, third = (ratelimit.hit("id", limits, now) for _ in range(3))
        assert (first.allowed, second.allowed, third.allowed) == (True, True, False)
        assert (first.remaining, second.remaining) == (1, 0)
        assert third.retry_after == 86400 - 7200 - 10
        assert ratelimit.hit("id", limits, now + 86400).allowed  # a new day
        unlimited = ratelimit.hit("id", [(3600, 0)], now)
        assert unlimited.allowed and not unlimited.counted


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hung_redis():
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def run():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.parametrize("store", ["refused", "hung"])
def test_the_api_answers_when_the_limiter_store_is_down(
    app_config, redis_client, hung_redis, store
):
    import time

    from ringtrail import create_app
    from ringtrail.storage.sql import get_db

    url = f"redis://127.0.0.1:{_dead_port()}/0" if store == "refused" else hung_redis
    app = create_app({**app_config, "RATE_LIMIT_REDIS_URL": url, "API_RATE_LIMIT_HOUR": 1})
    with app.app_context():
        setup = make_site(get_db(), numbers=1)
    raw = new_key(app, setup.agency.id)
    client = app.test_client()
    started = time.monotonic()
    answers = [client.get("/api/v1/pools", headers=bearer(raw)) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]  # limit 1, but no store
    assert "X-RateLimit-Remaining" not in answers[0].headers
    assert time.monotonic() - started < 3  # 0.25 s timeouts, no retries
    app.extensions["ringtrail"]["engine"].dispose()
