"""calls belong to an agency: calls.agency_id, unique (agency_id, call_sid)

A carrier's call id names a call within one carrier account only, so a call is found by
its agency and its call id together. Existing calls take their client's agency.

Revision ID: 0007b
Revises: 0007a
"""

import sqlalchemy as sa
from alembic import op

revision = "0007b"
down_revision = "0007a"
branch_labels = None
depends_on = None

# SQLite's copy of 0001's unique(call_sid) has no name: batch mode names it by this
# convention so that it can be dropped; PostgreSQL named it calls_call_sid_key itself.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique() -> str:
    return (
        "calls_call_sid_key" if op.get_bind().dialect.name == "postgresql" else "uq_calls_call_sid"
    )


def upgrade() -> None:
    with op.batch_alter_table("calls", naming_convention=NAMING) as batch_op:
        batch_op.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_calls_agency_id_agencies", "agencies", ["agency_id"], ["id"]
        )
    op.execute(
        "UPDATE calls SET agency_id = "
        "(SELECT clients.agency_id FROM clients WHERE clients.id = calls.client_id) "
        "WHERE client_id IS NOT NULL"
    )
    with op.batch_alter_table("calls", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(_old_unique(), type_="unique")
        batch_op.create_unique_constraint("uq_calls_agency_id_call_sid", ["agency_id", "call_sid"])


def downgrade() -> None:
    with op.batch_alter_table("calls", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint("uq_calls_agency_id_call_sid", type_="unique")
        batch_op.create_unique_constraint(_old_unique(), ["call_sid"])
        batch_op.drop_constraint("fk_calls_agency_id_agencies", type_="foreignkey")
        batch_op.drop_column("agency_id")
