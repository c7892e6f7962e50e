"""no ip addresses in the audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:42:49.724994
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("ip")


def downgrade() -> None:

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ip", sa.VARCHAR(length=45), nullable=True))
