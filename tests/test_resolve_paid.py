"""Paid together: a money handler's reports under two accounts join when people who paid the one and people who
paid the other crossed on one boat, or when a third party paid or was paid by both; a namesake stays apart."""

from __future__ import annotations

from test_resolve_context import canon, event, ingest, person
from tessera.resolve.engine import load_model, resolve
from tessera.resolve.explain import explain

HANDLER = ("Serhat Kaya", "Serhad Kayah")  # the handler's two spellings (his namesake's: the second)


def payment(eid, payer, payee, date, into=None):
    props = {"payer": [payer], "beneficiary": [payee], "amount": ["2500.00"], "currency": ["GBP"], "date": [date]}
    if into:
        props["beneficiaryAccount"] = [into]
    return {"id": eid, "schema": "Payment", "properties": props}


def payee(eid, name):
    return {"id": eid, "schema": "Person", "properties": {"name": [name]}}


def world(store, tmp_path, *, crossed_together: bool = False, paid_organiser: bool = False):
    """Two migrants pay a handler, one into each of his accounts; Border Force records their arrival (on one boat
    or two). A third migrant pays a namesake of the handler in another network."""
    fiu = [{"id": acc, "schema": "BankAccount", "properties": {"iban": [iban]}} for acc, iban in
           (("acc-a", "GB33BUKB20201555555555"), ("acc-b", "GB94BARC10201530093459"),
            ("acc-c", "GB47LOYD30963812345678"))]
    fiu += [payee("h1", HANDLER[0]), payee("h2", HANDLER[1]), payee("n1", HANDLER[1])]
    fiu += [person("m1", "Rebin Aziz", "1991-03-14"), person("m2", "Hevar Salih", "1988-07-02"),
            person("m3", "Dilan Karimi", "1995-11-23")]
    fiu += [payment("p1", "m1", "h1", "2024-04-02", "acc-a"), payment("p2", "m2", "h2", "2024-04-05", "acc-b"),
            payment("p3", "m3", "n1", "2024-04-07", "acc-c")]
    if paid_organiser:
        fiu += [person("o1", "Welat Yildiz", "1980-08-28"), person("o2", "Welat Yildiz", "1980-08-28"),
                payment("p4", "h1", "o1", "2024-06-01"), payment("p5", "h2", "o2", "2024-07-01")]
    bf = [person("b1", "Rebin Aziz", "1991-03-14"), person("b2", "Hevar Salih", "1988-07-02"),
          person("b3", "Dilan Karimi", "1995-11-23")]
    if crossed_together:
        bf.append(event("boat-1", "2024-05-10", ["b1", "b2"]))
    else:
        bf += [event("boat-1", "2024-05-10", ["b1"]), event("boat-2", "2024-08-22", ["b2"])]
    bf.append(event("boat-3", "2024-05-10", ["b3"]))
    ingest(store, tmp_path, "UKFIU", fiu)
    ingest(store, tmp_path, "BF", bf)


def test_a_handlers_two_accounts_join_when_their_payers_crossed_together(store, tmp_path):
    world(store, tmp_path, crossed_together=True)
    result = resolve(store)
    ids = canon(store)
    assert ids["ukfiu.m1"] == ids["bf.b1"] and ids["ukfiu.m2"] == ids["bf.b2"]
    assert ids["ukfiu.h1"] == ids["ukfiu.h2"]
    assert ids["ukfiu.n1"] != ids["ukfiu.h2"]  # the namesake's payer crossed with neither
    assert result.context_joins >= 1
    pair = explain(store, "ukfiu.h1", "ukfiu.h2")["pairs"][0]
    context = load_model()["context"]
    assert pair["total"] < pair["threshold"] - context["weight"]  # the names fall short, even with companions ...
    assert pair["context"]["weight"] == context["payments"]
    assert pair["context"]["paid_together"] and pair["decision"] == "match (group context)"  # ... the money does not


def test_a_handlers_two_accounts_join_when_both_paid_one_organiser(store, tmp_path):
    world(store, tmp_path, paid_organiser=True)
    resolve(store)
    ids = canon(store)
    assert ids["ukfiu.o1"] == ids["ukfiu.o2"]
    assert ids["ukfiu.h1"] == ids["ukfiu.h2"]
    assert ids["ukfiu.n1"] != ids["ukfiu.h2"]


def test_without_such_ties_the_accounts_stay_apart(store, tmp_path):
    world(store, tmp_path)
    result = resolve(store)
    ids = canon(store)
    assert ids["ukfiu.h1"] != ids["ukfiu.h2"] and ids["ukfiu.h2"] != ids["ukfiu.n1"]
    assert result.context_joins == 0
    assert not explain(store, "ukfiu.h1", "ukfiu.h2")["pairs"][0]["context"]["paid_together"]


def test_without_the_payments_setting_the_model_ignores_them(store, tmp_path):
    world(store, tmp_path, crossed_together=True)
    model = load_model()
    model["context"]["payments"] = False
    resolve(store, model=model)
    assert canon(store)["ukfiu.h1"] != canon(store)["ukfiu.h2"]
