"""outbound messages: the durable outbox of e-mails and Slack posts

Revision ID: 0010n
Revises: 0009g
Create Date: 2026-12-01 23:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010n"
down_revision = "0009g"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agency_id", sa.Integer(), sa.ForeignKey("agencies.id"), nullable=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("slack_url", sa.String(1024), nullable=True),
        sa.Column("dedupe_key", sa.String(200), nullable=True, unique=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbound_messages_agency_id", "outbound_messages", ["agency_id"])
    op.create_index("ix_outbound_messages_client_id", "outbound_messages", ["client_id"])
    op.create_index("ix_outbound_messages_status", "outbound_messages", ["status"])
    op.create_index(
        "ix_outbound_messages_next_attempt_at", "outbound_messages", ["next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("outbound_messages")
