"""Blocking: which record pairs are compared at all -- narrower keys still pair namesakes when a common name's
own block is too large to keep, and an address's house number and street pair a clerk's misspelt copy."""

from __future__ import annotations

import numpy as np

from test_resolve_context import ingest
from tessera.resolve import blocking, compare
from tessera.resolve.engine import load_model
from tessera.resolve.spark import person_table


def person(eid, name, dob=None, address=None):
    props = {"name": [name]}
    if dob:
        props["birthDate"] = [dob]
    if address:
        props["address"] = [address]
    return {"id": eid, "schema": "Person", "properties": props}


def pairs_of(store, max_block: int) -> set[tuple[str, str]]:
    table = person_table(store, load_model())
    i, j, _ = blocking.candidate_pairs(table, max_block)
    return {tuple(sorted((table.ids[a], table.ids[b]))) for a, b in zip(i.tolist(), j.tolist())}


def test_namesakes_born_a_year_apart_meet_when_the_name_blocks_are_too_large(store, tmp_path):
    others = ["Ahmadi", "Sultani", "Noori", "Rahimi", "Jafari", "Azizi"]
    crowd = [person(f"k{k}", f"Karim {other}", "1991-03-0{}".format(k + 1)) for k, other in enumerate(others)]
    crowd += [person(f"h{k}", f"{other} Haidari", "1990-06-0{}".format(k + 1))
              for k, other in enumerate(["Omid", "Farid", "Nabil", "Samir", "Walid", "Jamal"])]
    crowd += [person(f"m{k}", "Karim Haidari", f"{1950 + 3 * k}-05-0{k + 1}") for k in range(6)]
    ingest(store, tmp_path, "UKPOL", crowd + [person("a", "Karim Haidari", "1990-02-11")])
    ingest(store, tmp_path, "BF", [person("b", "Karim Haidari", "1991-08-20")])
    # every block the two share -- each token with the year, the token pair, the whole name -- holds more than 5
    pairs = pairs_of(store, max_block=5)
    assert ("bf.b", "ukpol.a") in pairs  # the whole name with the birth year (and the year after) still meets
    assert ("bf.b", "ukpol.m0") not in pairs  # born 1950: no narrower key pairs them


def test_a_misspelt_address_pairs_by_house_number_and_street(store, tmp_path):
    ingest(store, tmp_path, "UKPOL", [person("a", "Leah Eisele", address="16 Howie Court Dunkeld 2505")])
    ingest(store, tmp_path, "BF", [person("b", "Koula Eiseaqe", address="16 Howie Co urt Dunkeld 2505")])
    assert ("bf.b", "ukpol.a") in pairs_of(store, max_block=400)


def test_at_meta_blocking_a_shared_account_pairs_its_holders_however_many_reports_name_it(store, tmp_path):
    """Fifty reports of payments into a money handler's account under spellings of his name: the account's block
    weighs what a pair's own block does, so meta-blocking keeps its pairs, which name blocks that size would not."""
    reports = []
    for k, name in enumerate(["Serhat Kaya", "Serhad Kayah", "Serhat Kaaya", "Serhad Kaya"] * 5):
        reports += [{"id": f"p{k}", "schema": "Person", "properties": {"name": [name]}},
                    {"id": f"a{k}", "schema": "BankAccount", "properties": {"iban": ["BE87662663317994"]}},
                    {"id": f"pay{k}", "schema": "Payment", "properties": {"beneficiary": [f"p{k}"],
                                                                         "beneficiaryAccount": [f"a{k}"]}}]
    ingest(store, tmp_path, "UKFIU", reports)
    table = person_table(store, load_model())
    floor = 0.45  # the model's min_pair_weight: a block of more than three records alone falls below it
    assert blocking.block_weight(20) < floor <= blocking.block_weight(20, identifier=True)
    i, j, _ = blocking.candidate_pairs(table, 400, floor)
    assert len(i) == 20 * 19 // 2  # every two reports


def test_the_pair_plan_gives_every_block_pair_once_in_record_ranges(tmp_path):
    from collections import defaultdict

    from tessera.demo import run_demo
    from tessera.store.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'tessera.db'}")
    run_demo(store, tmp_path / "world", 120, 3)
    table = person_table(store, load_model())
    blocks = defaultdict(set)
    for key, r in blocking.block_keys(table):
        blocks[key].add(r)
    expected = {(a, b) for members in blocks.values() if len(members) <= 3
                for a in members for b in members if a < b}
    plan = blocking.pair_plan(table, 3)
    assert plan.skipped == sum(len(m) > 3 for m in blocks.values()) > 0
    chunks = list(plan.chunks(budget=50))
    got = [(a, b) for i, j in chunks for a, b in zip(i.tolist(), j.tolist())]
    assert len(chunks) > 3 and len(got) == len(set(got)) and set(got) == expected
    lows = [set(i.tolist()) for i, _ in chunks]
    assert all(max(x) < min(y) for x, y in zip(lows, lows[1:]))  # a record's pairs all come in one range
    weight = defaultdict(float)  # meta-blocking: a pair's shared blocks' weights summed
    for key, members in blocks.items():
        if len(members) <= 3:
            w = float(blocking.block_weight(len(members), key[0] in blocking.IDENTIFIER_KEYS))
            for a in members:
                for b in members:
                    weight[a, b] += w if a < b else 0.0
    among = np.arange(table.n) % 3 == 0  # only pairs whose lower record is one of these
    assert {(a, b) for i, j in plan.chunks(50, among) for a, b in zip(i.tolist(), j.tolist())} == \
        {(a, b) for a, b in expected if among[a]}
    strong = {pair for pair, w in weight.items() if w >= 0.8}
    pruned = blocking.pair_plan(table, 3, 0.8)
    got = [(a, b) for i, j in pruned.chunks(budget=50) for a, b in zip(i.tolist(), j.tolist())]
    assert len(got) == len(set(got)) and set(got) == strong and 0 < len(strong) < len(expected)


def test_key_rows_are_sorted_once_each_even_when_two_keys_differ_only_in_their_low_bits():
    def rows(keys, recs):
        k, r = blocking._key_rows(np.array(keys, dtype=np.int64), np.array(recs, dtype=np.int64))
        return list(zip(k.tolist(), r.tolist()))

    # records up to 6 take the low 3 bits: keys 40 and 41 differ only there, so they must not be packed together
    got = rows([41, 40, 41, 40, -8, 41], [6, 2, 1, 2, 3, 6])
    assert [r for _k, r in got] == [3, 2, 1, 6] and len({k for k, _r in got}) == 3
    packed = rows([64, 16, 64, 16, -64], [6, 2, 1, 2, 3])  # no such keys: the one-sort way, same order
    assert [r for _k, r in packed] == [3, 2, 1, 6] and len({k for k, _r in packed}) == 3


def test_key_codes_group_records_as_the_blocking_keys_do(store, tmp_path):
    from collections import defaultdict

    from tessera.demo import run_demo

    run_demo(store, tmp_path / "world", 300, 5)
    a = person("a", "Leah Eisele", "1980-01-01", "16 Howie Court Dunkeld 2505")
    a["properties"]["passportNumber"] = ["P1234567"]
    ingest(store, tmp_path, "UKPOL", [a, person("b", "Leah Eisele", "1981-07-09", "16 Howie Co urt Dunkeld 2505"),
                                      person("c", "Xu", None, "Flat 2 The Mews")])
    table = person_table(store, load_model())
    days = 738_000 + np.arange(table.n) * 7  # seen a week apart, one record in three never
    table.seen_first = np.where(np.arange(table.n) % 3 == 0, -1, days).astype(np.int32)
    by_key, by_code = defaultdict(list), defaultdict(list)  # a record's every row (the warm resolver counts rows)
    for key, r in blocking.block_keys(table):
        by_key[key].append(r)
    codes, recs = blocking.key_codes(table)
    for code, r in zip(codes.tolist(), recs.tolist()):
        by_code[code].append(r)
    tags = {"d", "doc", "street", "s", "p", "n", "ph", "account", "address", "nw", "dw"}
    kinds = {key[0] if key[0] in tags else f"{len(key)}-{type(key[-1]).__name__}" for key in by_key}
    assert kinds == tags | {"2-int", "2-str", "3-int"}  # every kind of key is there to be checked
    assert sorted(map(sorted, by_code.values())) == sorted(map(sorted, by_key.values()))


def test_name_row_counts_of_some_records_are_their_rows_in_the_table(store, tmp_path):
    a = person("a", "Leah Eisele")
    a["properties"]["name"].append("Lea Eiselé")
    ingest(store, tmp_path, "UKPOL", [a, person("b", "Xu"), {"id": "c", "schema": "Person", "properties": {}}])
    table = person_table(store, load_model())
    every = np.bincount(table.name_rec, minlength=table.n)
    assert every.max() == 2 and every.min() == 1  # a record of two names, and one with none keeps an empty row
    some = np.array([table.n - 1, 0, table.n - 1, 1])  # the last record as well: its rows end the table
    assert compare.name_row_counts(table, some).tolist() == every[some].tolist()


def test_a_birth_date_and_the_weeks_seen_pair_two_records_when_every_name_block_is_too_large(store, tmp_path):
    crowd = [person(f"k{k}", f"Karim {other}", "1990-02-11")
             for k, other in enumerate(["Hamidi", "Hakimi", "Hashimi", "Habibi", "Hosseini", "Husseini"])]
    ingest(store, tmp_path, "UKPOL", crowd + [person("a", "Karim Haidari", "1990-02-11")])
    ingest(store, tmp_path, "BF", [person("b", "Karim Hadi", "1990-02-11")])  # a surname shortened
    table = person_table(store, load_model())
    at = {eid: r for r, eid in enumerate(table.ids)}

    def paired() -> bool:
        i, j, _ = blocking.candidate_pairs(table, 5)
        return (min(at["bf.b"], at["ukpol.a"]), max(at["bf.b"], at["ukpol.a"])) in set(zip(i.tolist(), j.tolist()))

    assert not paired()  # born the same day, but that day's and the names' blocks all hold more than 5
    table.seen_first = np.full(table.n, -1, dtype=np.int32)
    table.seen_first[at["ukpol.a"]], table.seen_first[at["bf.b"]] = 738_000, 738_030  # a month apart
    assert paired()
    table.seen_first[at["bf.b"]] = 738_400  # a year apart: no period in common
    assert not paired()


def test_evidence_without_an_agreeing_name_weakens_as_the_population_grows():
    model = load_model()
    set_at = model["population"]["records"]
    names = compare.LEVELS["name"]
    name = np.array([names.index("exact"), names.index("different"), compare.MISSING, names.index("different")])
    records = np.array([8 * set_at, 8 * set_at, 8 * set_at, set_at // 10])
    adjustment = compare.population_adjustment({"name": name, "records": records}, model)
    weight = model["population"]["weight"]
    # the common-name TF already weighs an agreeing name by its holders; a larger store never earns a bonus
    assert adjustment.tolist() == [0.0, -3 * weight, -3 * weight, 0.0]
    estimated = dict(model, m={}, u={}, **{"lambda": 0.001})  # EM's match share is already the store's own
    assert not compare.population_adjustment({"name": name, "records": records}, estimated).any()
