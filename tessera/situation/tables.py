"""Tables of the small-boat series: releases imported, current figures, and every revision of them."""

from sqlalchemy import (Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint)

from tessera.store.tables import metadata

situation_releases = Table(
    "situation_releases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("file_name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source_kind", String(8), nullable=False),       # "ods" or "csv"
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("first_date", Date, nullable=False),
    Column("data_through", Date, nullable=False),            # last day with a figure in this release
    Column("days", Integer, nullable=False),
    Column("weeks", Integer, nullable=False, server_default="0"),
    Column("added", Integer, nullable=False, server_default="0"),
    Column("revised", Integer, nullable=False, server_default="0"),
    UniqueConstraint("sha256", name="uq_situation_release_sha256"),
)

# The figures in force: for each day, those of the newest release that covers it.
situation_daily = Table(
    "situation_daily", metadata,
    Column("date", Date, primary_key=True),
    Column("release_id", Integer, ForeignKey("situation_releases.id"), nullable=False),
    Column("migrants", Integer),
    Column("boats", Integer),
    Column("uncontrolled", Integer),
    Column("notes", Text),
)

situation_weekly = Table(
    "situation_weekly", metadata,
    Column("week_ending", Date, primary_key=True),
    Column("release_id", Integer, ForeignKey("situation_releases.id"), nullable=False),
    Column("migrants", Integer),
    Column("boats", Integer),
    Column("uncontrolled", Integer),
    Column("prevented_migrants", Integer),
    Column("prevented_events", Integer),
    Column("notes", Text),
)

# One row each time a release brings a figure that differs from the one in force (or a new day/week).
situation_revisions = Table(
    "situation_revisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("release_id", Integer, ForeignKey("situation_releases.id"), nullable=False),
    Column("series", String(8), nullable=False),              # "daily" or "weekly"
    Column("date", Date, nullable=False),
    Column("migrants", Integer),
    Column("boats", Integer),
    Column("uncontrolled", Integer),
    Column("prevented_migrants", Integer),
    Column("prevented_events", Integer),
    Column("notes", Text),
    Index("ix_situation_revisions_date", "series", "date"),
    Index("ix_situation_revisions_release", "release_id"),
)

ALL = [situation_releases, situation_daily, situation_weekly, situation_revisions]
