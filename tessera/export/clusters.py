"""Cluster export: one row per source entity with the canonical id resolution gave it."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select

from tessera.store import tables
from tessera.store.store import Store

CLUSTER_COLUMNS = ["agency", "file", "row", "schema", "source_id", "canonical_id"]


def cluster_rows(store: Store) -> Iterator[tuple]:
    e, b = tables.entities, tables.batches
    query = (select(e.c.agency, b.c.file_name, e.c.record_no, e.c.schema, e.c.id,
                    func.coalesce(e.c.canonical_id, e.c.id))
             .join(b, b.c.id == e.c.batch_id)
             .order_by(e.c.agency, b.c.file_name, e.c.record_no, e.c.id))
    with store.engine.connect() as conn:
        yield from conn.execution_options(stream_results=True, yield_per=10_000).execute(query)
