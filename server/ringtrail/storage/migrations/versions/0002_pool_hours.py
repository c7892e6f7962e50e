"""pool hours

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:57:54.110556
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "pool_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("new_leases", sa.Integer(), nullable=False),
        sa.Column("exhausted", sa.Integer(), nullable=False),
        sa.Column("peak_leases", sa.Integer(), nullable=False),
        sa.Column("held_seconds", sa.Integer(), nullable=False),
        sa.Column("ended_leases", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["pools.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pool_id", "hour"),
    )
    with op.batch_alter_table("pool_hours", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pool_hours_pool_id"), ["pool_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("pool_hours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pool_hours_pool_id"))

    op.drop_table("pool_hours")
