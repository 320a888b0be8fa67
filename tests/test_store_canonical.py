"""Canonical ids set in bulk (Store.set_canonical_ids): a batch's few directly, many staged and applied by one
UPDATE, on SQLite also with the canonical id index made again; the same result every way, index intact."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from tessera.store import tables
from test_resolve_context import ingest


@pytest.mark.parametrize("stage_from, rebuild_from", [(10_000, 10_000), (1, 10_000), (1, 1)])
def test_canonical_ids_are_set_whichever_way_they_are_written(store, tmp_path, stage_from, rebuild_from):
    stored_in = random.Random(3).sample(range(30), 30)  # the table's order is not the ids' (SQLite's rowid order)
    ingest(store, tmp_path, "UKPOL", [{"id": f"p{k:02d}", "schema": "Person", "properties": {"name": [f"P {k}"]}}
                                      for k in stored_in])
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


@pytest.mark.parametrize("rebuild_from", [10_000, 1])
def test_staged_ids_finished_in_a_thread_while_the_feed_is_made_land_with_it(store, tmp_path, rebuild_from):
    from tessera.resolve.changes import changes_since, record_changes

    ingest(store, tmp_path, "UKPOL", [{"id": f"p{k:02d}", "schema": "Person", "properties": {"name": [f"P {k}"]}}
                                      for k in range(20)])
    before = {f"ukpol.p{k:02d}": None for k in range(20)}
    after = {eid: ("c-pair" if eid in ("ukpol.p00", "ukpol.p01") else eid) for eid in before}
    with store.engine.begin() as conn:
        finish = store.stage_canonical_ids(conn, list(after.items()), stage_from=1, rebuild_from=rebuild_from)
        feed = record_changes(conn, before, after, alongside=finish)
    e = tables.entities
    with store.engine.connect() as conn:
        assert dict(conn.execute(select(e.c.id, e.c.canonical_id)).all()) == after
        assert conn.execute(select(e.c.id).where(e.c.canonical_id == "c-pair")).scalars().all() == [
            "ukpol.p00", "ukpol.p01"]
        assert feed["created"] == 19 and len(changes_since(conn)) == 19


def test_work_alongside_the_feed_that_fails_fails_the_whole_transaction(store, tmp_path):
    from tessera.resolve.changes import record_changes
    from tessera.resolve.tables import entity_changes

    ingest(store, tmp_path, "UKPOL", [{"id": "p1", "schema": "Person", "properties": {"name": ["P 1"]}}])

    def broken():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), store.engine.begin() as conn:
        record_changes(conn, {"ukpol.p1": None}, {"ukpol.p1": "c-1"}, alongside=broken)
    with store.engine.connect() as conn:
        assert conn.execute(select(entity_changes.c.id)).first() is None
