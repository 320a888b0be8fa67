"""Tables of resolution: analysts' judgements, resolution runs, the change feed of canonical entities and the
review queue of pairs the resolver was least sure of."""

from sqlalchemy import Column, DateTime, Float, Index, Integer, String, Table, Text

from tessera.store.tables import BigId, metadata

# One analyst decision. a/b are the ids the analyst gave (source or canonical); a_members/b_members are the
# source entity ids they stood for when judged (JSON lists), so that a judgement keeps meaning the same
# records whatever later resolution does to canonical ids. A split keeps in `groups` (JSON list of lists)
# the members of the canonical entity as it was when split, one list per part that must stay apart.
judgements = Table(
    "judgements", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # same, not-same, split
    Column("a", String(96), nullable=False),
    Column("b", String(96)),
    Column("a_members", Text, nullable=False),
    Column("b_members", Text),
    Column("groups", Text),
    Column("reason", Text, nullable=False),
    Column("user_name", String(128), nullable=False),
    Column("agency", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
    Column("deleted_by", String(128)),
    Index("ix_judgements_a", "a"),
    Index("ix_judgements_b", "b"),
)

# One resolution run that wrote canonical ids, with the counts of its changes (JSON) and the match model it
# scored with (JSON: the shipped weights, a --model file, or weights estimated from the data), which explain and
# the warm resolver then use.
resolve_runs = Table(
    "resolve_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("counts", Text, nullable=False),
    Column("model", Text),  # resolve_0003
)

# The change feed: canonical entities created, grown by new records, merged or split by a run.
entity_changes = Table(
    "entity_changes", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),  # created, attached, merged, split
    Column("canonical_id", String(96), nullable=False),
    Column("related", Text, nullable=False),  # JSON list of the other canonical ids involved
    Column("members", Integer, nullable=False),  # size of the canonical entity after the run
    Column("new_members", Integer, nullable=False, server_default="0"),  # members never resolved before
    Column("parts", Text),  # JSON {canonical id: [source ids it stood for in this event]} (resolve_0002)
    Index("ix_entity_changes_canonical", "canonical_id"),
    Index("ix_entity_changes_run", "run_id"),
)

# The review queue: record pairs whose match weight lay close to the threshold in the last run that scored them
# (written by the resolver through tessera.resolve.review.record_review; resolve_0004).
review_pairs = Table(
    "review_pairs", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("a", String(96), nullable=False),  # source entity ids, a < b
    Column("b", String(96), nullable=False),
    Column("weight", Float, nullable=False),  # match weight in bits
    Column("threshold", Float, nullable=False),  # the run's threshold
    Index("ix_review_pairs_a", "a"),
    Index("ix_review_pairs_b", "b"),
)
