"""Visitor sessions: what of a visit's URLs is stored. Credentials in a URL
(``user:password@``) never are, whichever door the URL came through."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from ringtrail.storage.models import Site
from ringtrail.tracking.sessions import host_of, origin_of, path_of, without_query
from ringtrail.tracking.visits import decode
from tests.helpers import HUMAN_UA, ORIGIN, bearer, log_in, make_site, make_user, new_key


@pytest.mark.parametrize(
    ("url", "origin", "stripped"),
    [
        (
            "https://user:secret@shop.example/p?q=1#f",
            "https://shop.example",
            "https://shop.example/p",
        ),
        (
            "https://:secret@shop.example:8443/",
            "https://shop.example:8443",
            "https://shop.example:8443/",
        ),
        ("http://user@shop.example", "http://shop.example", "http://shop.example/"),
        ("https://a@b:c@shop.example/x", "https://shop.example", "https://shop.example/x"),
        (
            "https://u:p@[2001:db8::1]:8080/x",
            "https://[2001:db8::1]:8080",
            "https://[2001:db8::1]:8080/x",
        ),
        ("https://user:secret@/x", "", ""),  # credentials and no host: nothing to keep
        ("https://shop.example/p", "https://shop.example", "https://shop.example/p"),
    ],
)
def test_credentials_never_survive_in_a_stored_url(url, origin, stripped):
    assert origin_of(url) == origin
    assert without_query(url) == stripped
    assert "secret" not in path_of(url)


def test_host_of_keeps_host_and_port_only():
    assert host_of("user:pw@shop.example:8080") == "shop.example:8080"
    assert host_of("shop.example") == "shop.example"


def _visits(redis_client) -> list:
    return [decode(redis_client.get(k)) for k in redis_client.scan_iter("ringtrail:visit:*")]


def test_the_snippets_landing_url_referrer_and_pages_lose_their_credentials(
    client, db, redis_client
):
    setup = make_site(db, numbers=2)
    headers = {"Origin": ORIGIN, "User-Agent": HUMAN_UA}
    body = {
        "site": setup.site_key,
        "url": "https://ann:hunter2@shop.example/plumbing?utm_source=google&utm_medium=cpc",
        "referrer": "https://bob:pa55@www.google.com/search?q=plumber",
        "title": "Plumbing",
    }
    res = client.post("/v1/sessions", data=json.dumps(body), headers=headers)
    assert res.status_code == 200, res.get_json()
    session = res.get_json()["session"]
    page = {"site": setup.site_key, "url": "https://ann:hunter2@shop.example/pricing"}
    res = client.post(f"/v1/sessions/{session}/pageviews", data=json.dumps(page), headers=headers)
    assert res.status_code == 200
    (visit,) = _visits(redis_client)
    assert visit.landing_url == "https://shop.example/plumbing"
    assert visit.referrer == "https://www.google.com"
    assert [p[1] for p in visit.pages] == ["/plumbing", "/pricing"]
    assert (visit.source, visit.medium) == ("google", "cpc")
    dump = "".join(str(redis_client.dump(k)) for k in redis_client.scan_iter("*"))
    assert "hunter2" not in dump and "pa55" not in dump  # in no key, of any type


def test_an_amp_page_url_and_referrer_lose_their_credentials(client, db, redis_client):
    setup = make_site(db, numbers=2)
    res = client.get(
        f"/v1/amp/{setup.site_key}",
        query_string={
            "__amp_source_origin": ORIGIN,
            "url": "https://ann:hunter2@shop.example/amp/page?utm_source=news",
            "ref": "https://bob:pa55@news.example/story",
        },
        headers={"User-Agent": HUMAN_UA},
    )
    assert res.status_code == 200 and res.get_json()["phoneNumber"] in setup.numbers
    (visit,) = _visits(redis_client)
    assert visit.landing_url == "https://shop.example/amp/page"
    assert visit.referrer == "https://news.example"


@pytest.mark.parametrize(
    "origin",
    ["https://user:secret@shop.example", "https://:secret@shop.example", "https://@shop.example"],
)
def test_a_site_origin_with_credentials_is_refused_by_the_api_and_the_dashboard(
    app, client, db, origin
):
    setup = make_site(db, numbers=1)
    res = client.post(
        "/api/v1/sites",
        json={"client_id": setup.client.id, "name": "S", "allowed_origins": [origin]},
        headers=bearer(new_key(app, setup.agency.id)),
    )
    assert res.status_code == 422
    assert "an origin is http(s)://host[:port]: no user, path or query" in res.get_json()["error"]

    log_in(client, make_user(db, setup))
    page = client.get("/dashboard/settings").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    res = client.post(
        "/dashboard/settings/sites",
        data={
            "csrf_token": token,
            "client_id": setup.client.id,
            "name": "S",
            "allowed_origins": f"https://shop.example\n{origin}",
        },
    )
    assert res.status_code in (302, 422)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Site)) == 1  # make_site's own
    assert all("secret" not in o for o in db.scalars(select(Site.allowed_origins)).one())
