"""Bulk reads through the driver's cursor (stream_tuples) give the rows SQLAlchemy gives, in order, on both
backends, with expanded IN lists and in batches smaller than the result."""

from __future__ import annotations

from sqlalchemy import select

from tessera.resolve.engine import in_id_order
from tessera.store import tables
from tessera.store.store import stream_tuples
from test_resolve_context import ingest


def test_streamed_rows_equal_the_executed_ones(store, tmp_path):
    ingest(store, tmp_path, "UKPOL", [{"id": f"p{k:02d}", "schema": "Person",
                                       "properties": {"name": [f"Person {k}"], "nationality": ["gb", "fr"]}}
                                      for k in range(25)])
    s = tables.statements
    query = select(s.c.entity_id, s.c.prop, s.c.value).where(
        s.c.schema == "Person", s.c.prop.in_(["name", "nationality"])).order_by(
        in_id_order(store, s.c.entity_id, sort=True), s.c.prop, s.c.value)
    with store.engine.connect() as conn:
        expected = [tuple(row) for row in conn.execute(query)]
        got = list(stream_tuples(conn, query, size=7))
        none = list(stream_tuples(conn, query.where(s.c.value == "nobody"), size=7))
    assert got == expected and len(got) == 75 and none == []
    assert [eid for eid, _p, _v in got] == sorted(eid for eid, _p, _v in got)
