"""Alerts: notices, keyed-hash index, blind submissions, watches, alerts, webhooks, deliveries, cursors.

Revision ID: alerts_0001
Revises: 0001_foundation
"""
from alembic import op

from tessera.alerts import tables

revision = "alerts_0001"
down_revision = "0001_foundation"
branch_labels = ("alerts",)
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for table in tables.ALL:
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(tables.ALL):
        table.drop(bind)
