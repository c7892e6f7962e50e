"""The demo's pages exist in the app ``ringtrail demo`` runs, and nowhere else."""

from __future__ import annotations

import json
import urllib.request

import pytest
from click.testing import CliRunner

from ringtrail import create_app
from ringtrail.cli import main
from ringtrail.demo import create_demo_app
from tests.helpers import HUMAN_UA, cli_env, run_jobs


@pytest.fixture
def app(app_config, redis_client):
    """The demo's app, on the test Redis and a fresh database."""
    application = create_demo_app(app_config)
    yield application
    application.extensions["ringtrail"]["engine"].dispose()


def test_demo_page_places_a_signed_call_that_is_attributed(app, live_server, db):
    from ringtrail.demo import seed_demo

    app.config["PUBLIC_URL"] = live_server
    info = seed_demo(db, live_server)
    page = app.test_client().get("/demo")
    assert page.status_code == 200
    assert f"/s/{info['site_key']}.js" in page.get_data(as_text=True)

    def post(path, body, content_type):
        req = urllib.request.Request(
            live_server + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": content_type, "User-Agent": HUMAN_UA, "Origin": live_server},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    visit = post(
        "/v1/sessions",
        {"site": info["site_key"], "url": live_server + "/demo?utm_source=demo&utm_medium=test"},
        "text/plain",
    )
    number = visit["numbers"][info["business_number"]]["e164"]
    call = post("/demo/call", {"to": number}, "application/json")
    assert call["webhook_status"] == 200
    assert "<Dial" in call["twiml"]
    assert run_jobs(app) == 3  # voice, dial and status events
    with urllib.request.urlopen(f"{live_server}/demo/calls/{call['call_sid']}") as resp:
        record = json.loads(resp.read())
    assert record["found"] and record["confidence"] == "exact"
    assert (record["source"], record["medium"]) == ("demo", "test")
    assert record["answered"] is True and record["status"] == "completed"
    # The result in words: where it rang (the business, read from the TwiML), and the visit.
    assert call["rings"] == ["(415) 555-0100"] and call["to"] != call["rings"][0]
    assert record["words"][0].startswith(f"Your call from {call['caller']} to {call['to']}")
    assert "would ring (415) 555-0100, Demo Plumbing's business number." in record["words"][0]
    assert record["words"][1].startswith("It was matched to this visit: source demo / test")
    assert "The business answered" in record["words"][2]


@pytest.mark.parametrize(
    ("agent", "tracked", "said"),
    [
        (HUMAN_UA, True, "leased a tracking number of its own"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
            False,
            "treated as a bot: its user agent says it is a headless browser (“Headless”)",
        ),
        ("curl/8.5.0", False, "treated as a bot: its user agent names an automation tool"),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", False, "treated as a bot"),
        ("", False, "treated as a bot: it sent no user agent"),
    ],
)
def test_the_demo_says_whether_and_why_a_browser_was_treated_as_a_bot(
    app, db, agent, tracked, said
):
    from ringtrail.demo import seed_demo

    seed_demo(db, "http://localhost:5000")
    answer = app.test_client().get("/demo/visitor", headers={"User-Agent": agent}).get_json()
    assert answer["tracked"] is tracked and said in answer["words"]
    assert answer["why"] == (None if tracked else "bot")


def test_the_demo_names_global_privacy_control(app, db):
    from ringtrail.demo import seed_demo

    seed_demo(db, "http://localhost:5000")
    headers = {"User-Agent": HUMAN_UA, "Sec-GPC": "1"}
    answer = app.test_client().get("/demo/visitor", headers=headers).get_json()
    assert answer == {
        "tracked": False,
        "why": "gpc",
        "words": "This browser sends Global Privacy Control, so it is not tracked as a person: "
        "it was shown the site's source-level number, not a tracking number of its own, so a "
        "call from it is attributed to its source only.",
    }


def test_the_session_answer_carries_no_reason(app, db):
    """The v1 snippet contract is unchanged: the reason lives in the demo's route only."""
    from ringtrail.demo import seed_demo

    info = seed_demo(db, "http://localhost:5000")
    answer = app.test_client().post(
        "/v1/sessions",
        data=json.dumps({"site": info["site_key"], "url": "http://localhost:5000/demo"}),
        content_type="text/plain",
        headers={"User-Agent": "curl/8.5.0", "Origin": "http://localhost:5000"},
    )
    assert answer.status_code == 200 and set(answer.get_json()) == {"session", "numbers", "ttl"}


def test_a_served_app_has_no_demo_pages_even_after_seed_demo(app_config, redis_client):
    """``ringtrail serve`` runs create_app: /demo would show an agency admin's login."""
    seeded = CliRunner().invoke(main, ["seed-demo", "--json"], env=cli_env(app_config))
    assert seeded.exit_code == 0, seeded.output
    info = json.loads(seeded.output)
    served = create_app(app_config)
    try:
        anonymous = served.test_client()
        page = anonymous.get("/demo")
        assert page.status_code == 404
        assert info["dashboard"]["password"] not in page.get_data(as_text=True)
        assert (
            anonymous.post("/demo/call", json={"to": info["tracking_numbers"][0]}).status_code
            == 404
        )
        assert anonymous.get("/demo/calls/CA123").status_code == 404
        assert not [r for r in served.url_map.iter_rules() if r.rule.startswith("/demo")]
    finally:
        served.extensions["ringtrail"]["engine"].dispose()
