"""Resolve: the match model each resolution run scored with.

Revision ID: resolve_0003
Revises: resolve_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "resolve_0003"
down_revision = "resolve_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # resolve_0001 creates the table from its current definition, which has the column already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("resolve_runs")}
    if "model" not in columns:
        op.add_column("resolve_runs", sa.Column("model", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("resolve_runs") as batch:
        batch.drop_column("model")
