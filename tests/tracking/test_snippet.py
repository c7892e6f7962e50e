"""Serving the snippet (ETag, 304, size budget, unknown keys) and the AMP endpoint."""

from __future__ import annotations

import gzip
import re

import pytest

from ringtrail.storage.models import Pool, Site, TrackingNumber
from ringtrail.tracking import snippet
from ringtrail.tracking.directory import site_for_key
from tests.helpers import BUSINESS, HUMAN_UA, ORIGIN, make_site

BUDGET = 2000  # bytes after gzip -9, as served
# Sites with numbers outside North America get the international block and their country
# codes and trunk prefixes: 2,023 to 2,029 bytes for the largest test site (2,121 to
# 2,128 before the core was made smaller, 2,168 before the block was rewritten). Issue
# 15's target is BUDGET for them too, not met yet (README, "Performance and accuracy");
# this bound keeps it from growing.
INTERNATIONAL_BUDGET = 2035


def served(client, key):
    return client.get(f"/s/{key}.js")


def test_serves_the_sites_settings_with_an_etag_and_a_short_cache(client, db):
    setup = make_site(db, numbers=2)
    response = served(client, setup.site_key)
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["ETag"]
    body = response.get_data(as_text=True)
    assert f'"k":"{setup.site_key}"' in body
    assert f'"n":["{BUSINESS}"]' in body
    assert '"a":"https://ringtrail.test"' in body  # the configured public URL


def test_if_none_match_gets_304_and_a_change_gets_a_new_etag(client, db):
    setup = make_site(db)
    etag = served(client, setup.site_key).headers["ETag"]
    again = client.get(f"/s/{setup.site_key}.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    second = Pool(site=setup.site, business_number="+12125550123")
    second.numbers = [TrackingNumber(number="+13105550177", role="pool")]
    db.add(second)
    db.commit()
    changed = served(client, setup.site_key)
    assert changed.headers["ETag"] != etag
    assert '"n":["+14155550100","+12125550123"]' in changed.get_data(as_text=True)


def test_unknown_key_is_a_404_of_harmless_javascript(client, db):
    response = served(client, "nosuchkey")
    assert response.status_code == 404
    assert response.mimetype == "text/javascript"
    assert re.fullmatch(r"/\*[^*]*\*/\s*", response.get_data(as_text=True)), "only a comment"


@pytest.mark.parametrize("numbers", [1, 3])
def test_served_bytes_fit_the_gzip_budget(client, db, app, numbers):
    app.config["PUBLIC_URL"] = "https://calls.example-agency.com"
    setup = make_site(db)
    for i in range(1, numbers):
        pool = Pool(site=setup.site, business_number=f"+1212555{i:04d}")
        db.add(pool)
    db.commit()
    body = served(client, setup.site_key).data
    size = len(gzip.compress(body, 9))
    assert size <= BUDGET, f"{size} bytes gzipped for {numbers} number(s); budget {BUDGET}"


def test_a_site_with_uk_and_german_numbers_stays_within_its_gzip_bound(client, db, app):
    """The largest site of the test data: a North American, a UK and a German business
    number, so its snippet has the international block and every number's displays."""
    app.config["PUBLIC_URL"] = "https://calls.example-agency.com"
    setup = make_site(db)
    pairs = (("+442079460018", "+442079460999"), ("+493012345678", "+49301234567"))
    for business, tracking in pairs:
        pool = Pool(site=setup.site, business_number=business)
        pool.numbers = [TrackingNumber(number=tracking, role="pool")]
        db.add(pool)
    db.commit()
    body = served(client, setup.site_key).get_data(as_text=True)
    # Country codes and trunk prefixes only: a tracking number's displays come with its lease.
    assert '"f":["1|44|49","0"]' in body
    size = len(gzip.compress(body.encode(), 9))
    assert size <= INTERNATIONAL_BUDGET, f"{size} bytes gzipped for a UK and German site"


def test_a_north_american_site_gets_no_international_bytes(client, db, app):
    setup = make_site(db, numbers=2)
    body = served(client, setup.site_key).get_data(as_text=True)
    assert '"f":' not in body
    with app.app_context():
        site = site_for_key(setup.site_key)
    assert snippet.features(site) == frozenset({"nanp"})
    assert body == snippet.render(site, "https://ringtrail.test")[0]
    assert len(snippet.template(frozenset({"nanp"}))) < len(snippet.template(frozenset({"intl"})))


def test_settings_are_escaped_for_script_context(client, db, app):
    app.config["PUBLIC_URL"] = "https://x.test/</script><script>alert(1)</script>\u2028&"
    setup = make_site(db)
    body = served(client, setup.site_key).get_data(as_text=True)
    assert "</script>" not in body and "\u2028" not in body
    assert "\\u003c/script\\u003e" in body and "\\u2028\\u0026" in body


def test_the_source_is_readable_and_the_contract_is_frozen():
    """snippet/ringtrail.js is v1: a breaking change freezes a versioned copy instead."""
    source = snippet.SNIPPET.read_text()
    assert source.count("(function (w, d) {") == 1
    assert "innerHTML" not in source.replace("never use innerHTML", "")
    # The public contract of v1: the global, the options, the API paths.
    for piece in (
        "w.ringtrail",
        "ringtrail.q",
        "'swap'",
        "'consent'",
        "ds.api",
        "ds.storage",
        "'intent' in ds",
        "'hide' in ds",
        "'debug' in ds",
        "/v1/sessions",
        "/pageviews",
        "data-ringtrail-noswap",
    ):
        assert piece in source, f"v1 contract changed ({piece}): freeze a versioned copy"


@pytest.mark.parametrize(
    "features",
    [{"nanp"}, {"intl"}, {"nanp", "vanity", "ga4", "subdomains"}, {"intl", "vanity"}],
    ids=lambda f: "+".join(sorted(f)),
)
def test_every_name_the_snippet_assigns_is_declared(features):
    """The snippet runs without 'use strict', so nothing would stop a name assigned
    without a declaration from becoming a global of the page: none is."""
    from calmjs.parse import asttypes, es5
    from calmjs.parse.walkers import Walker

    source = snippet.with_features(snippet.SNIPPET.read_text(), frozenset(features))
    tree = es5(snippet.CONFIG.sub('"x"', source, count=1))

    def is_name(node):  # a variable, not an object literal's key
        return isinstance(node, asttypes.Identifier) and not isinstance(
            node, asttypes.PropIdentifier
        )

    declared, assigned = set(), set()
    for node in Walker().walk(tree):
        if isinstance(node, (asttypes.VarDecl, asttypes.Catch)):
            declared.add(node.identifier.value)
        elif isinstance(node, (asttypes.FuncDecl, asttypes.FuncExpr)):
            declared.update(p.value for p in node.parameters)
            if node.identifier:
                declared.add(node.identifier.value)
        elif isinstance(node, asttypes.Assign) and is_name(node.left):
            assigned.add(node.left.value)
        elif (
            isinstance(node, (asttypes.PostfixExpr, asttypes.UnaryExpr))
            and node.op in ("++", "--")
            and is_name(node.value)
        ):
            assigned.add(node.value.value)
    assert assigned, "the walk found the assignments"
    assert assigned <= declared, f"assigned, never declared: {sorted(assigned - declared)}"


def test_a_site_without_numbers_gets_no_code(client, db):
    setup = make_site(db)
    for number in setup.pool.numbers:
        db.delete(number)
    db.delete(setup.pool)
    db.commit()
    response = served(client, setup.site_key)
    assert response.status_code == 200 and response.headers["ETag"]
    assert re.fullmatch(r"/\*[^*]*\*/\s*", response.get_data(as_text=True)), "only a comment"


# AMP: amp-call-tracking's JSON contract.


def amp(client, key, **kw):
    headers = {"User-Agent": HUMAN_UA} | kw.pop("headers", {})
    return client.get(f"/v1/amp/{key}", query_string=kw, headers=headers)


def test_amp_leases_a_number_with_amp_cors(client, db):
    setup = make_site(db, numbers=2)
    response = amp(
        client,
        setup.site_key,
        __amp_source_origin=ORIGIN,
        url=f"{ORIGIN}/amp/page?utm_source=google&utm_medium=cpc",
        headers={"Origin": "https://shop-example.cdn.ampproject.org"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["phoneNumber"] in setup.numbers
    assert body["formattedPhoneNumber"] == "(628) 200-0000"
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == "https://shop-example.cdn.ampproject.org"
    assert headers["AMP-Access-Control-Allow-Source-Origin"] == ORIGIN
    assert "AMP-Access-Control-Allow-Source-Origin" in headers["Access-Control-Expose-Headers"]
    assert headers["Cache-Control"] == "no-store" and "Origin" in headers["Vary"]


def test_amp_gives_source_numbers_without_a_lease(client, db):
    setup = make_site(db, numbers=1, source_numbers={"*": "+13235550142"})
    gpc = amp(client, setup.site_key, __amp_source_origin=ORIGIN, headers={"Sec-GPC": "1"})
    assert gpc.get_json() == {
        "phoneNumber": "+13235550142",
        "formattedPhoneNumber": "(323) 555-0142",
    }
    bot = amp(client, setup.site_key, headers={"User-Agent": "Googlebot/2.1"})
    assert bot.get_json()["phoneNumber"] == "+13235550142"
    capped = amp(client, setup.site_key, lease="0")
    assert capped.get_json()["phoneNumber"] == "+13235550142"


def test_amp_consent_required_site_shows_the_business_number(client, db):
    setup = make_site(db, numbers=1, consent_mode="required")
    response = amp(client, setup.site_key, __amp_source_origin=ORIGIN)
    assert response.get_json()["phoneNumber"] == BUSINESS


def test_amp_picks_the_pool_by_business_number(client, db):
    setup = make_site(db, numbers=1)
    second = Pool(site=setup.site, business_number="+12125550123")
    second.numbers = [TrackingNumber(number="+13105550177", role="pool")]
    db.add(second)
    db.commit()
    response = amp(client, setup.site_key, number="+12125550123")
    assert response.get_json()["phoneNumber"] == "+13105550177"


@pytest.mark.parametrize(
    ("key", "kw", "status"),
    [
        ("nosuchkey", {}, 404),
        (None, {"__amp_source_origin": "https://evil.example"}, 403),
        (None, {"headers": {"Origin": "https://evil.example"}}, 403),
    ],
)
def test_amp_refusals_are_json_not_errors(client, db, key, kw, status):
    setup = make_site(db)
    response = amp(client, key or setup.site_key, **kw)
    assert response.status_code == status
    assert "error" in response.get_json()
    assert "Access-Control-Allow-Origin" not in response.headers


def test_amp_without_pools_is_a_404(client, db):
    setup = make_site(db)
    site = db.get(Site, setup.site.id)
    for pool in list(site.pools):
        for number in list(pool.numbers):
            db.delete(number)
        db.delete(pool)
    db.commit()
    assert amp(client, setup.site_key).status_code == 404


def test_optional_blocks_are_served_only_to_sites_that_need_them():
    from itertools import combinations

    from ringtrail.tracking.snippet import SNIPPET, block_names, template, with_features

    source = "a();/*IF:x*/b();/*FI*/c();/*IF:y*/d();/*FI*/"
    assert with_features(source, frozenset()) == "a();c();"
    assert with_features(source, frozenset({"y"})) == "a();c();d();"
    assert block_names(source) == {"x", "y"}
    # Every combination of the real snippet's blocks is valid ES5 (the minifier parses it),
    # and a block left out costs no byte.
    names = sorted(block_names(SNIPPET.read_text(encoding="utf-8")))
    plain = template()
    for size in range(1, len(names) + 1):
        for chosen in combinations(names, size):
            assert len(template(frozenset(chosen))) > len(plain)


@pytest.mark.parametrize(
    ("number", "code", "trunk"),
    [
        ("+442079460018", "44", "0"),  # 020 7946 0018
        ("+14155550100", "1", ""),  # (415) 555-0100
        ("+525512345678", "52", ""),  # 55 1234 5678: no trunk prefix written
        ("+390212345678", "39", ""),  # 02 1234 5678: Italy's 0 belongs to the number
        ("+3612345678", "36", "06"),  # (06 1) 234 5678
        ("+74951234567", "7", "8"),  # 8 (495) 123-45-67
    ],
)
def test_country_code_and_trunk_prefix_as_the_country_writes_its_numbers(number, code, trunk):
    from ringtrail import phones

    assert phones.country_code_and_trunk(number) == (code, trunk)


def test_an_international_site_bakes_its_country_codes_and_trunk_prefixes_once_each():
    numbers = ("+14155550100", "+442079460018", "+442079460999", "+493012345678", "+525512345678")
    assert snippet.country_codes(numbers) == ["1|44|49|52", "0"]
    assert snippet.country_codes(("+525512345678",)) == ["52", ""]


def test_a_ga4_site_gets_the_ga4_block_within_the_budget_and_others_none(client, db, app):
    from ringtrail.outbound.platforms import destinations

    app.config["PUBLIC_URL"] = "https://calls.example-agency.com"
    plain, with_ga4 = make_site(db), make_site(db, number_start=20)
    destinations.connect(
        db, with_ga4.client, "ga4", {"measurement_id": "G-SNIPPET1", "api_secret": "s3cret-ga4"}
    )
    db.commit()
    ga4_body = served(client, with_ga4.site_key).data
    plain_body = served(client, plain.site_key).data
    assert b"_ga[^;]+/g" in ga4_body and b"_ga" not in plain_body
    with app.app_context():
        assert "ga4" in snippet.features(site_for_key(with_ga4.site_key))
        assert "ga4" not in snippet.features(site_for_key(plain.site_key))
    size = len(gzip.compress(ga4_body, 9))
    assert size <= BUDGET, f"{size} bytes gzipped with the GA4 block; budget {BUDGET}"
