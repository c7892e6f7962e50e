"""Numbers are shown as phonenumbers shows them, from a table made when the directory
loads: an answer costs a lookup, not a parse."""

from __future__ import annotations

import json
import random

import phonenumbers
import pytest

from ringtrail import phones
from ringtrail.phones import international, international_table, national, national_table
from ringtrail.tracking.directory import Snapshot, load
from ringtrail.tracking.poolsync import get_syncer
from ringtrail.tracking.sessions import Visitor, start_visit
from tests.helpers import HUMAN_UA, ORIGIN, make_site, tracking_numbers


def exact(number: str) -> str:
    """phonenumbers' own answer, past every cache."""
    return phones._national(number)


def exact_international(number: str) -> str:
    """What a session answered as the international display before the table: a fixed
    pattern for a North American number, phonenumbers' own answer for any other."""
    if phones.is_north_american(number):
        return f"+1 {number[2:5]}-{number[5:8]}-{number[8:]}"
    return international(number)


def test_the_table_shows_every_number_of_a_big_pool_as_phonenumbers_does():
    numbers = tracking_numbers(20_000) + tracking_numbers(3_000, area="415")
    table = national_table(numbers)
    assert set(table) == set(numbers)
    for number in numbers[::7]:
        assert table[number] == exact(number)
    assert table["+16282000000"] == "(628) 200-0000"
    abroad = international_table(numbers)
    assert set(abroad) == set(numbers)
    assert all(abroad[n] == exact_international(n) for n in numbers[::7])
    assert abroad["+16282000000"] == "+1 628-200-0000"


def test_the_table_agrees_with_phonenumbers_in_every_region_and_kind_of_number():
    rng = random.Random(17)
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            for cut in (4, 6):
                tails = ("".join(str(rng.randrange(10)) for _ in range(cut)) for _ in range(8))
                group = [e164[:-cut] + tail for tail in tails]
                table, abroad = national_table(group), international_table(group)
                for number in group:
                    assert table[number] == exact(number), number
                    assert abroad[number] == exact_international(number), number
                    checked += 1
    assert checked > 10_000


@pytest.mark.parametrize("odd", ["+1", "+", "client:alice", "+1628200000x", "", "+99912345678901"])
def test_odd_strings_are_shown_as_national_shows_them(odd):
    assert national_table([odd, "+16282000001"])[odd] == national(odd)
    assert international_table([odd, "+16282000001"])[odd] == phones.international_display(odd)


def test_a_template_that_misreads_a_number_is_dropped():
    # The 7-digit Slovak numbers: their last four digits decide whether one is valid, and
    # so how it is shown; they are too short for a template and each is parsed.
    group = ["+4219090196", "+4219091234", "+4219094567"]
    table = national_table(group)
    assert [table[n] for n in group] == [exact(n) for n in group]


@pytest.mark.postgres
def test_the_directory_formats_every_number_of_a_site_once(app, db):
    setup = make_site(
        db,
        numbers=50,
        overflow="+14155550100",
        source_numbers={"google/cpc": "+14155550101", "*": "+442079460000"},
    )
    with app.app_context():
        snapshot = load(db)
    site = snapshot.sites[setup.site_key]
    wanted = set(setup.numbers) | {"+14155550100", "+14155550101", "+442079460000"}
    assert set(site.display) == set(site.international) == wanted
    assert all(site.display[n] == exact(n) for n in wanted)
    assert all(site.international[n] == exact_international(n) for n in wanted)
    assert site.display["+442079460000"] == "020 7946 0000"
    assert site.international["+442079460000"] == "+44 20 7946 0000"

    # The copy on disk leaves the table out and a process reading it makes it again.
    raw = snapshot.to_json()
    assert not {"display", "international"} & set(json.loads(raw)["sites"][0])
    again = Snapshot.from_json(raw).sites[setup.site_key]
    assert again.display == site.display
    assert again.international == site.international


@pytest.mark.postgres
def test_every_answer_shows_the_same_display_as_before(client, db, app):
    """The session API (leased, overflow and source-level numbers) and the AMP endpoint
    answer what ``national`` answers, for numbers of two countries."""
    setup = make_site(
        db,
        numbers=["+16282000000"],
        overflow="+442079460000",
        policy="overflow",
        source_numbers={"google": "+14155550101"},
    )
    headers = {"Origin": ORIGIN, "User-Agent": HUMAN_UA}

    def start(url: str) -> dict:
        body = {"site": setup.site_key, "url": url, "referrer": "", "title": "t"}
        res = client.post("/v1/sessions", data=json.dumps(body), headers=headers)
        assert res.status_code == 200, res.get_json()
        (shown,) = res.get_json()["numbers"].values()
        return shown

    leased = start("https://shop.example/")
    overflow = start("https://shop.example/")  # the pool's one number is taken
    source = start("https://shop.example/?utm_source=google&utm_medium=cpc")
    for shown, e164 in ((leased, "+16282000000"), (overflow, "+442079460000")):
        assert shown == {
            "e164": e164,
            "display": national(e164),
            "international": international(e164),
        }
    assert source == {
        "e164": "+14155550101",
        "display": national("+14155550101"),
        "international": "+1 415-555-0101",
    }
    assert overflow["display"] == "020 7946 0000"

    amp = client.get(
        f"/v1/amp/{setup.site_key}",
        query_string={"number": setup.pool.business_number, "url": ORIGIN + "/"},
        headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA},
    )
    assert amp.status_code == 200, amp.get_json()
    assert amp.get_json() == {
        "phoneNumber": "+442079460000",  # the pool is still taken: the overflow number
        "formattedPhoneNumber": "020 7946 0000",
    }


COUNTRIES = {  # a pool's number and overflow, what a session shows for the first: national,
    # international
    "US": (["+16282000000", "+16282000001"], "(628) 200-0000", "+1 628-200-0000"),
    "UK": (["+442079460999", "+442079460998"], "020 7946 0999", "+44 20 7946 0999"),
    "DE": (["+493012345678", "+493012345679"], "030 12345678", "+49 30 12345678"),
}


@pytest.mark.postgres
@pytest.mark.parametrize("country", sorted(COUNTRIES))
def test_a_session_answer_shows_both_displays_without_a_parse(app, db, monkeypatch, country):
    """The session path reads both displays from the site's tables: the answer is what
    phonenumbers says, and not one number is parsed to give it."""
    numbers, shown, abroad = COUNTRIES[country]
    setup = make_site(db, numbers=numbers[:1], overflow=numbers[1], policy="overflow")
    with app.app_context():
        snapshot = load(db)  # the directory's load: the tables are made
        get_syncer().sync_now(snapshot)
        site = snapshot.sites[setup.site_key]
        parses = []
        real = phonenumbers.parse

        def parse(*args, **kwargs):
            parses.append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(phonenumbers, "parse", parse)
        for cache in (phones.national, phones.country_code_and_trunk, phones._international):
            cache.cache_clear()  # a hit in a cache would hide a parse
        answers = [
            start_visit(site, Visitor(user_agent=HUMAN_UA), url=ORIGIN + "/", referrer="", title="")
            for _ in range(2)  # a lease of the pool's number, then the overflow number
        ]
    assert parses == []
    got = [a["numbers"][setup.pool.business_number] for a in answers]
    assert [g["e164"] for g in got] == numbers
    assert got[0] == {"e164": numbers[0], "display": shown, "international": abroad}
    for g in got:
        assert g["display"] == exact(g["e164"])
        assert g["international"] == exact_international(g["e164"])
