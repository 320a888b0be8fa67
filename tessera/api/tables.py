"""Tables of the API: the search-key index over statements and how far it has read."""

from sqlalchemy import Column, Index, Integer, String, Table, Text

from tessera.store.tables import BigId, metadata

# One row per (key, statement): "n:<token>" for each name token (search.name_key), "v:<value>" and
# "c:<compacted value>" for identifier-like values holding a digit. Rebuilt from the statements at will.
search_keys = Table(
    "search_keys", metadata,
    Column("key", Text, nullable=False),
    Column("statement_id", BigId, nullable=False),
    Index("ix_search_keys_key", "key", "statement_id"),
)

# One row (id = 1): every statement with id <= statement_id is in search_keys, keyed as `fingerprint` says.
search_index_state = Table(
    "search_index_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("statement_id", BigId, nullable=False),
    Column("fingerprint", String(64), nullable=False),
)
