"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from ringtrail.storage.models import Base


@pytest.mark.postgres
def test_migrated_schema_matches_the_models(database_url, db_backend):
    from ringtrail.storage.sql import make_engine

    engine = make_engine(database_url, 2.0)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_repeatable(tmp_path):
    from ringtrail.storage.sql import upgrade

    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    upgrade(engine)
    upgrade(engine)  # a second run is a no-op, not an error
    assert {
        "agencies",
        "clients",
        "sites",
        "pools",
        "tracking_numbers",
        "calls",
        "visit_snapshots",
        "daily_visits",
        "alembic_version",
    } <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.postgres
def test_0007b_gives_each_call_its_clients_agency(database_url, db_backend):
    """Calls recorded before 0007b take their client's agency; a call id is then unique
    per agency, not across agencies."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from ringtrail.storage.sql import MIGRATIONS, make_engine

    engine = make_engine(database_url, 2.0)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))

    def migrate(how, revision: str) -> None:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            how(cfg, revision)

    try:
        migrate(command.downgrade, "0007a")  # the schema just before 0007b
        with engine.begin() as conn:
            now = "2026-01-01 00:00:00+00"
            for agency in (1, 2):
                conn.execute(
                    text("INSERT INTO agencies (id, name, created_at) VALUES (:a, 'A', :t)"),
                    {"a": agency, "t": now},
                )
                conn.execute(
                    text(
                        "INSERT INTO clients (id, agency_id, name, business_number, timezone,"
                        " record_calls, recording_notice, suspended, consent_mode, transcribe,"
                        " whisper, voicemail, voicemail_prompt, retention_call_days,"
                        " retention_snapshot_days, retention_recording_days, hipaa, created_at)"
                        " VALUES (:c, :a, 'C', '+14155550100', 'UTC', false, 'n', false,"
                        " 'all_party', false, false, false, 'p', 1, 1, 1, false, :t)"
                    ),
                    {"c": agency * 10, "a": agency, "t": now},
                )
            for sid, client in (("CA1", 10), ("CA2", 20), ("CA3", None)):
                conn.execute(
                    text(
                        "INSERT INTO calls (provider, call_sid, client_id, tracking_number,"
                        " forwarded_to, status, confidence, source, medium, degraded,"
                        " notice_played, route_kind, created_at, updated_at) VALUES ('twilio',"
                        " :s, :c, '', '', 'completed', 'none', '', '', false, false, 'normal',"
                        " :t, :t)"
                    ),
                    {"s": sid, "c": client, "t": now},
                )
        migrate(command.upgrade, "head")
        with engine.begin() as conn:
            rows = dict(conn.execute(text("SELECT call_sid, agency_id FROM calls")).all())
            assert rows == {"CA1": 1, "CA2": 2, "CA3": None}
            conn.execute(
                text(
                    "INSERT INTO calls (agency_id, provider, call_sid, tracking_number,"
                    " forwarded_to, status, confidence, source, medium, degraded,"
                    " notice_played, route_kind, created_at, updated_at) VALUES (2, 'twilio',"
                    " 'CA1', '', '', 'ringing', 'none', '', '', false, false, 'normal',"
                    " '2026-01-01', '2026-01-01')"
                )
            )
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO calls (agency_id, provider, call_sid, tracking_number,"
                    " forwarded_to, status, confidence, source, medium, degraded,"
                    " notice_played, route_kind, created_at, updated_at) VALUES (2, 'twilio',"
                    " 'CA1', '', '', 'ringing', 'none', '', '', false, false, 'normal',"
                    " '2026-01-01', '2026-01-01')"
                )
            )
    finally:
        engine.dispose()
