"""Consent rules: the all-party table, which modes a client may choose, callers' states."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from ringtrail.telephony import consent
from ringtrail.tracking.directory import Route, Snapshot


def test_the_all_party_list_is_the_facts_list_plus_the_disputed_states():
    facts = {"CA", "CT", "FL", "IL", "MD", "MA", "MT", "NV", "NH", "PA", "WA"}
    disputed = {"HI", "DE", "MI", "OR", "VT"}
    assert facts | disputed == consent.ALL_PARTY_STATES
    assert len(consent.STATES) == 51  # 50 states and DC


@pytest.mark.parametrize(
    ("state", "mode", "refused"),
    [
        ("CA", "all_party", None),
        (None, "all_party", None),
        ("NY", "one_party", None),
        ("tx", "one_party", None),
        ("CA", "one_party", "California requires all-party consent"),
        ("WA", "one_party", "Washington requires all-party consent"),
        ("HI", "one_party", "Hawaii is on some all-party lists"),
        ("VT", "one_party", "Vermont is on some all-party lists"),
        (None, "one_party", "needs the business's US state"),
        ("ZZ", "one_party", "needs the business's US state"),
        ("NY", "no_party", "consent mode must be one of all_party, one_party"),
    ],
)
def test_check_mode(state, mode, refused):
    reason = consent.check_mode(state, mode)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


@pytest.mark.parametrize(
    ("mode", "client_state", "caller_state", "required"),
    [
        ("all_party", "NY", "NY", True),
        ("one_party", "NY", "NY", False),
        ("one_party", "NY", "TX", False),
        ("one_party", "NY", "CA", True),  # the caller's state is all-party
        ("one_party", "NY", "OR", True),  # disputed counts as all-party
        ("one_party", "NY", None, True),  # toll-free, foreign, anonymous: unknown
        ("one_party", "CA", "NY", True),  # one_party is not allowed in CA: not applied
        ("one_party", None, "NY", True),
        (None, "NY", "NY", True),
    ],
)
def test_notice_required(mode, client_state, caller_state, required):
    assert consent.notice_required(mode, client_state, caller_state) is required


def test_notice_version_is_a_hash_of_the_exact_text():
    text = "This call may be recorded."
    assert consent.notice_version(text) == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert consent.notice_version(text) != consent.notice_version(text + " ")


def test_explain_says_why_and_that_a_number_is_approximate():
    ny = consent.explain(SimpleNamespace(us_state="NY", consent_mode="one_party", hipaa=False))
    assert ny.startswith("One-party consent") and "New York" in ny
    assert "approximate" in ny and "all-party state" in ny
    ca = consent.explain(SimpleNamespace(us_state="CA", consent_mode="one_party", hipaa=False))
    assert ca.startswith("All-party consent") and "not applied" in ca and "California" in ca
    assert "approximate" in ca
    default = consent.explain(SimpleNamespace(us_state="TX", consent_mode="all_party"))
    assert "could be chosen" in default
    hipaa = consent.explain(SimpleNamespace(us_state="TX", consent_mode="all_party", hipaa=True))
    assert "never recorded" in hipaa


def test_a_route_with_the_new_fields_round_trips_through_the_disk_copy():
    route = Route(
        number="+16285550100",
        role="pool",
        pool_id=1,
        site_id=2,
        client_id=3,
        agency_id=4,
        forward_to="+14155550100",
        record=True,
        notice="Recorded.",
        suspended=False,
        match_window=3600,
        consent_mode="one_party",
        us_state="NY",
        hipaa=True,
        business_hours={"mon": [["09:00", "17:00"]]},
        timezone="America/Chicago",
        after_hours_number="+14155550177",
        voicemail=True,
        label="Spring ads",
    )
    snapshot = Snapshot(sites={}, routes={route.number: route}, tokens={}, loaded_at=1.0)
    again = Snapshot.from_json(snapshot.to_json())
    assert again.routes == {route.number: route}
    # An older directory.json, written before these fields existed, still loads.
    old = {k: v for k, v in route.__dict__.items() if k in Route.__dataclass_fields__}
    for name in ("consent_mode", "us_state", "hipaa", "business_hours", "label"):
        del old[name]
    legacy = Route(**old)
    assert (legacy.consent_mode, legacy.hipaa, legacy.business_hours) == ("all_party", False, None)
