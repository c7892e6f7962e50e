"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 15:34:25.326636
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("twilio_account_sid", sa.String(length=64), nullable=True),
        sa.Column("twilio_auth_token", sa.String(length=128), nullable=True),
        sa.Column("twilio_previous_auth_token", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("twilio_account_sid"),
    )
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("business_number", sa.String(length=20), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("us_state", sa.String(length=2), nullable=True),
        sa.Column("record_calls", sa.Boolean(), nullable=False),
        sa.Column("recording_notice", sa.Text(), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clients_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.String(length=40), nullable=False),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        sa.Column("consent_mode", sa.String(length=16), nullable=False),
        sa.Column("honor_dnt", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_key"),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_client_id"), ["client_id"], unique=False)

    op.create_table(
        "daily_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("medium", sa.String(length=100), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "day", "source", "medium"),
    )
    with op.batch_alter_table("daily_visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_daily_visits_site_id"), ["site_id"], unique=False)

    op.create_table(
        "pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("business_number", sa.String(length=20), nullable=False),
        sa.Column("lease_seconds", sa.Integer(), nullable=False),
        sa.Column("match_window_seconds", sa.Integer(), nullable=False),
        sa.Column("exhaustion_policy", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pools", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pools_site_id"), ["site_id"], unique=False)

    op.create_table(
        "visit_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("landing_url", sa.Text(), nullable=False),
        sa.Column("landing_title", sa.String(length=200), nullable=False),
        sa.Column("referrer", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("medium", sa.String(length=100), nullable=False),
        sa.Column("campaign", sa.String(length=200), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("content", sa.String(length=200), nullable=False),
        sa.Column("click_ids", sa.JSON(), nullable=False),
        sa.Column("device", sa.String(length=20), nullable=False),
        sa.Column("browser", sa.String(length=60), nullable=False),
        sa.Column("os", sa.String(length=60), nullable=False),
        sa.Column("pages", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id"),
    )
    with op.batch_alter_table("visit_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_snapshots_site_id"), ["site_id"], unique=False)

    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("pool_id", sa.Integer(), nullable=True),
        sa.Column("tracking_number", sa.String(length=20), nullable=False),
        sa.Column("forwarded_to", sa.String(length=20), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=True),
        sa.Column("dial_status", sa.String(length=20), nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.String(length=12), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("medium", sa.String(length=100), nullable=False),
        sa.Column("degraded", sa.Boolean(), nullable=False),
        sa.Column("notice_played", sa.Boolean(), nullable=False),
        sa.Column("recording_sid", sa.String(length=64), nullable=True),
        sa.Column("recording_url", sa.Text(), nullable=True),
        sa.Column("recording_seconds", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["pools.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit_snapshots.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_sid"),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_pool_id"), ["pool_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_started_at"), ["started_at"], unique=False)

    op.create_table(
        "tracking_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["pools.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("tracking_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracking_numbers_pool_id"), ["pool_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("tracking_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracking_numbers_pool_id"))

    op.drop_table("tracking_numbers")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_started_at"))
        batch_op.drop_index(batch_op.f("ix_calls_site_id"))
        batch_op.drop_index(batch_op.f("ix_calls_session_id"))
        batch_op.drop_index(batch_op.f("ix_calls_pool_id"))
        batch_op.drop_index(batch_op.f("ix_calls_client_id"))

    op.drop_table("calls")
    with op.batch_alter_table("visit_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_snapshots_site_id"))

    op.drop_table("visit_snapshots")
    with op.batch_alter_table("pools", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pools_site_id"))

    op.drop_table("pools")
    with op.batch_alter_table("daily_visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_daily_visits_site_id"))

    op.drop_table("daily_visits")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_client_id"))

    op.drop_table("sites")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_agency_id"))

    op.drop_table("clients")
    op.drop_table("agencies")
