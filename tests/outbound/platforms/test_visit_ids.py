"""The visit keeps the visitor's consent, and GA4's ids only with consent, only for a
client that sends calls to GA4; the snapshot of a called visit carries both."""

from __future__ import annotations

import pytest

from ringtrail.outbound.platforms import destinations
from ringtrail.tracking.visits import VisitKeys, decode
from tests.helpers import make_site
from tests.web.test_public import start

GA = ["_ga=GA1.1.1234567890.1733000000", "_ga_ABC123=GS2.1.s1733000999$o1$g1$t1733001000$j60"]


@pytest.fixture
def ga4_site(db, google):
    setup = make_site(db)
    destinations.connect(
        db, setup.client, "ga4", {"measurement_id": "G-VISITS1", "api_secret": "secret-visits"}
    )
    db.commit()
    return setup


def visit(redis_client, answer):
    session = answer.get_json()["session"]
    return decode(redis_client.get(VisitKeys(session).visit)) if session else None


def test_with_consent_the_visit_keeps_consent_and_ga4_ids(client, ga4_site, redis_client):
    got = visit(redis_client, start(client, ga4_site.site_key, body={"consent": True, "ga": GA}))
    assert got.consent == "granted"
    assert got.ga4 == {"cid": "1234567890.1733000000", "sid": "1733000999"}


def test_without_consent_no_ga4_ids_are_kept(client, ga4_site, redis_client):
    got = visit(redis_client, start(client, ga4_site.site_key, body={"ga": GA}))
    assert got.consent == "" and got.ga4 == {}


def test_with_gpc_there_is_no_visit_at_all(client, ga4_site, redis_client):
    answer = start(
        client, ga4_site.site_key, headers={"Sec-GPC": "1"}, body={"consent": True, "ga": GA}
    )
    assert answer.get_json()["session"] is None


def test_a_site_without_ga4_keeps_no_ga4_ids(client, db, redis_client):
    setup = make_site(db)
    got = visit(redis_client, start(client, setup.site_key, body={"consent": True, "ga": GA}))
    assert got.consent == "granted" and got.ga4 == {}


@pytest.mark.parametrize(
    "junk", [["_ga=GA1.1.<script>"], "_ga=GA1.1.1.2", [1, 2], [{"a": 1}], ["x" * 500]]
)
def test_malformed_ga_values_are_ignored_not_refused(client, ga4_site, redis_client, junk):
    answer = start(client, ga4_site.site_key, body={"consent": True, "ga": junk})
    assert answer.status_code == 200
    assert visit(redis_client, answer).ga4 == {}
