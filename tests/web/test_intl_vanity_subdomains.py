"""Issue 15, server side: numbers of any country through the admin API and into the
snippet's baked settings, vanity texts, and sites that share the visit across their
subdomains (CORS, AMP, the cookie's domain)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from ringtrail.storage.models import Site, TrackingNumber
from ringtrail.tracking import snippet
from ringtrail.tracking.directory import site_for_key
from ringtrail.tracking.domains import registrable_domain
from ringtrail.tracking.visits import VisitKeys, decode
from tests.helpers import BUSINESS, HUMAN_UA, bearer, make_site, new_key

CONFIG = "RINGTRAIL_CONFIG"


@pytest.fixture
def tenant(app, db):
    setup = make_site(db, numbers=1, origins=("https://www.example.co.uk",))
    setup.extra["key"] = new_key(app, setup.agency.id)
    return setup


@pytest.fixture
def api(client, tenant):
    def call(method: str, path: str, body=None):
        kw = {"json": body} if body is not None else {}
        return client.open(
            "/api/v1" + path, method=method, headers=bearer(tenant.extra["key"]), **kw
        )

    return call


def baked(client, key: str) -> dict:
    """The settings baked into a site's snippet."""
    body = client.get(f"/s/{key}.js").get_data(as_text=True)
    start = body.index('{"k":')
    return json.JSONDecoder().raw_decode(body, start)[0]


# -- numbers of any country ----------------------------------------------------------------

# typed, E.164, and what the snippet gets: the country codes of the site's numbers (the
# business number's +1 first) and the trunk prefixes they are written with.
COUNTRIES = {
    "uk": ("+44 20 7946 0018", "+442079460018", ["1|44", "0"]),
    "ireland": ("+353 1 234 5678", "+35312345678", ["1|353", "0"]),
    "germany": ("+49 30 12345678", "+493012345678", ["1|49", "0"]),
    "france": ("+33 1 23 45 67 89", "+33123456789", ["1|33", "0"]),
    "australia": ("+61 2 1234 5678", "+61212345678", ["1|61", "0"]),
    "mexico": ("+52 55 1234 5678", "+525512345678", ["1|52", ""]),  # 55 1234 5678
}


@pytest.mark.parametrize("country", sorted(COUNTRIES))
def test_a_pool_of_any_country_is_accepted_and_baked_with_its_country_code(
    app, api, client, tenant, country
):
    typed, e164, codes = COUNTRIES[country]
    res = api("POST", "/pools", {"site_id": tenant.site.id, "business_number": typed})
    assert res.status_code == 201, res.get_json()
    assert res.get_json()["business_number"] == e164
    settings = baked(client, tenant.site_key)
    assert settings["n"] == [BUSINESS, e164]
    # Country codes and trunk prefixes only: a tracking number's displays come with its lease.
    assert settings["f"] == codes
    with app.app_context():
        assert snippet.features(site_for_key(tenant.site_key)) == {"intl"}


def test_a_north_american_site_has_neither_displays_nor_the_intl_block(app, client, tenant):
    settings = baked(client, tenant.site_key)
    assert set(settings) == {"k", "n", "a"}
    with app.app_context():
        assert snippet.features(site_for_key(tenant.site_key)) == {"nanp"}


def test_a_foreign_tracking_number_alone_brings_the_intl_block(app, db, client, tenant):
    db.add(TrackingNumber(pool_id=tenant.pool.id, number="+442079460999", role="pool"))
    db.commit()
    assert "f" in baked(client, tenant.site_key)


def test_the_session_answer_gains_the_international_display(client, db):
    setup = make_site(db, numbers=["+442079460999"], business="+442079460018")
    res = client.post(
        "/v1/sessions",
        data=json.dumps({"site": setup.site_key, "url": "https://shop.example/"}),
        headers={"Origin": "https://shop.example", "User-Agent": HUMAN_UA},
        content_type="text/plain",
    )
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["numbers"]["+442079460018"] == {
        "e164": "+442079460999",
        "display": "020 7946 0999",
        "international": "+44 20 7946 0999",
    }


def test_a_number_that_is_none_is_refused_with_a_reason(api, tenant):
    res = api("POST", "/pools", {"site_id": tenant.site.id, "business_number": "+44 20 7946"})
    assert res.status_code in (400, 422)
    assert "business_number" in json.dumps(res.get_json())


# -- vanity texts -----------------------------------------------------------------------------


def test_vanity_texts_are_set_read_validated_and_baked(app, api, client, tenant):
    pool = f"/pools/{tenant.pool.id}"
    assert api("GET", pool).get_json()["vanity_texts"] == []
    res = api("PATCH", pool, {"vanity_texts": ["239-400-FREE", "1-800  FLOWERS"]})
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["vanity_texts"] == ["239-400-FREE", "1-800 FLOWERS"]
    assert baked(client, tenant.site_key)["v"] == {
        "239-400-FREE": BUSINESS,
        "1-800 FLOWERS": BUSINESS,
    }
    with app.app_context():
        assert "vanity" in snippet.features(site_for_key(tenant.site_key))
    for bad in (["4155550100"], ["FREE"], ["<b>239-400-FREE</b>"], ["x" * 41], "239-400-FREE"):
        res = api("PATCH", pool, {"vanity_texts": bad})
        assert res.status_code in (400, 422), bad
        assert "vanity_texts" in json.dumps(res.get_json())
    assert api("PATCH", pool, {"vanity_texts": []}).get_json()["vanity_texts"] == []
    assert "v" not in baked(client, tenant.site_key)


# -- across subdomains ----------------------------------------------------------------------


def test_registrable_domains_follow_the_public_suffix_list():
    assert registrable_domain("shop.example.co.uk") == "example.co.uk"
    assert registrable_domain("www.example.com") == "example.com"
    assert registrable_domain("example.com") == "example.com"
    # A public suffix, an address and a single label have none; a suffix owned by a
    # hosting company (github.io) is one too, so its tenants never share.
    assert registrable_domain("co.uk") is None
    assert registrable_domain("127.0.0.1") is None
    assert registrable_domain("[::1]") is None
    assert registrable_domain("localhost") is None
    assert registrable_domain("a.github.io") == "a.github.io"


def cors(client, key: str, origin: str):
    return client.post(
        "/v1/sessions",
        data=json.dumps({"site": key, "url": origin + "/"}),
        headers={"Origin": origin, "User-Agent": HUMAN_UA},
        content_type="text/plain",
    )


SUBDOMAIN_CASES = [
    ("https://www.example.co.uk", True, True),
    ("https://shop.example.co.uk", False, True),
    ("https://a.b.example.co.uk", False, True),
    ("https://example.co.uk", False, True),
    ("http://shop.example.co.uk", False, False),  # another scheme
    ("https://shop.other.co.uk", False, False),  # another registrable domain
    ("https://example.co.uk.evil.test", False, False),
    ("https://evilexample.co.uk", False, False),
]


@pytest.mark.parametrize(("origin", "host_only", "shared"), SUBDOMAIN_CASES)
def test_cors_follows_the_allowed_origins_and_the_subdomain_option(
    client, db, tenant, origin, host_only, shared
):
    res = cors(client, tenant.site_key, origin)
    assert (res.status_code == 200) is host_only, res.get_json()
    assert (res.headers.get("Access-Control-Allow-Origin") == origin) is host_only
    db.get(Site, tenant.site.id).share_subdomains = True
    db.commit()
    res = cors(client, tenant.site_key, origin)
    assert (res.status_code == 200) is shared, res.get_json()
    assert (res.headers.get("Access-Control-Allow-Origin") == origin) is shared
    if not shared:
        assert res.status_code == 403 and "origin" in res.get_json()["error"]


def test_the_amp_endpoint_accepts_the_subdomains(client, db, tenant):
    def amp(origin):
        return client.get(
            f"/v1/amp/{tenant.site_key}",
            query_string={"__amp_source_origin": origin, "url": origin + "/amp/page"},
            headers={"User-Agent": HUMAN_UA, "Origin": origin},
        )

    assert amp("https://shop.example.co.uk").status_code == 403
    db.get(Site, tenant.site.id).share_subdomains = True
    db.commit()
    res = amp("https://shop.example.co.uk")
    assert res.status_code == 200, res.get_json()
    assert res.headers["Access-Control-Allow-Origin"] == "https://shop.example.co.uk"
    assert amp("https://shop.other.co.uk").status_code == 403


def test_the_option_bakes_the_cookie_domain_and_the_block(app, api, client, db, tenant):
    res = api("PATCH", f"/sites/{tenant.site.id}", {"share_subdomains": True})
    assert res.status_code == 200 and res.get_json()["share_subdomains"] is True
    assert baked(client, tenant.site_key)["c"] == ["example.co.uk"]
    with app.app_context():
        assert "subdomains" in snippet.features(site_for_key(tenant.site_key))
    # Origins with no registrable domain (an address) give no cookie domain and no block.
    site = db.get(Site, tenant.site.id)
    site.allowed_origins = ["http://127.0.0.1:8000"]
    db.commit()
    assert "c" not in baked(client, tenant.site_key)


def test_the_preflight_grants_a_subdomain_only_with_the_option(client, db, tenant):
    def preflight():
        return client.options(
            "/v1/sessions", headers={"Origin": "https://shop.example.co.uk"}
        ).headers.get("Access-Control-Allow-Origin")

    assert preflight() is None
    db.get(Site, tenant.site.id).share_subdomains = True
    db.commit()
    assert preflight() == "https://shop.example.co.uk"


@pytest.mark.parametrize(
    ("referrer", "internal"),
    [
        ("https://blog.example.co.uk/post", True),  # a sibling subdomain
        ("https://shop.example.co.uk/cart", True),
        ("https://blog.other.co.uk/post", False),  # another registrable domain
        ("https://example.co.uk.evil.test/", False),
    ],
)
def test_a_sibling_subdomain_is_an_internal_referrer_with_the_option(
    client, db, redis_client, tenant, referrer, internal
):
    """www.example.co.uk -> shop.example.co.uk is the same visit's walk, not a referral."""

    def source_of(origin: str) -> tuple[str, str]:
        res = client.post(
            "/v1/sessions",
            data=json.dumps({"site": tenant.site_key, "url": origin + "/", "referrer": referrer}),
            headers={"Origin": origin, "User-Agent": HUMAN_UA},
            content_type="text/plain",
        )
        assert res.status_code == 200, res.get_json()
        visit = decode(redis_client.get(VisitKeys(res.get_json()["session"]).visit))
        return visit.source, visit.medium

    # Without the option, every other host is a referral (from the one allowed origin).
    host = urlsplit(referrer).hostname.removeprefix("www.")
    assert source_of("https://www.example.co.uk") == (host, "referral")
    db.get(Site, tenant.site.id).share_subdomains = True
    db.commit()
    for origin in ("https://www.example.co.uk", "https://shop.example.co.uk"):
        source, medium = source_of(origin)
        assert (medium != "referral") is internal, (origin, source, medium)
        assert (source == host) is not internal
