"""consent recording retention erasure

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:15:48.613469
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VOICEMAIL_PROMPT = "Sorry, nobody can take your call. Please leave a message after the tone."


def upgrade() -> None:
    op.create_table(
        "erasure_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("erasure_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erasure_receipts_agency_id"), ["agency_id"], unique=False
        )

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice_version", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("notice_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("route_kind", sa.String(length=16), nullable=False, server_default="normal")
        )
        batch_op.add_column(sa.Column("caller_state", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("caller_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("transcription", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_calls_caller_hash"), ["caller_hash"], unique=False)

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "consent_mode", sa.String(length=16), nullable=False, server_default="all_party"
            )
        )
        batch_op.add_column(
            sa.Column("transcribe", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("whisper", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("business_hours", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("after_hours_number", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("voicemail", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "voicemail_prompt",
                sa.Text(),
                nullable=False,
                server_default=VOICEMAIL_PROMPT,
            )
        )
        batch_op.add_column(
            sa.Column("retention_call_days", sa.Integer(), nullable=False, server_default="761")
        )
        batch_op.add_column(
            sa.Column("retention_snapshot_days", sa.Integer(), nullable=False, server_default="761")
        )
        batch_op.add_column(
            sa.Column("retention_recording_days", sa.Integer(), nullable=False, server_default="90")
        )
        batch_op.add_column(
            sa.Column("hipaa", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("pools", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record_calls", sa.Boolean(), nullable=True))

    with op.batch_alter_table("tracking_numbers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record_calls", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracking_numbers", schema=None) as batch_op:
        batch_op.drop_column("record_calls")

    with op.batch_alter_table("pools", schema=None) as batch_op:
        batch_op.drop_column("record_calls")

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("hipaa")
        batch_op.drop_column("retention_recording_days")
        batch_op.drop_column("retention_snapshot_days")
        batch_op.drop_column("retention_call_days")
        batch_op.drop_column("voicemail_prompt")
        batch_op.drop_column("voicemail")
        batch_op.drop_column("after_hours_number")
        batch_op.drop_column("business_hours")
        batch_op.drop_column("whisper")
        batch_op.drop_column("transcribe")
        batch_op.drop_column("consent_mode")

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_caller_hash"))
        batch_op.drop_column("transcription")
        batch_op.drop_column("caller_hash")
        batch_op.drop_column("caller_state")
        batch_op.drop_column("route_kind")
        batch_op.drop_column("notice_at")
        batch_op.drop_column("notice_version")

    with op.batch_alter_table("erasure_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_receipts_agency_id"))

    op.drop_table("erasure_receipts")
