"""Canonical ids set in bulk (Store.set_canonical_ids): a batch's few directly, many staged and applied by one
UPDATE, on SQLite also with the canonical id index made again; the same result every way, index intact."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tessera.store import tables
from test_resolve_context import ingest


@pytest.mark.parametrize("stage_from, rebuild_from", [(10_000, 10_000), (1, 10_000), (1, 1)])
def test_canonical_ids_are_set_whichever_way_they_are_written(store, tmp_path, stage_from, rebuild_from):
    ingest(store, tmp_path, "UKPOL", [{"id": f"p{k:02d}", "schema": "Person", "properties": {"name": [f"P {k}"]}}
                                      for k in range(30)])
    rows = [(f"ukpol.p{k:02d}", f"c-{k % 4}") for k in range(0, 30, 2)]  # half the entities
    with store.engine.begin() as conn:
        store.set_canonical_ids(conn, rows, stage_from=stage_from, rebuild_from=rebuild_from)
    e = tables.entities
    with store.engine.connect() as conn:
        got = dict(conn.execute(select(e.c.id, e.c.canonical_id)).all())
        by_index = conn.execute(select(e.c.id).where(e.c.canonical_id == "c-2").order_by(e.c.id)).scalars().all()
        if store.dialect == "sqlite":
            indexes = {r[1] for r in conn.exec_driver_sql("PRAGMA index_list(entities)")}
            assert "ix_entities_canonical" in indexes
    assert got == {f"ukpol.p{k:02d}": (f"c-{k % 4}" if k % 2 == 0 else None) for k in range(30)}
    assert by_index == [f"ukpol.p{k:02d}" for k in (2, 6, 10, 14, 18, 22, 26)]


def test_a_failed_transaction_leaves_ids_and_index_as_they_were(store, tmp_path):
    ingest(store, tmp_path, "UKPOL", [{"id": f"p{k}", "schema": "Person", "properties": {"name": [f"P {k}"]}}
                                      for k in range(5)])
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        store.set_canonical_ids(conn, [(f"ukpol.p{k}", "c") for k in range(5)], stage_from=1, rebuild_from=1)
        raise RuntimeError("the change feed failed")
    e = tables.entities
    with store.engine.connect() as conn:
        assert set(conn.execute(select(e.c.canonical_id)).scalars()) == {None}
        if store.dialect == "sqlite":
            assert "ix_entities_canonical" in {r[1] for r in conn.exec_driver_sql("PRAGMA index_list(entities)")}
