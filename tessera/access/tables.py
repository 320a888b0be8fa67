"""Tables of the access layer: users, API tokens and the hash-chained audit log."""

from sqlalchemy import (Boolean, false, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint)

from tessera.store.tables import BigId, metadata

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("agency", String(32), ForeignKey("agencies.code"), nullable=False),
    Column("clearance", String(32), nullable=False),
    Column("nationality", String(3), nullable=False),
    Column("roles", Text, nullable=False, server_default="analyst"),  # comma-separated
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("name", name="uq_users_name"),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_sha256", String(64), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("label", Text),
    UniqueConstraint("token_sha256", name="uq_api_tokens_hash"),
    Index("ix_api_tokens_user", "user_id"),
)

# Append-only: each entry's hash covers its content and the previous entry's hash.
audit_log = Table(
    "audit_log", metadata,
    Column("seq", BigId, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),  # ISO-8601 UTC text, exactly as hashed
    Column("user_name", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("entities", Text, nullable=False),  # canonical JSON list
    Column("query", Text),
    Column("purpose", Text),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_user", "user_name"),
)

# One row (id = 1): the newest seq and hash. Appenders lock it, so appends are serialised, and
# verify compares it with the log's tail, so dropping the newest entries shows.
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigId, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Web sessions: only the SHA-256 of the cookie's random token is kept. A session ends at expires_at,
# after an idle gap longer than the idle timeout since last_seen_at, or when ended_at is set (logout).
sessions = Table(
    "sessions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_sha256", String(64), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    UniqueConstraint("token_sha256", name="uq_sessions_hash"),
    Index("ix_sessions_user", "user_id"),
)
