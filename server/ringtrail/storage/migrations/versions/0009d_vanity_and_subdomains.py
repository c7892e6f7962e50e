"""vanity texts per pool, and sharing the visit across a site's subdomains

Revision ID: 0009d
Revises: 0008d
Create Date: 2026-12-01 06:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009d"
down_revision = "0008d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pools") as batch:
        batch.add_column(sa.Column("vanity_texts", sa.JSON(), nullable=True))
    with op.batch_alter_table("sites") as batch:
        batch.add_column(
            sa.Column("share_subdomains", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("share_subdomains")
    with op.batch_alter_table("pools") as batch:
        batch.drop_column("vanity_texts")
