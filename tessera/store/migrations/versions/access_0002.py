"""Access: web sessions.

Revision ID: access_0002
Revises: access_0001
"""
from alembic import op

from tessera.access import tables

revision = "access_0002"
down_revision = "access_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables.sessions.create(op.get_bind())


def downgrade() -> None:
    tables.sessions.drop(op.get_bind())
