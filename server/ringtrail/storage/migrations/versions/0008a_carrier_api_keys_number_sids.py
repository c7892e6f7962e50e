"""carrier accounts: an optional API key per agency, the carrier's id of each number

Revision ID: 0008a
Revises: 0007d
Create Date: 2026-12-01 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008a"
down_revision = "0007d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("twilio_api_key_sid", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("twilio_api_key_secret", sa.String(length=512), nullable=True))
    with op.batch_alter_table("tracking_numbers") as batch:
        batch.add_column(sa.Column("carrier_sid", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracking_numbers") as batch:
        batch.drop_column("carrier_sid")
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("twilio_api_key_secret")
        batch.drop_column("twilio_api_key_sid")
