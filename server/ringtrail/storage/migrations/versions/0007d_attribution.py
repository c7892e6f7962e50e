"""attribution: rest before reuse, candidates of ambiguous calls, repeat callers

Revision ID: 0007d
Revises: 0007c
Create Date: 2026-12-01 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007d"
down_revision = "0007c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pools") as batch:
        batch.add_column(sa.Column("rest_seconds", sa.Integer(), nullable=True))
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("candidates", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("repeat_of", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("repeat_of")
        batch.drop_column("candidates")
    with op.batch_alter_table("pools") as batch:
        batch.drop_column("rest_seconds")
