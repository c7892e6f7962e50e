"""autosizing: per-pool settings and job state, retiring numbers

Revision ID: 0008d
Revises: 0008b
Create Date: 2026-12-01 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008d"
down_revision = "0008b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pool_autosizing",
        sa.Column("pool_id", sa.Integer(), sa.ForeignKey("pools.id"), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("target_overflow", sa.Float(), nullable=False),
        sa.Column("min_numbers", sa.Integer(), nullable=False),
        sa.Column("max_numbers", sa.Integer(), nullable=False),
        sa.Column("monthly_cap_minor", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("surplus_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_plan", sa.JSON(), nullable=True),
    )
    with op.batch_alter_table("tracking_numbers") as batch:
        batch.add_column(sa.Column("retiring_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("release_after", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracking_numbers") as batch:
        batch.drop_column("release_after")
        batch.drop_column("retiring_since")
    op.drop_table("pool_autosizing")
