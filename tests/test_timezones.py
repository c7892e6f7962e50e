"""Time zones read from what people type: exact names, any case, a city alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ringtrail import timezones
from ringtrail.web.words import plural


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("America/Chicago", "America/Chicago"),
        ("america/chicago", "America/Chicago"),
        ("Chicago", "America/Chicago"),
        ("  chicago ", "America/Chicago"),
        ("New York", "America/New_York"),
        ("sao paulo", "America/Sao_Paulo"),
        ("London", "Europe/London"),
        ("Indianapolis", "America/Indiana/Indianapolis"),  # one zone, two spellings
        ("UTC", "UTC"),
        ("US/Central", "US/Central"),  # the database's other names still resolve
    ],
)
def test_a_zone_or_a_city_resolves(typed, zone):
    assert timezones.resolve(typed) == zone


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("Chicgo", ["America/Chicago"]),
        ("Londn", ["Europe/London"]),
    ],
)
def test_a_typo_is_refused_with_a_suggestion(typed, suggested):
    with pytest.raises(timezones.UnknownZone) as caught:
        timezones.resolve(typed)
    assert caught.value.suggestions == suggested
    assert f"did you mean {suggested[0]}?" in str(caught.value)


def test_nonsense_is_refused_with_examples():
    with pytest.raises(timezones.UnknownZone) as caught:
        timezones.resolve("qqqqqq")
    assert "pick one from the list, such as America/Chicago" in str(caught.value)


def test_the_picker_groups_zones_by_region_with_their_offsets():
    winter = datetime(2026, 1, 15, tzinfo=UTC)
    groups = dict(timezones.grouped(winter))
    assert list(groups)[:3] == ["America", "Europe", "Asia"]
    assert ("America/Chicago", "Chicago (UTC−06:00)") in groups["America"]
    assert ("Asia/Kolkata", "Kolkata (UTC+05:30)") in groups["Asia"]
    assert all(name.startswith("Europe/") for name, _ in groups["Europe"])
    assert groups["UTC"] == [("UTC", "UTC (UTC+00:00)")]


@pytest.mark.parametrize(
    ("count", "noun", "said"),
    [
        (1, "visitor", "1 visitor"),
        (0, "visitor", "0 visitors"),
        (2, "visitor", "2 visitors"),
        (1200, "call", "1,200 calls"),
        (3, "entry", "3 entries"),
        (2, "day", "2 days"),
        (2, "person", "2 people"),
    ],
)
def test_counts_take_their_nouns_plural(count, noun, said):
    assert plural(count, noun) == said
