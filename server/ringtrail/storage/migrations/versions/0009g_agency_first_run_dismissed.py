"""agency first run dismissed: when the first-run checklist was put away

Revision ID: 0009g
Revises: 0008d
Create Date: 2026-12-01 06:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009g"
down_revision = "0009h"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(
            sa.Column("first_run_dismissed_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("first_run_dismissed_at")
