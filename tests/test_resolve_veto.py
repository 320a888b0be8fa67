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


def test_a_chain_joins_two_records_that_merely_lack_evidence_for_a_match(store, tmp_path):
    """A money handler paid into two accounts under spellings of a common name: the reports on one account and
    on the other compare below zero (a common name, nothing else), but nothing in them speaks against a match,
    so the report naming both accounts joins them all."""
    from test_resolve_people import _payments, ftm

    crowd = [(f"n{k}", "Serhat Kaya", f"GB{k:02d}NWBK6016133192{k:04d}") for k in range(40)]
    x, y = "DE87395815426488118634", "BE20220033224556"
    ftm(store, tmp_path, "UKFIU", _payments(crowd + [("a", "Serhat Kayah", x), ("both", "Serhat Kaya", x),
                                                      ("both", "Serhat Kaya", y), ("c", "Serhad Kaya", y)]))
    pair = explain(store, "ukfiu.a", "ukfiu.c")["pairs"][0]
    assert pair["total"] < 0 and all(c["weight"] >= 0 for c in pair["comparisons"])  # weak, not against
    match = explain(store, "ukfiu.c", "ukfiu.both")["pairs"][0]
    assert match["decision"] == "match" and match["total"] + pair["total"] < match["threshold"]
    resolve(store)
    ids = canon(store)
    assert ids["ukfiu.a"] == ids["ukfiu.both"] == ids["ukfiu.c"]
    assert ids["ukfiu.n0"] != ids["ukfiu.a"]
