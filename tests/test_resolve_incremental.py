"""`tessera resolve --changed`: a new batch is scored against what is already resolved, and nothing else moves."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from intake_helpers import write
from tessera.cli import app
from tessera.intake.pipeline import ingest_file
from tessera.resolve.engine import resolve
from tessera.store import tables


def canon(store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(tables.entities.c.id, tables.entities.c.canonical_id)).all())


def ftm(store, tmp_path, agency, entities):
    stream = write(tmp_path / f"{agency.lower()}.ftm.jsonl", "\n".join(json.dumps(e, ensure_ascii=False)
                                                                      for e in entities) + "\n")
    ingest_file(store, stream, agency, None)


def person(eid, name, dob):
    return {"id": eid, "schema": "Person", "properties": {"name": [name], "birthDate": [dob], "nationality": ["iq"]}}


def test_a_new_batch_joins_existing_people_and_only_its_own_pairs_are_scored(store, tmp_path):
    ftm(store, tmp_path, "UKPOL", [person("a", "Karwan Othman", "1986-12-27"), person("b", "Hevar Ahmed", "1990-05-01"),
                                   person("c", "Dilan Rashid", "1971-02-03")])
    ftm(store, tmp_path, "NCA", [person("a2", "Carwan Uthman", "1986-12-27"), person("b2", "Hevar Ahmad", "1990-05-01")])
    full = resolve(store)
    before = canon(store)
    assert before["ukpol.a"] == before["nca.a2"] and before["ukpol.b"] == before["nca.b2"]
    ftm(store, tmp_path, "BF", [person("x", "Karwan Osman", "1986-12-27"), person("y", "Shirin Kareem", "2001-07-14")])
    runner = CliRunner()
    done = runner.invoke(app, ["resolve", "--changed", "--db", store.url, "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    after = canon(store)
    assert summary["new_entities"] == 2
    assert 0 < summary["pairs_scored"] < full.pairs_scored + 3  # only pairs with a new record
    assert after["bf.x"] == before["ukpol.a"]  # attached to the existing canonical entity, id kept
    assert after["bf.y"] == "bf.y"
    assert {k: v for k, v in after.items() if k in before} == before
    assert summary["feed"]["attached"] == 1


def test_a_new_record_is_checked_against_every_document_of_the_cluster_it_would_join(store, tmp_path):
    """The earlier cluster holds a passport on one member only; a new record with another passport of the same
    kind must not join through the member that holds none."""
    def holder(eid, passport=None):
        return {"id": eid, "schema": "Person", "properties": {
            "name": ["Karwan Othman"], "birthDate": ["1986-12-27"], "nationality": ["iq"],
            **({"passportNumber": [passport]} if passport else {})}}

    ftm(store, tmp_path, "UKPOL", [holder("a", "P1234567"), holder("b")])
    resolve(store)
    assert canon(store)["ukpol.a"] == canon(store)["ukpol.b"]
    ftm(store, tmp_path, "BF", [holder("c", "Q7654321")])
    resolve(store, changed=True)
    ids = canon(store)
    assert ids["bf.c"] != ids["ukpol.a"]
    assert ids["ukpol.a"] == ids["ukpol.b"]
