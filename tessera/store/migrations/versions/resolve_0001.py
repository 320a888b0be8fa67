"""Resolve: judgements, resolution runs and the change feed.

Revision ID: resolve_0001
Revises: 0001_foundation
"""
from alembic import op

from tessera.resolve import tables

revision = "resolve_0001"
down_revision = "0001_foundation"
branch_labels = ("resolve",)
depends_on = None

TABLES = [tables.judgements, tables.resolve_runs, tables.entity_changes]


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
