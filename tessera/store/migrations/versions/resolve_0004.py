"""Resolve: the review queue of record pairs the resolver was least sure of.

Revision ID: resolve_0004
Revises: resolve_0003
"""
import sqlalchemy as sa
from alembic import op

from tessera.resolve import tables

revision = "resolve_0004"
down_revision = "resolve_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Checked first, as resolve_0002/0003 do: a store whose tables were made from the current definitions has it.
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("review_pairs"):
        tables.review_pairs.create(bind)


def downgrade() -> None:
    tables.review_pairs.drop(op.get_bind())
