"""The statements' lookups by value and by entity use their indexes on both backends."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from tessera.intake.pipeline import ingest_file
from tessera.store import tables

from intake_helpers import HEADER_LINE, mapping_file, write

LOOKUPS = {
    "a link naming entities (resolution, exports)": "SELECT entity_id FROM statements "
                                                    "WHERE prop_type = 'entity' AND value IN ('a.b', 'c.d')",
    "holders of a phone (graph)": "SELECT id FROM statements WHERE schema IN ('Person', 'Company') "
                                  "AND prop_type IN ('phone', 'identifier') AND value IN ('+447700900001')",
    "an entity or what links to it (search)": "SELECT id FROM statements WHERE entity_id = 'a.b' "
                                              "OR (prop_type = 'entity' AND value = 'a.b')",
}


# an index searched by value (PostgreSQL's EXPLAIN, SQLite's EXPLAIN QUERY PLAN), not read whole and filtered
BY_VALUE = re.compile(r"Index Cond: \(+value |USING (COVERING )?INDEX ix_statements_value \(value")


def _plan(conn, sql: str, **params) -> str:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")   # a small table would be read whole anyway
        return "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql), params))
    return "\n".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql), params))


@pytest.mark.parametrize("lookup", list(LOOKUPS))
def test_lookups_by_value_use_the_value_index(store, tmp_path, lookup):
    rows = "".join(f"N{i},Person {i},01/01/1990,07700 9{i:05d},Iraq,\n" for i in range(200))
    ingest_file(store, write(tmp_path / "n.csv", HEADER_LINE + rows), "UKPOL", mapping_file(tmp_path))
    with store.engine.begin() as conn:
        plan = _plan(conn, LOOKUPS[lookup])
    assert BY_VALUE.search(plan), plan


def test_a_prefix_of_a_value_is_found_through_the_index_on_postgresql(store, tmp_path):
    if store.dialect != "postgresql":
        pytest.skip("SQLite's LIKE is case-insensitive and does not use an index by default")
    rows = "".join(f"N{i},Person {i},01/01/1990,07700 9{i:05d},Iraq,\n" for i in range(200))
    ingest_file(store, write(tmp_path / "n.csv", HEADER_LINE + rows), "UKPOL", mapping_file(tmp_path))
    s = tables.statements
    with store.engine.begin() as conn:
        plan = _plan(conn, "SELECT value FROM statements WHERE value LIKE :prefix", prefix="+4477009001%")
        found = conn.execute(select(s.c.value).where(s.c.value.like("+4477009001%")).order_by(s.c.value)).scalars().all()
    assert BY_VALUE.search(plan), plan     # byte order (COLLATE "C") lets LIKE 'prefix%' use a b-tree
    assert found == [f"+4477009001{i:02d}" for i in range(100)]
