"""Statements gathered for bulk writing (record layouts, runs of markings) land exactly as row-by-row ones."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import insert, select

from tessera.store import tables
from tessera.store.store import StatementBuffer

SECRET = ("SECRET", "UK EYES ONLY", "UK,US", "2BP")
ODD = ("OFFICIAL-SENSITIVE", "O'Brien's \"caveat\"", None, None)   # quotes must not break constants in SQL


def _records():
    """(marking, record number, statements) with changing layouts, two entities a record, empty warnings."""
    out = []
    for n in range(1, 41):
        person, account = f"p{n}", f"a{n % 7}"
        stmts = [(person, "Person", "name", "name", f"Person {n}", f" Person {n} ", None)]
        if n % 3:
            stmts.append((person, "Person", "phone", "phone", f"+4477009{n:05d}", f"07700 9{n:05d}", None))
        if n % 5 == 0:
            stmts.append((person, "Person", "birthDate", "date", "bad", "bad", "unreadable date\twith a tab"))
        if n % 4 == 0:   # a second entity of the record
            stmts += [(account, "BankAccount", "accountNumber", "identifier", f"ACC\\{n}", f"ACC\\{n}", None)]
        marking = ("OFFICIAL", None, None, None) if n < 15 else SECRET if n < 30 else ODD
        out.append((marking, n, stmts))
    return out


def _expected(batch_id):
    return [(batch_id, *stmt, n, "UKPOL", *marking) for marking, n, stmts in _records() for stmt in stmts]


def _written(store, batch_id):
    s = tables.statements
    columns = [s.c[c] for c in ("batch_id", "entity_id", "schema", "prop", "prop_type", "value", "original",
                                "warning", "record_no", "agency", "classification", "caveat", "release_to",
                                "grading")]
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).where(s.c.batch_id == batch_id).order_by(s.c.id))]


def _batch(conn, name):
    return conn.execute(insert(tables.batches).values(
        agency="UKPOL", file_name=name, file_format="csv", content_sha256=name, mapping_sha256="m",
        received_at=datetime.now(timezone.utc), classification="OFFICIAL").returning(tables.batches.c.id)).scalar_one()


def _write_through_buffer(store, batch_id, monkeypatch=None, max_shapes=None):
    if max_shapes is not None:
        monkeypatch.setattr(StatementBuffer, "MAX_SHAPES", max_shapes)
    buffer = store.statement_buffer()
    for marking, n, stmts in _records():
        buffer.add((batch_id, "UKPOL") + marking, n, stmts)
    assert buffer.count == len(_expected(batch_id))
    return buffer.payload()


def test_buffered_statements_land_in_order_with_every_column(store, monkeypatch):
    with store.engine.begin() as conn:
        plain, shaped, mixed = _batch(conn, "plain"), _batch(conn, "shaped"), _batch(conn, "mixed")
        store.copy_statements(conn, _expected(plain))                                   # row by row, 14 columns
        store.copy_statements(conn, _write_through_buffer(store, shaped))
        store.copy_statements(conn, _write_through_buffer(store, mixed, monkeypatch, max_shapes=2))
    expected = _written(store, plain)
    assert expected == _expected(plain)
    for batch_id in (shaped, mixed):
        assert _written(store, batch_id) == [(batch_id,) + row[1:] for row in expected]


def test_a_payload_of_runs_gives_back_its_rows():
    buffer = StatementBuffer()
    for marking, n, stmts in _records():
        buffer.add((7, "UKPOL") + marking, n, stmts)
    assert list(buffer.payload().rows()) == _expected(7)
