"""login sessions, two-factor authentication, sealed carrier tokens

Revision ID: 0007a
Revises: 0006
Create Date: 2026-12-01 00:10:00

Carrier tokens are sealed by ``ringtrail migrate`` after this schema change (a sealed
token is longer than the 128 characters the columns held).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007a"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.alter_column(
            "twilio_auth_token", type_=sa.String(length=512), existing_type=sa.String(128)
        )
        batch_op.alter_column(
            "twilio_previous_auth_token",
            type_=sa.String(length=512),
            existing_type=sa.String(128),
        )
        batch_op.add_column(
            sa.Column("require_two_factor", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("two_factor_secret", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("two_factor_enabled_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("two_factor_last_step", sa.Integer(), nullable=True))
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("pending_second_factor", sa.Boolean(), nullable=False),
        sa.Column("failed_codes", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_login_sessions_user_id", "login_sessions", ["user_id"])
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_recovery_codes_user_id", table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_index("ix_login_sessions_user_id", table_name="login_sessions")
    op.drop_table("login_sessions")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("two_factor_last_step")
        batch_op.drop_column("two_factor_enabled_at")
        batch_op.drop_column("two_factor_secret")
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("require_two_factor")
        # A sealed token is longer than 128 characters: this fails while tokens are sealed.
        batch_op.alter_column(
            "twilio_previous_auth_token", type_=sa.String(128), existing_type=sa.String(512)
        )
        batch_op.alter_column(
            "twilio_auth_token", type_=sa.String(128), existing_type=sa.String(512)
        )
