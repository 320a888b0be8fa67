"""The Person table read a record at a time from statements in id order equals the one built from loaded
entities, on SQLite and on PostgreSQL (whose default collation orders ids otherwise than Python does)."""

from __future__ import annotations

from test_resolve_context import ingest
from tessera.resolve import compare
from tessera.resolve.engine import (PERSON_DOCS, in_id_order, load_entities, load_model, name_keys, person_table,
                                    stream_people)
from tessera.store import tables


def test_streamed_people_match_the_loaded_ones_whatever_the_collation(store, tmp_path):
    # ids that byte order and a linguistic collation (en_US) order differently: case, "_" and "-"
    ids = ["alpha", "Alpha", "al_pha", "al-pha", "ALPHA2", "Zed", "zed", "a.b", "a_b", "aB"]
    people = [{"id": eid, "schema": "Person",
               "properties": {"name": [f"Person {k} Example"], "birthDate": [f"19{50 + k}-01-0{1 + k % 9}"],
                              "phone": [f"+4477009000{k:02d}"]}} for k, eid in enumerate(ids)]
    ingest(store, tmp_path, "UKPOL", people)
    ingest(store, tmp_path, "BF", [{"id": "Alpha", "schema": "Person", "properties": {"name": ["Alfa Other"]}}])
    model = load_model()
    order, records = stream_people(store)
    streamed = compare.build_table(order, records, name_keys(model), PERSON_DOCS)
    ents = load_entities(store, {"Person"})
    loaded = person_table(ents, sorted(e for e in ents if ents[e].schema == "Person"), model)
    assert streamed.ids == loaded.ids == sorted(loaded.ids) and len(streamed.ids) == 11
    assert list(streamed.name_norm) == list(loaded.name_norm)
    assert streamed.phones == loaded.phones and list(streamed.year) == list(loaded.year)
    assert sum(bool(p) for p in streamed.phones) == 10  # every record's own values, none dropped or misplaced


def test_ids_are_ordered_bytewise_on_postgresql_whatever_the_database_collation(store):
    from sqlalchemy import select

    column = tables.entities.c.id
    sql = str(select(column).order_by(in_id_order(store, column)).compile(store.engine))
    assert ('COLLATE "C"' in sql) == (store.dialect == "postgresql")
