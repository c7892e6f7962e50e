"""ad platform uploads: destinations per client, the upload log, consent and GA4 ids
with each visit snapshot

Revision ID: 0010u
Revises: 0010nb
Create Date: 2026-12-01 23:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010u"
down_revision = "0010w"  # chained after the webhooks at merge
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visit_snapshots") as batch:
        batch.add_column(sa.Column("consent", sa.String(12), nullable=True))
        batch.add_column(sa.Column("ga4", sa.JSON(), nullable=True))
    op.create_table(
        "ad_destinations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("lead_statuses", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("min_duration_seconds", sa.Integer(), nullable=True),
        sa.Column("min_confidence", sa.String(12), nullable=False),
        sa.Column("default_value_minor", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("account_id", sa.String(20), nullable=True),
        sa.Column("login_account_id", sa.String(20), nullable=True),
        sa.Column("conversion_action_id", sa.String(40), nullable=True),
        sa.Column("oauth_client_id", sa.String(200), nullable=True),
        sa.Column("oauth_client_secret", sa.String(512), nullable=True),
        sa.Column("refresh_token", sa.String(1024), nullable=True),
        sa.Column("measurement_id", sa.String(20), nullable=True),
        sa.Column("api_secret", sa.String(512), nullable=True),
        sa.Column("event_name", sa.String(40), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_reason", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("client_id", "platform", name="uq_ad_destinations"),
    )
    op.create_index("ix_ad_destinations_client_id", "ad_destinations", ["client_id"])
    op.create_table(
        "ad_uploads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "destination_id",
            sa.Integer(),
            sa.ForeignKey("ad_destinations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "call_id", sa.Integer(), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("value_minor", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("destination_id", "call_id", "key", name="uq_ad_uploads"),
    )
    op.create_index("ix_ad_uploads_destination_id", "ad_uploads", ["destination_id"])
    op.create_index("ix_ad_uploads_call_id", "ad_uploads", ["call_id"])
    op.create_index("ix_ad_uploads_status", "ad_uploads", ["status"])
    op.create_index("ix_ad_uploads_next_attempt_at", "ad_uploads", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("ad_uploads")
    op.drop_table("ad_destinations")
    with op.batch_alter_table("visit_snapshots") as batch:
        batch.drop_column("ga4")
        batch.drop_column("consent")
