"""Foundation: agencies, batches, statements, source entities, quarantine.

Revision ID: 0001_foundation
Revises:
"""
from alembic import op

from tessera.store import tables

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

FOUNDATION = [tables.agencies, tables.batches, tables.statements, tables.entities, tables.quarantine]


def upgrade() -> None:
    bind = op.get_bind()
    for table in FOUNDATION:
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(FOUNDATION):
        table.drop(bind)
