"""call outcomes (tags, lead status, value, notes), automation rules, blocked callers

Revision ID: 0009h
Revises: 0008d
Create Date: 2026-12-01 06:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009h"
down_revision = "0009e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(
            sa.Column("lead_status", sa.String(16), nullable=False, server_default="new")
        )
        batch.add_column(sa.Column("value_minor", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("currency", sa.String(3), nullable=True))
        batch.add_column(
            sa.Column("outcome_sources", sa.JSON(), nullable=False, server_default="{}")
        )
        batch.add_column(
            sa.Column("blocked", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("rules_ran_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "client_tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("client_id", "name", name="uq_client_tags_name"),
    )
    op.create_index("ix_client_tags_client_id", "client_tags", ["client_id"])
    op.create_table(
        "call_tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "call_id", sa.Integer(), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "tag_id",
            sa.Integer(),
            sa.ForeignKey("client_tags.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source", sa.String(8), nullable=False),
        sa.UniqueConstraint("call_id", "tag_id", name="uq_call_tags"),
    )
    op.create_index("ix_call_tags_call_id", "call_tags", ["call_id"])
    op.create_index("ix_call_tags_tag_id", "call_tags", ["tag_id"])
    op.create_table(
        "call_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "call_id", sa.Integer(), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("author", sa.String(254), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_call_notes_call_id", "call_notes", ["call_id"])
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rules_client_id", "rules", ["client_id"])
    op.create_table(
        "blocked_callers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("caller_hash", sa.String(64), nullable=False),
        sa.Column("number", sa.String(20), nullable=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("client_id", "caller_hash", name="uq_blocked_callers_hash"),
    )
    op.create_index("ix_blocked_callers_client_id", "blocked_callers", ["client_id"])


def downgrade() -> None:
    op.drop_table("blocked_callers")
    op.drop_table("rules")
    op.drop_table("call_notes")
    op.drop_table("call_tags")
    op.drop_table("client_tags")
    with op.batch_alter_table("calls") as batch:
        for name in (
            "rules_ran_at",
            "blocked",
            "outcome_sources",
            "currency",
            "value_minor",
            "lead_status",
        ):
            batch.drop_column(name)
