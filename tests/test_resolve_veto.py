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


def test_records_seen_years_apart_lack_support_and_oppose_nothing(store, tmp_path, monkeypatch):
    """A money handler stopped by the police in 2021 and paid in 2024: his police record and a payment into his
    account compare below zero (a common name, years apart), yet years apart say only that little supports a
    match, so his own payment with his birth date joins all three. Weighed as evidence against, they stay apart."""
    from tessera.resolve import compare
    from test_resolve_people import _payments, ftm

    def payment(pid, side, person, account, date):
        return [{"id": f"acct-{pid}", "schema": "BankAccount", "properties": {"iban": [account]}},
                {"id": pid, "schema": "Payment", "properties": {
                    side: [person], f"{side}Account": [f"acct-{pid}"], "amount": ["2500.00"], "date": [date]}}]

    crowd = [(f"n{k}", "Karwan Aziz", f"GB{k % 100:02d}NWBK6016133192{k:04d}") for k in range(200)]
    mine = "DE87395815426488118634"
    ftm(store, tmp_path, "UKFIU", _payments(crowd) + [
        {"id": "payer", "schema": "Person", "properties": {"name": ["Karwan Aziz"], "birthDate": ["1993-09-12"]}},
        {"id": "payee", "schema": "Person", "properties": {"name": ["Karwan Aziz"]}},
        *payment("sent", "payer", "payer", mine, "2024-06-01"),
        *payment("paid", "beneficiary", "payee", mine, "2024-06-10")])
    ftm(store, tmp_path, "UKPOL", [
        {"id": "stop", "schema": "Person", "properties": {"name": ["Karwan Aziz"], "birthDate": ["1993-09-12"]}},
        {"id": "incident", "schema": "Event", "properties": {"date": ["2021-01-15"], "involved": ["stop"]}}])
    weak = explain(store, "ukpol.stop", "ukfiu.payee")["pairs"][0]
    levels = {c["comparison"]: c for c in weak["comparisons"]}
    assert weak["total"] < 0 and levels["seen"]["level"] == "years" and levels["seen"]["weight"] < 0
    match = explain(store, "ukpol.stop", "ukfiu.payer")["pairs"][0]
    assert match["decision"] == "match" and match["total"] + levels["seen"]["weight"] < match["threshold"]
    resolve(store)
    ids = canon(store)
    assert ids["ukpol.stop"] == ids["ukfiu.payer"] == ids["ukfiu.payee"]
    assert ids["ukfiu.n0"] != ids["ukfiu.payee"]
    monkeypatch.setattr(compare, "NOT_AGAINST", ())
    resolve(store)
    ids = canon(store)
    assert ids["ukfiu.payer"] == ids["ukfiu.payee"] and ids["ukpol.stop"] != ids["ukfiu.payee"]
