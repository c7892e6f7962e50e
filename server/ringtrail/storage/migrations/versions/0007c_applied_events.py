"""applied events: call events committed to SQL, so the spool can let them go

Revision ID: 0007c
Revises: 0007b
Create Date: 2026-12-01 00:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007c"
down_revision = "0007b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "applied_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_applied_events_applied_at", "applied_events", ["applied_at"])


def downgrade() -> None:
    op.drop_index("ix_applied_events_applied_at", table_name="applied_events")
    op.drop_table("applied_events")
