"""Foundation: statements looked up by value through an index on value alone, in byte order on PostgreSQL.

Every lookup by value names the value (`value = …`, `value IN (…)`, with or without a prop_type); none
reads a prop_type's values in order. An index on value alone serves them, and on PostgreSQL the column's
COLLATE "C" lets its build compare bytes (with abbreviated keys) instead of calling the locale for every
pair: a bulk load of 6M statements builds it with 7 s of CPU where (prop_type, value) under the
database's C.UTF-8 took 16 s. `value LIKE 'prefix%'` can use it too. A comparison of value with another
table's text column takes the "C" collation, so that column's own index is not used for it.

Revision ID: 0002_statement_values
Revises: 0001_foundation
"""
from alembic import op

revision = "0002_statement_values"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_statements_type_value", table_name="statements")
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE statements ALTER COLUMN value TYPE text COLLATE "C"')
    op.create_index("ix_statements_value", "statements", ["value"])


def downgrade() -> None:
    op.drop_index("ix_statements_value", table_name="statements")
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE statements ALTER COLUMN value TYPE text COLLATE "default"')
    op.create_index("ix_statements_type_value", "statements", ["prop_type", "value"])
