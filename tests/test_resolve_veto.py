"""The cluster guard's pair veto: a chain of good matches must not join two records whose own comparison speaks
against them (a man and a woman of one name, each sharing a phone with a third record that holds both phones),
unless the pair making the merge outweighs that evidence."""

from __future__ import annotations

import copy

from test_resolve_context import canon, ingest
from tessera.resolve.engine import load_model, resolve
from tessera.resolve.explain import explain


def person(eid, gender=None, phones=()):
    props = {"name": ["Karim Haidari"], "nationality": ["af"], "phone": list(phones)}
    if gender:
        props["gender"] = [gender]
    return {"id": eid, "schema": "Person", "properties": props}


def world(store, tmp_path):
    ingest(store, tmp_path, "FRPOL", [person("man", "male", ["+447700900111"])])
    ingest(store, tmp_path, "BF", [person("both-phones", None, ["+447700900111", "+447700900222"])])
    ingest(store, tmp_path, "UKPOL", [person("woman", "female", ["+447700900222"])])


def test_a_chain_does_not_join_two_records_that_compare_badly(store, tmp_path):
    world(store, tmp_path)
    pair = explain(store, "frpol.man", "ukpol.woman")["pairs"][0]
    assert pair["total"] < 0 and pair["decision"] == "no match (evidence against)"
    for a in ("frpol.man", "ukpol.woman"):  # each alone matches the record holding both phones, but not by
        match = explain(store, a, "bf.both-phones")["pairs"][0]  # enough to outweigh the evidence against
        assert match["decision"] == "match" and match["total"] + pair["total"] < match["threshold"]
    resolve(store)
    ids = canon(store)
    assert ids["frpol.man"] != ids["ukpol.woman"]
    assert ids["bf.both-phones"] in (ids["frpol.man"], ids["ukpol.woman"])


def test_without_the_veto_the_chain_joins_all_three(store, tmp_path):
    world(store, tmp_path)
    model = copy.deepcopy(load_model())
    del model["refuse"]["pair_weight"]
    resolve(store, model=model)
    ids = canon(store)
    assert ids["frpol.man"] == ids["ukpol.woman"] == ids["bf.both-phones"]
