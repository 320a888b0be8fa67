"""API: the search-key index and its state.

Revision ID: api_0001
Revises: 0001_foundation
"""
from alembic import op

from tessera.api import tables

revision = "api_0001"
down_revision = "0001_foundation"
branch_labels = ("api",)
depends_on = None

TABLES = [tables.search_keys, tables.search_index_state]


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
