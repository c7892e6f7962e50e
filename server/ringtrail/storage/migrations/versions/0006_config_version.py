"""config version

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 16:58:19.826797
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The one row every configuration change bumps (server/db.py).
    op.execute("INSERT INTO config_version (id, version) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("config_version")
