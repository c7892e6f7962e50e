"""Which calls count, and the upload log the hooks listener writes (once per change)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ringtrail.accounts.auth import cli_principal
from ringtrail.calls import hooks, outcomes
from ringtrail.errors import Conflict, Invalid
from ringtrail.outbound.platforms import destinations, log
from ringtrail.storage.models import AdUpload
from tests.helpers import make_site
from tests.outbound.platforms.helpers import completed_call, connect_ga4, connect_google


def rows(db, call):
    db.expire_all()
    return db.scalars(
        select(AdUpload).where(AdUpload.call_id == call.id).order_by(AdUpload.id)
    ).all()


@pytest.mark.postgres
def test_a_long_call_with_a_gclid_is_queued_once_with_the_default_value(app, db, google):
    setup = make_site(db, numbers=1)
    connect_google(db, google, setup, default_value_minor=2500, currency="EUR")
    call = completed_call(db, setup)
    hooks.emit(db, call, hooks.COMPLETED)  # the job, run again
    db.commit()
    (row,) = rows(db, call)
    assert (row.status, row.key, row.value_minor, row.currency) == (
        "queued",
        "conversion",
        2500,
        "EUR",
    )
    assert row.next_attempt_at is not None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"talk": 30}, "not_a_conversion"),
        ({"confidence": "ambiguous"}, "low_confidence"),
        ({"confidence": "none"}, "low_confidence"),
        ({"click_ids": {"msclkid": "x"}}, "no_click_id"),
    ],
)
def test_a_call_that_does_not_count_is_skipped_with_why(app, db, google, kwargs, reason):
    setup = make_site(db, numbers=1)
    connect_google(db, google, setup)
    call = completed_call(db, setup, **kwargs)
    (row,) = rows(db, call)
    assert (row.status, row.reason) == ("skipped", reason)
    assert log.call_uploads(db, call.id)[0]["reason_words"]


def test_a_status_rule_waits_for_the_outcome_then_queues_with_its_value(app, db, google):
    setup = make_site(db, numbers=1)
    connect_google(db, google, setup, lead_statuses=["qualified"], min_duration_seconds=None)
    call = completed_call(db, setup, talk=600)
    assert rows(db, call)[0].status == "skipped"
    outcomes.apply(
        db,
        call,
        {"lead_status": "qualified", "value": {"amount_minor": 12000, "currency": "USD"}},
        cli_principal(),
        source="manual",
    )
    db.commit()
    (row,) = rows(db, call)
    assert (row.status, row.value_minor, row.currency) == ("queued", 12000, "USD")


def test_spam_never_counts_however_long(app, db, google):
    setup = make_site(db, numbers=1)
    connect_google(db, google, setup)
    call = completed_call(db, setup, talk=900)
    outcomes.apply(db, call, {"lead_status": "spam"}, cli_principal(), source="manual")
    db.commit()
    assert [(r.status, r.reason) for r in rows(db, call)] == [("skipped", "not_a_conversion")]


def test_a_changed_value_after_acceptance_is_one_adjustment(app, db, google):
    setup = make_site(db, numbers=1)
    connect_google(db, google, setup, lead_statuses=["qualified", "customer"])
    call = completed_call(db, setup)
    row = rows(db, call)[0]
    row.status = "accepted"
    db.commit()
    for _ in range(2):  # the same change applied twice (an at-least-once job)
        outcomes.apply(
            db,
            call,
            {"lead_status": "customer", "value": {"amount_minor": 50000, "currency": "USD"}},
            cli_principal(),
            source="manual",
        )
        hooks.emit(db, call, hooks.UPDATED, {"what": "outcome"})
        db.commit()
    got = [(r.key, r.status, r.value_minor) for r in rows(db, call)]
    assert got == [("conversion", "accepted", None), ("adjust:50000:USD", "queued", 50000)]


def test_hipaa_clients_cannot_connect_and_their_calls_are_skipped(app, db, google):
    setup = make_site(db, numbers=1)
    dest = connect_google(db, google, setup)
    setup.client.hipaa = True
    db.commit()
    with pytest.raises(Conflict, match="HIPAA"):
        destinations.connect(db, setup.client, "ga4", {"measurement_id": "G-ABCD1234"})
    db.rollback()
    call = completed_call(db, setup)
    assert [(r.destination_id, r.status, r.reason) for r in rows(db, call)] == [
        (dest.id, "skipped", "hipaa")
    ]


def test_ga4_needs_the_client_id_which_comes_only_with_consent(app, db, google):
    setup = make_site(db, numbers=1)
    connect_ga4(db, google, setup)
    without = completed_call(db, setup, consent=None, ga4=None)
    with_ids = completed_call(db, setup, ga4={"cid": "123.456", "sid": "1700000000"})
    assert [(r.status, r.reason) for r in rows(db, without)] == [("skipped", "no_consent")]
    assert [r.status for r in rows(db, with_ids)] == ["queued"]


def test_secrets_are_sealed_and_shown_masked(app, db, google):
    setup = make_site(db, numbers=1)
    dest = connect_google(db, google, setup)
    assert dest.refresh_token.startswith("fernet:")
    assert dest.oauth_client_secret.startswith("fernet:")
    shown = destinations.view(dest)
    assert shown["refresh_token"] == "…test" and "refresh-token" not in str(shown)
    assert shown["account_id"] == "1234567890"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"lead_statuses": ["won"]}, "unknown lead status"),
        ({"min_confidence": "maybe"}, "min_confidence"),
        ({"account_id": "12"}, "customer id"),
        ({"account_id": "1234567890"}, "missing"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(app, db, data, words):
    setup = make_site(db, numbers=1)
    with pytest.raises(Invalid, match=words):
        destinations.connect(db, setup.client, "google_ads", data)


def test_rotation_reseals_the_ad_platform_secrets(app, db, google):
    from ringtrail.accounts import sealing
    from ringtrail.crypto import new_key, unseal
    from ringtrail.storage.models import AdDestination

    old, new = new_key(), new_key()
    app.config["ENCRYPTION_KEYS"] = old
    setup = make_site(db, numbers=1)
    dest = connect_google(db, google, setup)
    before = (dest.refresh_token, dest.oauth_client_secret)
    app.config["ENCRYPTION_KEYS"] = f"{new},{old}"
    assert sealing.rotate(db) == 3  # the agency's carrier token, and these two
    app.config["ENCRYPTION_KEYS"] = new
    db.expire_all()
    after = db.get(AdDestination, dest.id)
    assert (after.refresh_token, after.oauth_client_secret) != before
    assert unseal(after.refresh_token) == "1//refresh-token-of-the-test"


def test_one_send_job_per_transaction_however_many_calls_it_queues(app, db, google):
    from ringtrail.storage.clients import get_queue

    setup = make_site(db, numbers=1)
    connect_google(db, google, setup)
    queue = get_queue()

    def send_jobs() -> int:
        jobs = queue.get_jobs()
        return sum(j.func_name == "ringtrail.outbound.platforms.send.send_due" for j in jobs)

    queue.empty()
    calls = [completed_call(db, setup) for _ in range(2)]  # two transactions: two jobs
    assert send_jobs() == 2
    queue.empty()
    for call in calls:
        outcomes.apply(db, call, {"lead_status": "qualified"}, cli_principal(), source="manual")
    db.commit()  # one transaction (a bulk change): one job
    assert send_jobs() == 1
