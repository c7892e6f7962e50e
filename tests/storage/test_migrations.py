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
