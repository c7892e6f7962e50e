"""The public API the snippet calls: sessions, page views, CORS and bad input."""

from __future__ import annotations

import json

import pytest

from ringtrail.tracking.pool import PoolKeys
from ringtrail.tracking.visit_counts import VisitKey, landing_path
from ringtrail.tracking.visits import MAX_PAGES, VisitKeys, decode
from tests.helpers import BUSINESS, HUMAN_UA, ORIGIN, make_site

LANDING = (
    "https://shop.example/plumbing?utm_source=google&utm_medium=cpc&utm_campaign=spring"
    "&utm_term=burst+pipe&gclid=abc123&email=someone%40example.com"
)


def post(client, path, body, *, origin=ORIGIN, ua=HUMAN_UA, headers=None, raw=None):
    hdrs = {"User-Agent": ua, **(headers or {})}
    if origin is not None:
        hdrs["Origin"] = origin
    data = raw if raw is not None else json.dumps(body)
    return client.post(path, data=data, headers=hdrs, content_type="text/plain")


def start(client, key, url=LANDING, **kw):
    body = {"site": key, "url": url, "referrer": "https://www.google.com/", "title": "Plumbing"}
    body.update(kw.pop("body", {}))
    return post(client, "/v1/sessions", body, **kw)


@pytest.mark.postgres
def test_session_leases_a_number_and_stores_the_visit(client, db, db_backend, redis_client):
    setup = make_site(db, numbers=3)
    res = start(client, setup.site_key)
    assert res.status_code == 200, res.get_data(as_text=True)
    data = res.get_json()
    assert set(data) == {"session", "numbers", "ttl"}
    tracking = data["numbers"][BUSINESS]
    assert tracking["e164"] in setup.numbers
    assert tracking["display"].startswith("(628) ")
    assert data["ttl"] == 60 + 3600 + 600
    assert res.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in res.headers["Vary"]

    visit = decode(redis_client.get(VisitKeys(data["session"]).visit))
    assert (visit.source, visit.medium, visit.campaign, visit.term) == (
        "google",
        "cpc",
        "spring",
        "burst pipe",
    )
    assert visit.click_ids == {"gclid": "abc123"}
    # The landing URL keeps no query: its marketing parameters are parsed out above and
    # the rest (here an e-mail address) is nobody's business.
    assert visit.landing_url == "https://shop.example/plumbing"
    assert visit.title == "Plumbing"
    assert visit.pages == [[0, "/plumbing", "Plumbing"]]
    assert 0 < redis_client.ttl(VisitKeys(data["session"]).visit) <= data["ttl"]


def test_pageviews_renew_the_same_number_and_are_capped(client, db, redis_client):
    setup = make_site(db, numbers=3)
    data = start(client, setup.site_key).get_json()
    sid, number = data["session"], data["numbers"][BUSINESS]["e164"]
    for i in range(MAX_PAGES + 5):
        res = post(
            client,
            f"/v1/sessions/{sid}/pageviews",
            {
                "site": setup.site_key,
                "url": f"https://shop.example/p{i}?q=secret",
                "title": f"Page {i}",
            },
        )
        assert res.status_code == 200
        assert res.get_json()["numbers"][BUSINESS]["e164"] == number
    pages = decode(redis_client.get(VisitKeys(sid).visit)).pages
    assert len(pages) == MAX_PAGES
    assert pages[-1][1:] == ["/p54", "Page 54"]
    assert all("secret" not in p[1] for p in pages)


@pytest.mark.parametrize("beat", [True, 1])  # the snippet sends 1; older ones sent true
def test_heartbeat_renews_without_a_page(client, db, redis_client, beat):
    setup = make_site(db)
    sid = start(client, setup.site_key).get_json()["session"]
    res = post(client, f"/v1/sessions/{sid}/pageviews", {"site": setup.site_key, "heartbeat": beat})
    assert res.status_code == 200
    assert len(decode(redis_client.get(VisitKeys(sid).visit)).pages) == 1


def test_a_heartbeat_of_another_value_is_a_page_view_that_needs_its_url(client, db):
    setup = make_site(db)
    sid = start(client, setup.site_key).get_json()["session"]
    res = post(client, f"/v1/sessions/{sid}/pageviews", {"site": setup.site_key, "heartbeat": 2})
    assert res.status_code == 400 and "url" in res.get_data(as_text=True)


def test_pageview_for_an_unknown_session_is_404(client, db):
    setup = make_site(db)
    res = post(
        client,
        "/v1/sessions/" + "x" * 22 + "/pageviews",
        {"site": setup.site_key, "url": "https://shop.example/"},
    )
    assert res.status_code == 404
    assert res.get_json() == {"error": "unknown session"}


def test_pageview_with_another_sites_key_is_refused(client, db):
    a = make_site(db)
    b = make_site(db, number_start=100)
    sid = start(client, a.site_key).get_json()["session"]
    res = post(
        client,
        f"/v1/sessions/{sid}/pageviews",
        {"site": b.site_key, "url": "https://shop.example/"},
    )
    assert res.status_code == 404


def test_several_business_numbers_each_get_their_own_pool(client, db):
    from ringtrail.storage.models import Pool, TrackingNumber

    setup = make_site(db, numbers=2)
    second = Pool(site=setup.site, business_number="+14155550111", lease_seconds=60)
    second.numbers = [TrackingNumber(number="+16285550900", role="pool")]
    db.add(second)
    db.commit()
    numbers = start(client, setup.site_key).get_json()["numbers"]
    assert numbers[BUSINESS]["e164"] in setup.numbers
    assert numbers["+14155550111"]["e164"] == "+16285550900"


@pytest.mark.parametrize(
    ("headers", "body", "ua"),
    [
        ({"Sec-GPC": "1"}, {}, HUMAN_UA),
        ({}, {"gpc": True}, HUMAN_UA),
        ({}, {}, "curl/8.0"),
        ({}, {}, ""),
        ({}, {}, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        ({}, {}, "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/124.0 Safari/537.36"),
    ],
    ids=["sec-gpc", "navigator-gpc", "curl", "empty-ua", "googlebot", "headless"],
)
def test_no_visitor_lease_without_permission(client, db, redis_client, headers, body, ua):
    setup = make_site(db, source_numbers={"google/cpc": "+16285550777"})
    res = start(client, setup.site_key, ua=ua, headers=headers, body=body)
    assert res.status_code == 200
    data = res.get_json()
    assert data["session"] is None
    # Source-level number instead of a visitor lease; nothing about the visitor stored.
    assert data["numbers"] == {
        BUSINESS: {
            "e164": "+16285550777",
            "display": "(628) 555-0777",
            "international": "+1 628-555-0777",
        }
    }
    assert not redis_client.keys("ringtrail:visit:*")
    assert not redis_client.hgetall(PoolKeys(setup.pool.id).holders)


def test_consent_required_sites_lease_only_with_consent(client, db):
    setup = make_site(db, consent_mode="required")
    assert start(client, setup.site_key).get_json()["session"] is None
    assert start(client, setup.site_key, body={"consent": True}).get_json()["session"]


def test_dnt_is_honoured_only_when_the_site_asks(client, db):
    setup = make_site(db)
    assert start(client, setup.site_key, headers={"DNT": "1"}).get_json()["session"]
    setup.site.honor_dnt = True
    db.commit()
    assert start(client, setup.site_key, headers={"DNT": "1"}).get_json()["session"] is None


def test_visits_without_a_lease_are_still_counted(client, db, redis_client):
    setup = make_site(db)
    start(client, setup.site_key, headers={"Sec-GPC": "1"})
    start(client, setup.site_key)
    start(client, setup.site_key, ua="curl/8.0")  # bots are not visits
    counts = {}
    for key in redis_client.keys(f"ringtrail:{{pool:{setup.pool.id}}}:visits:*"):
        counts.update(redis_client.hgetall(key))
    # Counted by source, medium, campaign, keyword and landing page (a JSON array).
    assert {VisitKey.parse(k): v for k, v in counts.items()} == {
        VisitKey("google", "cpc", "spring", "burst pipe", landing_path(LANDING)): "2"
    }


def test_exhausted_overflow_pool_shows_the_overflow_number(client, db):
    setup = make_site(db, numbers=1, policy="overflow", overflow="+16285550888")
    start(client, setup.site_key)
    numbers = start(client, setup.site_key).get_json()["numbers"]
    assert numbers[BUSINESS]["e164"] == "+16285550888"


def test_exhausted_original_pool_leaves_the_business_number(client, db):
    setup = make_site(db, numbers=1, policy="original")
    start(client, setup.site_key)
    assert start(client, setup.site_key).get_json()["numbers"] == {}


def test_redis_down_answers_source_numbers(app_config, db, tmp_path):
    from ringtrail import create_app

    app_config["REDIS_URL"] = f"unix://{tmp_path}/nothing.sock"
    app = create_app(app_config)
    with app.app_context():
        from ringtrail.storage.sql import get_db

        setup = make_site(get_db(), source_numbers={"*": "+16285550666"})
    res = start(app.test_client(), setup.site_key)
    assert res.status_code == 200
    assert res.get_json()["session"] is None
    assert res.get_json()["numbers"][BUSINESS]["e164"] == "+16285550666"


def test_cors_preflight_is_granted_only_to_allowed_origins(client, db):
    make_site(db)
    ok = client.options("/v1/sessions", headers={"Origin": ORIGIN})
    assert ok.status_code == 204 and ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    no = client.options("/v1/sessions", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in no.headers
    assert "Origin" in no.headers["Vary"]


NESTED = "[" * 10_000 + "]" * 10_000


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("url-100kb", 413, "request body too large"),
        ("invalid-json", 400, "body is not valid JSON"),
        ("invalid-utf8", 400, "body is not valid UTF-8"),
        ("nested-10000", 413, "request body too large"),
        ("nested-small-body", 400, "body is nested too deeply"),
        ("not-an-object", 400, "body must be a JSON object"),
        ("unknown-site", 404, "unknown site key"),
        ("missing-site", 400, "site is required"),
        ("disallowed-origin", 403, "origin not allowed for this site"),
        ("null-origin", 403, "origin not allowed for this site"),
        ("ua-50kb", 200, None),
        ("nul-byte", 400, "url contains a NUL byte"),
        ("javascript-url", 400, "url must be an absolute http(s) URL"),
        ("url-not-string", 400, "url must be a string"),
        ("long-url", 400, "url is longer than 2048 characters"),
        ("bad-session-id", 400, "malformed session id"),
    ],
)
def test_bad_input_gets_a_4xx_with_a_reason(client, db, case, status, reason):
    setup = make_site(db)
    body = {"site": setup.site_key, "url": "https://shop.example/"}
    kw = {}
    path = "/v1/sessions"
    if case == "url-100kb":
        body["url"] = "https://shop.example/?" + "a" * 100_000
    elif case == "invalid-json":
        kw["raw"] = b'{"site": '
    elif case == "invalid-utf8":
        kw["raw"] = b'{"site": "\xff\xfe"}'
    elif case == "nested-10000":
        kw["raw"] = NESTED.encode()
    elif case == "nested-small-body":
        kw["raw"] = ("[" * 3000 + "]" * 3000).encode()
    elif case == "not-an-object":
        kw["raw"] = b"[1, 2]"
    elif case == "unknown-site":
        body["site"] = "nope"
    elif case == "missing-site":
        del body["site"]
    elif case == "disallowed-origin":
        kw["origin"] = "https://evil.example"
    elif case == "null-origin":
        kw["origin"] = "null"
    elif case == "ua-50kb":
        kw["ua"] = "Mozilla/5.0 " + "x" * 50_000
    elif case == "nul-byte":
        body["url"] = "https://shop.example/\x00"
    elif case == "javascript-url":
        body["url"] = "javascript:alert(1)"
    elif case == "url-not-string":
        body["url"] = ["https://shop.example/"]
    elif case == "long-url":
        body["url"] = "https://shop.example/?" + "a" * 3000
    elif case == "bad-session-id":
        path = "/v1/sessions/<script>/pageviews"
    res = post(client, path, body, **kw)
    assert res.status_code == status, res.get_data(as_text=True)
    if reason is not None:
        assert res.get_json() == {"error": reason}
    assert "Access-Control-Allow-Origin" not in res.headers or status == 200
    assert "Origin" in res.headers.get("Vary", "")
