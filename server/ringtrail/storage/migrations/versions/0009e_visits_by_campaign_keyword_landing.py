"""daily visits by campaign, keyword and landing page

Revision ID: 0009e
Revises: 0008d
Create Date: 2026-12-01 06:20:00

The unique key grows from (site, day, source, medium) to include a hash of the new
dimensions. The old key has no name, so the table is rebuilt (the same on SQLite and
PostgreSQL): the counts kept so far move over with campaign, keyword and landing page
unset.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009e"
down_revision = "0009d"
branch_labels = None
depends_on = None

COPY = (
    "INSERT INTO daily_visits_next (site_id, day, source, medium, visits)"
    " SELECT site_id, day, source, medium, visits FROM daily_visits"
)


def _table(name: str, *extra: sa.Column, unique: tuple[str, ...], uq_name: str | None):
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("medium", sa.String(length=100), nullable=False),
        *extra,
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(*unique, name=uq_name),
    )


def _swap() -> None:
    op.execute(COPY)
    with op.batch_alter_table("daily_visits") as batch_op:
        batch_op.drop_index("ix_daily_visits_site_id")
    op.drop_table("daily_visits")
    op.rename_table("daily_visits_next", "daily_visits")
    with op.batch_alter_table("daily_visits") as batch_op:
        batch_op.create_index("ix_daily_visits_site_id", ["site_id"], unique=False)


def upgrade() -> None:
    _table(
        "daily_visits_next",
        sa.Column("campaign", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("keyword", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("landing_page", sa.String(length=300), nullable=False, server_default=""),
        sa.Column("dims", sa.String(length=40), nullable=False, server_default=""),
        unique=("site_id", "day", "source", "medium", "dims"),
        uq_name="uq_daily_visits",
    )
    _swap()
    with op.batch_alter_table("daily_visits") as batch_op:
        for name in ("campaign", "keyword", "landing_page", "dims"):
            batch_op.alter_column(name, server_default=None)


def downgrade() -> None:
    _table(
        "daily_visits_next",
        unique=("site_id", "day", "source", "medium"),
        uq_name=None,
    )
    # Counts split by the new dimensions fold back into their source and medium.
    op.execute(
        "INSERT INTO daily_visits_next (site_id, day, source, medium, visits)"
        " SELECT site_id, day, source, medium, SUM(visits) FROM daily_visits"
        " GROUP BY site_id, day, source, medium"
    )
    with op.batch_alter_table("daily_visits") as batch_op:
        batch_op.drop_index("ix_daily_visits_site_id")
    op.drop_table("daily_visits")
    op.rename_table("daily_visits_next", "daily_visits")
    with op.batch_alter_table("daily_visits") as batch_op:
        batch_op.create_index("ix_daily_visits_site_id", ["site_id"], unique=False)
