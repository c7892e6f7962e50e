"""agency default forward number: where calls to numbers Ringtrail does not know go

Revision ID: 0008b
Revises: 0008a
Create Date: 2026-12-01 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008b"
down_revision = "0008a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("default_forward_number", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("default_forward_number")
