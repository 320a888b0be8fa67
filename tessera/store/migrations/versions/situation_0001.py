"""Situation: small-boat series releases, daily and weekly figures, revisions.

Revision ID: situation_0001
Revises: 0001_foundation
"""
from alembic import op

from tessera.situation import tables

revision = "situation_0001"
down_revision = "0001_foundation"
branch_labels = ("situation",)
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for table in tables.ALL:
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(tables.ALL):
        table.drop(bind)
