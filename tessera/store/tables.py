"""Tables of the foundation: agencies, batches, statements, source entities and quarantine.

Other packages define their tables in their own `tables.py` on this same `metadata` and
add an Alembic migration of their own (see `migrations/versions`).
"""

from sqlalchemy import (BigInteger, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table,
                        Text, UniqueConstraint)

metadata = MetaData()

# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

agencies = Table(
    "agencies", metadata,
    Column("code", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("country", String(2), nullable=False, server_default="GB"),
    Column("phone_region", String(2), nullable=False, server_default="GB"),
    Column("contact", Text),
    Column("hit_policy", String(16), nullable=False, server_default="open"),
)

batches = Table(
    "batches", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agency", String(32), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("file_format", String(16), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("mapping_sha256", String(64), nullable=False),
    Column("mapping", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("records", Integer, nullable=False, server_default="0"),
    Column("statements", BigInteger, nullable=False, server_default="0"),
    Column("quarantined", Integer, nullable=False, server_default="0"),
    Column("warnings", Integer, nullable=False, server_default="0"),
    Column("classification", String(32), nullable=False),
    Column("caveat", Text),
    Column("release_to", Text),
    Column("grading", String(8)),
    UniqueConstraint("agency", "content_sha256", "mapping_sha256", name="uq_batch_content"),
)

statements = Table(
    "statements", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("batch_id", Integer, ForeignKey("batches.id", ondelete="CASCADE"), nullable=False),
    Column("entity_id", String(96), nullable=False),
    Column("schema", String(64), nullable=False),
    Column("prop", String(64), nullable=False),
    Column("prop_type", String(32), nullable=False),
    Column("value", Text, nullable=False),
    Column("original", Text, nullable=False),
    Column("warning", Text),
    Column("record_no", Integer, nullable=False),
    Column("agency", String(32), nullable=False),
    Column("classification", String(32), nullable=False),
    Column("caveat", Text),
    Column("release_to", Text),
    Column("grading", String(8)),
    Index("ix_statements_entity", "entity_id"),
    Index("ix_statements_batch", "batch_id"),
    Index("ix_statements_type_value", "prop_type", "value"),
)

entities = Table(
    "entities", metadata,
    Column("id", String(96), primary_key=True),
    Column("schema", String(64), nullable=False),
    Column("agency", String(32), nullable=False),
    Column("batch_id", Integer, ForeignKey("batches.id", ondelete="CASCADE"), nullable=False),
    Column("record_no", Integer, nullable=False),
    Column("canonical_id", String(96)),
    Index("ix_entities_canonical", "canonical_id"),
    Index("ix_entities_batch", "batch_id"),
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", Integer, ForeignKey("batches.id", ondelete="CASCADE"), nullable=False),
    Column("agency", String(32), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("record_no", Integer, nullable=False),
    Column("field", Text),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("retried_batch_id", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_quarantine_batch", "batch_id"),
)
