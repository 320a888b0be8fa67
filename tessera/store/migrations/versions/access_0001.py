"""Access: users, API tokens, audit log and its head.

Revision ID: access_0001
Revises: 0001_foundation
"""
from alembic import op
from sqlalchemy import insert

from tessera.access import tables

revision = "access_0001"
down_revision = "0001_foundation"
branch_labels = ("access",)
depends_on = None

TABLES = [tables.users, tables.api_tokens, tables.audit_log, tables.audit_head]
GENESIS = "0" * 64


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)
    bind.execute(insert(tables.audit_head).values(id=1, seq=0, hash=GENESIS))


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
