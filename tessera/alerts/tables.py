"""Tables of alerts: deconfliction notices, the keyed-hash index, watchlists, alerts, webhooks and deliveries."""

from sqlalchemy import (Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint, true)

from tessera.store.tables import BigId, metadata

# A notice tells an agency that another holds (or submitted on, or searched for) the same subject.
# It carries no content: agency codes, a contact point, an opaque reference and the recipient's own ids.
notices = Table(
    "notices", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("recipient", String(32), nullable=False),      # agency told
    Column("kind", String(16), nullable=False),           # hit | seen | searched
    Column("counterpart", String(32), nullable=False),    # the other agency
    Column("contact", Text),                              # the counterpart's contact point (hit notices)
    Column("reference", String(64), nullable=False),      # opaque: HMAC of the subject's canonical id
    Column("own_entity", String(96)),                     # the recipient's own source entity (or blind row ref)
    Column("subject", String(96)),                        # canonical id, shown only to the subject's owner
    Column("trigger", String(16), nullable=False),        # ingest | resolution | blind | search
    Column("batch_id", Integer),                          # the submitter's batch (kept for the submitter)
    Column("dedupe", String(64), nullable=False),
    UniqueConstraint("dedupe", name="uq_notices_dedupe"),
    Index("ix_notices_recipient", "recipient", "id"),
)

# Keyed hashes (HMAC-SHA256 with the federation key) of normalised identifiers and name+birth-date keys
# of each source entity: exact-key deconfliction and blind matching join on key_hash, never on values.
match_keys = Table(
    "match_keys", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("entity_id", String(96), nullable=False),
    Column("agency", String(32), nullable=False),
    Column("batch_id", Integer, ForeignKey("batches.id", ondelete="CASCADE"), nullable=False),
    Index("ix_match_keys_hash", "key_hash"),
    Index("ix_match_keys_batch", "batch_id"),
    Index("ix_match_keys_entity", "entity_id"),
)

keyed_batches = Table(
    "keyed_batches", metadata,
    Column("batch_id", Integer, ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True),
    Column("keyring", String(16), nullable=False),        # fingerprint of the federation key used
    Column("keys", Integer, nullable=False),
    Column("indexed_at", DateTime(timezone=True), nullable=False),
)

blind_submissions = Table(
    "blind_submissions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agency", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("keys", Integer, nullable=False),
    Column("hits", Integer, nullable=False),
)

watches = Table(
    "watches", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", String(128), nullable=False),
    Column("kind", String(16), nullable=False),           # entity | network
    Column("target", String(96), nullable=False),
    Column("hops", Integer, nullable=False, server_default="1"),
    Column("label", Text),
    Column("state", Text, nullable=False),                # internal JSON snapshot, never shown
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("checked_at", DateTime(timezone=True)),
    Index("ix_watches_user", "user_name"),
)

alerts = Table(
    "alerts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),  # also the SSE event id
    Column("user_name", String(128), nullable=False),
    Column("watch_id", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),           # attached | merged | split | network
    Column("subject", String(96), nullable=False),        # the watched target
    Column("entities", Text, nullable=False),             # JSON list of ids involved; shown filtered by policy
    Column("detail", Text),                               # JSON, no values
    Column("acked_at", DateTime(timezone=True)),
    Index("ix_alerts_user", "user_name", "id"),
)

webhooks = Table(
    "webhooks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", String(128), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
    Index("ix_webhooks_user", "user_name"),
)

deliveries = Table(
    "deliveries", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alert_id", BigId, nullable=False),
    Column("webhook_id", Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),         # pending | delivered | failed | withheld
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    UniqueConstraint("alert_id", "webhook_id", name="uq_deliveries_alert_hook"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
)

# Positions of the alert pump: the last change-feed id read, the last batch whose watches were checked.
cursors = Table(
    "alert_cursors", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigId, nullable=False),
)

ALL = [notices, match_keys, keyed_batches, blind_submissions, watches, alerts, webhooks, deliveries, cursors]
