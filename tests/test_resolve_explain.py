"""`tessera explain`: the levels and weights that joined two records, and the judgement that split two others."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from intake_helpers import write
from tessera.cli import app
from tessera.intake.pipeline import ingest_file
from tessera.resolve.engine import resolve
from tessera.resolve.explain import explain
from tessera.resolve.judgements import add_judgement


def ftm(store, tmp_path, agency, entities):
    stream = write(tmp_path / f"{agency.lower()}.ftm.jsonl", "\n".join(json.dumps(e, ensure_ascii=False)
                                                                      for e in entities) + "\n")
    ingest_file(store, stream, agency, None)


def person(eid, name, dob, **more):
    return {"id": eid, "schema": "Person", "properties": {"name": [name], "birthDate": [dob], "nationality": ["iq"],
                                                          **{k: [v] for k, v in more.items()}}}


def test_explain_shows_the_levels_and_weights_that_joined_two_spellings(store, tmp_path):
    ftm(store, tmp_path, "UKPOL", [person("a", "Karwan Othman", "1986-12-27", phone="+9647712922159")])
    ftm(store, tmp_path, "NCA", [person("b", "Carwan Uthman", "1986-12-27", phone="+9647712922159"),
                                 person("c", "Hevar Ahmed", "1971-02-03")])
    resolve(store)
    joined = explain(store, "ukpol.a", "nca.b")
    assert joined["same_cluster"]
    [pair] = joined["pairs"]
    levels = {c["comparison"]: c["level"] for c in pair["comparisons"]}
    assert levels["name"] == "phonetic" and levels["dob"] == "exact" and levels["phone"] == "shared"
    assert pair["decision"] == "match" and pair["total"] >= pair["threshold"]
    assert abs(pair["prior"] + sum(c["weight"] for c in pair["comparisons"]) + sum(pair["adjustments"].values())
               - pair["total"]) < 0.05
    apart = explain(store, joined["a_canonical"], "nca.c")  # a canonical id stands for its members
    assert not apart["same_cluster"] and apart["a_members"] == ["nca.b", "ukpol.a"]
    assert all(p["decision"] == "refused" for p in apart["pairs"])  # born 15 years apart


def test_explain_command_names_the_judgement_that_keeps_two_records_apart(store, tmp_path):
    ftm(store, tmp_path, "UKPOL", [person("a", "Karwan Othman", "1986-12-27")])
    ftm(store, tmp_path, "NCA", [person("b", "Karwan Othman", "1986-12-27")])
    with store.engine.begin() as conn:
        add_judgement(conn, "not-same", "ukpol.a", "nca.b", "different fathers' names in interviews", "analyst1")
    resolve(store)
    runner = CliRunner()
    done = runner.invoke(app, ["explain", "ukpol.a", "nca.b", "--db", store.url, "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert not result["same_cluster"]
    assert [j["kind"] for j in result["judgements"]] == ["not-same"]
    assert result["pairs"][0]["decision"] == "match"  # the evidence says match; the judgement wins
    text = runner.invoke(app, ["explain", "ukpol.a", "nca.b", "--db", store.url])
    assert "not-same" in text.output and "analyst1" in text.output
    missing = runner.invoke(app, ["explain", "ukpol.a", "nobody", "--db", store.url, "--json"])
    assert missing.exit_code == 4


def test_explain_keeps_its_table_until_a_batch_or_a_run_lands(store, tmp_path, monkeypatch):
    from tessera.resolve import explain as module

    built = []
    build = module._person_table
    monkeypatch.setattr(module, "_person_table", lambda *a: built.append(1) or build(*a))
    ftm(store, tmp_path, "UKPOL", [person("a", "Karwan Othman", "1986-12-27")])
    ftm(store, tmp_path, "NCA", [person("b", "Carwan Uthman", "1986-12-27"), person("c", "Hevar Ahmed", "1971-02-03")])
    resolve(store)
    first = explain(store, "ukpol.a", "nca.b")
    assert explain(store, "ukpol.a", "nca.b") == first and explain(store, "ukpol.a", "nca.c")
    assert len(built) == 1  # three explanations, one read of the Person records
    ftm(store, tmp_path, "BF", [person("d", "Karwan Othman", "1986-12-27")])
    assert explain(store, "ukpol.a", "bf.d")["pairs"][0]["decision"] == "match"  # a new record, read with its batch
    assert len(built) == 2
    resolve(store)
    assert explain(store, "ukpol.a", "bf.d")["same_cluster"] and len(built) == 3
