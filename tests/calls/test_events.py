"""Call events are typed, made in one place for every door, and keep no more than needed."""

from __future__ import annotations

import dataclasses

import pytest

from ringtrail.calls.events import CallEvent, RouteFacts, event_id
from ringtrail.hashing import caller_hash

ROUTE = RouteFacts(role="pool", pool_id=1, site_id=2, client_id=3, match_window=900, agency_id=4)


def voice(app, *, hipaa: bool, caller: str = "+13125550187") -> CallEvent:
    with app.app_context():
        return CallEvent.voice(
            provider="twilio",
            call_sid="CA" + "9" * 32,
            received_at=1.0,
            to="+16282000000",
            caller=caller,
            route=ROUTE,
            hipaa=hipaa,
            agency_id=4,
        )


def test_a_voice_event_hashes_the_caller_and_notes_the_area(app):
    event = voice(app, hipaa=False)
    with app.app_context():
        assert event.caller_hash == caller_hash("+13125550187")
    assert (event.caller, event.caller_state, event.status) == ("+13125550187", "IL", "ringing")


def test_in_hipaa_mode_the_number_goes_no_further_than_the_door(app):
    event = voice(app, hipaa=True)
    assert event.caller is None and event.caller_hash
    assert "3125550187" not in str(event.to_dict())


def test_a_withheld_caller_has_no_hash(app):
    event = voice(app, hipaa=False, caller="+266696687")
    assert event.caller_hash is None and event.caller_state is None


def test_carrier_text_is_cleaned_and_bounded():
    event = CallEvent.update(
        "transcription",
        provider="twilio",
        call_sid="CA1",
        received_at=1.0,
        agency_id=4,
        transcription_text="hello\x00" + "x" * 30_000,
    )
    assert "\x00" not in event.transcription_text
    assert len(event.transcription_text) == 20_000


def test_kinds_are_checked_when_the_event_is_made():
    with pytest.raises(ValueError, match="unknown event kind"):
        CallEvent(kind="bogus", call_sid="CA1", received_at=1.0)
    with pytest.raises(ValueError, match="CallEvent.voice"):
        CallEvent.update("voice", provider="twilio", call_sid="CA1", received_at=1.0, agency_id=4)


def test_events_survive_their_trip_through_redis_and_the_spool(app):
    event = voice(app, hipaa=False)
    assert CallEvent.from_dict(event.to_dict()) == event
    status = CallEvent.update(
        "status",
        provider="telnyx",
        call_sid="v3:abc",
        received_at=2.0,
        agency_id=4,
        status="completed",
    )
    assert CallEvent.from_dict(status.to_dict()) == status
    assert (event.agency_id, event.route.agency_id, status.agency_id) == (4, 4, 4)


def test_an_event_as_data_is_what_dataclasses_asdict_gives(app):
    """``to_dict`` is made field by field (cheaper per call): the same data, with the
    route as a dict of its own, and a copy that changes nothing of the event."""
    status = CallEvent.update(
        "status", provider="twilio", call_sid="CA1", received_at=2.0, agency_id=4, status="busy"
    )
    for event in (voice(app, hipaa=False), voice(app, hipaa=True), status):
        data = event.to_dict()
        assert data == dataclasses.asdict(event)
        assert list(data) == list(dataclasses.asdict(event))  # the same order, in JSON too
    data = voice(app, hipaa=False).to_dict()
    data["route"]["pool_id"] = 99
    assert ROUTE.pool_id == 1


def test_the_same_call_id_of_two_agencies_makes_two_events():
    assert event_id("twilio", "CA1", "status", "completed", 1) != event_id(
        "twilio", "CA1", "status", "completed", 2
    )
    assert event_id("twilio", "CA1", "voice", "", 1) == event_id("twilio", "CA1", "voice", "", 1)


def test_an_event_stashed_before_agencies_reads_back_without_one():
    old = {"provider": "twilio", "kind": "status", "call_sid": "CA1", "received_at": 1.0}
    old["route"] = {"role": "pool", "pool_id": 1, "site_id": 2, "client_id": 3}
    event = CallEvent.from_dict(old)
    assert event.agency_id is None and event.route.agency_id is None
