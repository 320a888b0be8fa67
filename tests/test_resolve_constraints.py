"""Analysts' judgements bind the resolver: a not-same pair never shares a cluster, a same pair always does."""

from __future__ import annotations

import json

from sqlalchemy import select

from intake_helpers import write
from tessera.intake.pipeline import ingest_file
from tessera.resolve.engine import resolve
from tessera.resolve.judgements import add_judgement, withdraw
from tessera.resolve.tables import entity_changes
from tessera.store import tables


def canon(store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(tables.entities.c.id, tables.entities.c.canonical_id)).all())


def ftm(store, tmp_path, agency, entities):
    stream = write(tmp_path / f"{agency.lower()}.ftm.jsonl", "\n".join(json.dumps(e, ensure_ascii=False)
                                                                      for e in entities) + "\n")
    ingest_file(store, stream, agency, None)


def person(eid, name, dob, **more):
    return {"id": eid, "schema": "Person", "properties": {"name": [name], "birthDate": [dob], "nationality": ["iq"],
                                                          **{k: [v] for k, v in more.items()}}}


def judge(store, kind, a, b, reason="checked the interview notes"):
    with store.engine.begin() as conn:
        return add_judgement(conn, kind, a, b, reason, "analyst1")


def test_a_not_same_judgement_keeps_two_matching_records_apart_and_withdrawing_it_rejoins_them(store, tmp_path):
    ftm(store, tmp_path, "UKPOL", [person("a", "Karwan Othman", "1986-12-27")])
    ftm(store, tmp_path, "NCA", [person("b", "Carwan Uthman", "1986-12-27")])
    resolve(store)
    assert canon(store)["ukpol.a"] == canon(store)["nca.b"]
    j = judge(store, "not-same", "ukpol.a", "nca.b")
    result = resolve(store)
    ids = canon(store)
    assert ids["ukpol.a"] != ids["nca.b"]
    assert result.refused_by_judgement >= 1
    with store.engine.begin() as conn:
        withdraw(conn, j.id, "analyst1")
    resolve(store)
    assert canon(store)["ukpol.a"] == canon(store)["nca.b"]


def test_a_not_same_judgement_also_blocks_a_chain_through_a_third_record(store, tmp_path):
    ftm(store, tmp_path, "UKPOL", [person("a", "Karwan Othman", "1986-12-27")])
    ftm(store, tmp_path, "NCA", [person("b", "Carwan Uthman", "1986-12-27")])
    ftm(store, tmp_path, "BF", [person("c", "Karwan Othman", "1986-12-27")])
    judge(store, "not-same", "ukpol.a", "nca.b")
    resolve(store)
    ids = canon(store)
    assert ids["ukpol.a"] != ids["nca.b"]
    assert ids["bf.c"] in (ids["ukpol.a"], ids["nca.b"])


def test_a_same_judgement_joins_records_the_evidence_would_keep_apart_and_the_feed_records_it(store, tmp_path):
    ftm(store, tmp_path, "UKPOL", [person("a", "Hevar Ahmed", "1990-05-01")])
    ftm(store, tmp_path, "NCA", [person("b", "Dilan Rashid", "1971-02-03")])
    resolve(store)
    assert canon(store)["ukpol.a"] != canon(store)["nca.b"]
    judge(store, "same", "ukpol.a", "nca.b")
    result = resolve(store)
    ids = canon(store)
    assert ids["ukpol.a"] == ids["nca.b"]
    assert result.judged_same == 1 and result.feed["merged"] == 1
    with store.engine.connect() as conn:
        kinds = [k for (k,) in conn.execute(select(entity_changes.c.kind).where(
            entity_changes.c.canonical_id == ids["nca.b"]))]
    assert "merged" in kinds


def test_a_shared_passport_number_joins_two_spellings_the_names_alone_would_not(store, tmp_path):
    ftm(store, tmp_path, "UKPOL", [person("a", "Hevar Ahmed", "1990-05-01", passportNumber="P1234567")])
    ftm(store, tmp_path, "BF", [person("b", "Havar Ahmadi", "1991-01-01", passportNumber="P1234567"),
                                person("c", "Havar Ahmadi", "1991-01-01")])
    resolve(store)
    ids = canon(store)
    assert ids["ukpol.a"] == ids["bf.b"]
