"""Resolve: the source entities each change-feed event's canonical ids stood for (who may see the event).

Revision ID: resolve_0002
Revises: resolve_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "resolve_0002"
down_revision = "resolve_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # resolve_0001 creates the table from its current definition, which has the column already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("entity_changes")}
    if "parts" not in columns:
        op.add_column("entity_changes", sa.Column("parts", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("entity_changes") as batch:
        batch.drop_column("parts")
