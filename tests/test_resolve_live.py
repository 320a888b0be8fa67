"""The warm resolver: a new batch scored against what is resolved, held in memory, as a full run would score it."""

from __future__ import annotations

import json
import random

import pytest

from sqlalchemy import select, update

from intake_helpers import write
from tessera.demo import run_demo
from tessera.intake.pipeline import ingest_file
from tessera.resolve import blocking
from tessera.resolve.engine import load_model, resolve
from tessera.resolve.judgements import add_judgement
from tessera.resolve.live import LiveIndex
from tessera.resolve.tables import entity_changes
from tessera.store import tables


def canon(store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(tables.entities.c.id, tables.entities.c.canonical_id)).all())


def ftm(store, tmp_path, agency, entities, name=None):
    lines = "\n".join(json.dumps(e, ensure_ascii=False) for e in entities) + "\n"
    ingest_file(store, write(tmp_path / (name or f"{agency.lower()}.ftm.jsonl"), lines), agency, None)


def person(eid, name, dob, **more):
    return {"id": eid, "schema": "Person", "properties": {"name": [name], "birthDate": [dob], "nationality": ["iq"],
                                                          **{k: [v] for k, v in more.items()}}}


def test_a_new_record_joins_the_person_it_matches_and_the_next_batch_finds_it(store, tmp_path):
    ftm(store, tmp_path, "UKPOL", [person("a", "Karwan Othman", "1986-12-27"), person("b", "Hevar Ahmed", "1990-05-01")])
    ftm(store, tmp_path, "NCA", [person("a2", "Carwan Uthman", "1986-12-27")])
    resolve(store)
    index = LiveIndex(store)
    first = canon(store)["ukpol.a"]
    ftm(store, tmp_path, "BF", [person("x", "Karwan Osman", "1986-12-27"), person("y", "Shirin Kareem", "2001-07-14")])
    result = index.resolve_new(store)
    ids = canon(store)
    assert result.new_entities == 2 and result.pairs_scored >= 1
    assert ids["bf.x"] == first and ids["ukpol.a"] == first  # the cluster keeps its id
    assert ids["bf.y"] == "bf.y"  # a person seen for the first time stands for itself
    assert result.feed["attached"] == 1 and result.feed["created"] == 1
    with store.engine.connect() as conn:
        kinds = set(conn.execute(select(entity_changes.c.kind).where(entity_changes.c.canonical_id == first)).scalars())
    assert "attached" in kinds
    # the batch is part of the index now: a later record matching only the new one joins it
    ftm(store, tmp_path, "FRPOL", [person("z", "Shirin Karim", "2001-07-14")], name="frpol-2.ftm.jsonl")
    index.resolve_new(store)
    assert canon(store)["frpol.z"] == canon(store)["bf.y"] != "bf.y"


def test_judgements_and_conflicting_documents_hold_for_a_warm_batch(store, tmp_path):
    ftm(store, tmp_path, "UKPOL", [person("a", "Karwan Othman", "1986-12-27", passportNumber="P1234567"),
                                   person("b", "Karwan Othman", "1986-12-27"),
                                   person("h", "Hevar Ahmed", "1990-05-01")])
    resolve(store)
    assert canon(store)["ukpol.a"] == canon(store)["ukpol.b"]
    index = LiveIndex(store)
    ftm(store, tmp_path, "BF", [person("c", "Karwan Othman", "1986-12-27", passportNumber="Q7654321"),
                                person("h2", "Hevar Ahmed", "1990-05-01")])
    with store.engine.begin() as conn:
        add_judgement(conn, "not-same", "ukpol.h", "bf.h2", "different fathers' names in the interviews", "analyst1")
    result = index.resolve_new(store)
    ids = canon(store)
    assert ids["bf.c"] != ids["ukpol.a"]  # another passport of the same kind than the cluster holds
    assert ids["bf.h2"] != ids["ukpol.h"]  # an analyst said no
    assert result.merges_refused >= 1 and result.refused_by_judgement >= 1


@pytest.mark.parametrize("pruned", [False, True], ids=["all-block-pairs", "meta-blocking"])
def test_a_warm_batch_resolves_as_a_changed_run_does(tmp_path, pruned):
    """On a synthetic world, records held back and then resolved warm land in the same clusters as when a
    `--changed` run resolves them (both without group context, which only a full run weighs), whether every
    block pair is compared or only those whose shared blocks weigh enough (as in a large store)."""
    from tessera.store.store import Store

    model = load_model()
    model.pop("context")
    model["blocking"]["prune_from"] = 0 if pruned else 10**12
    outcomes = []
    for mode in ("warm", "changed"):
        store = Store.open(f"sqlite:///{tmp_path / mode}.db")
        run_demo(store, tmp_path / f"world-{mode}", 1500, 8)
        resolve(store, model=model)
        with store.engine.connect() as conn:
            people = sorted(conn.execute(select(tables.entities.c.id).where(tables.entities.c.schema == "Person"))
                            .scalars())
        held = random.Random(5).sample(people, 150)
        with store.engine.begin() as conn:
            conn.execute(update(tables.entities).where(tables.entities.c.id.in_(held)).values(canonical_id=None))
        if mode == "warm":
            result = LiveIndex(store, model).resolve_new(store)
            assert result.new_entities == 150
        else:
            resolve(store, model=model, changed=True)
        ids = canon(store)
        members: dict[str, set[str]] = {}
        for eid, cid in ids.items():
            members.setdefault(cid, set()).add(eid)
        outcomes.append({eid: frozenset(members[ids[eid]]) for eid in held})
    warm, changed = outcomes
    joined = sum(1 for eid in warm if len(changed[eid]) > 1)
    assert joined >= 20  # the held-back records do meet earlier ones
    agree = sum(1 for eid in warm if warm[eid] == changed[eid])
    assert agree >= 0.97 * len(warm)


def test_an_analysts_same_judgement_joins_a_new_record_the_scores_would_not(store, tmp_path):
    ftm(store, tmp_path, "UKPOL", [person("a", "Hevar Ahmed", "1990-05-01")])
    resolve(store)
    index = LiveIndex(store)
    ftm(store, tmp_path, "NCA", [person("b", "Dilan Rashid", "1971-02-03")])
    with store.engine.begin() as conn:
        add_judgement(conn, "same", "ukpol.a", "nca.b", "one man, two identities (fingerprints)", "analyst1")
    result = index.resolve_new(store)
    assert result.judged_same == 1
    assert canon(store)["nca.b"] == canon(store)["ukpol.a"]


def test_a_batch_that_fails_leaves_the_index_and_the_store_as_they_were_and_runs_again(store, tmp_path, monkeypatch):
    import pytest

    from tessera.resolve import changes

    ftm(store, tmp_path, "UKPOL", [person("a", "Karwan Othman", "1986-12-27")])
    resolve(store)
    index = LiveIndex(store)
    held = index.table.n
    ftm(store, tmp_path, "BF", [person("x", "Karwan Osman", "1986-12-27")])

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(changes, "record_changes", broken)
    with pytest.raises(RuntimeError):
        index.resolve_new(store)
    assert index.table.n == held and len(index.table.phones) == held
    assert canon(store)["bf.x"] is None
    monkeypatch.undo()
    result = index.resolve_new(store)
    assert result.new_entities == 1 and canon(store)["bf.x"] == canon(store)["ukpol.a"]


def test_account_links_of_more_new_records_than_a_query_takes_parameters_are_read_in_chunks(store, tmp_path):
    """A first warm batch can hold every record of a store never resolved: 260,000 ids in one IN (...) exceed
    what SQLite (250,000 as Debian builds it, 32,766 by default) and PostgreSQL (65,535) take."""
    from test_resolve_context import ingest
    from tessera.resolve.engine import Entity, attach_accounts

    ingest(store, tmp_path, "UKPOL", [
        {"id": "p1", "schema": "Person", "properties": {"name": ["Karim Ahmadi"]}},
        {"id": "acc1", "schema": "BankAccount", "properties": {"iban": ["GB33BUKB20201555555555"]}},
        {"id": "pay1", "schema": "Payment", "properties": {"payer": ["p1"], "payerAccount": ["acc1"]}}])
    ents = {f"ukpol.x{k:05d}": Entity(f"ukpol.x{k:05d}", "Person", None) for k in range(260_000)}
    ents["ukpol.p1"] = Entity("ukpol.p1", "Person", None)
    with store.engine.connect() as conn:
        attach_accounts(conn, ents, few=True)
    assert ents["ukpol.p1"].accounts == {"GB33BUKB20201555555555"}
    assert not any(e.accounts for eid, e in ents.items() if eid != "ukpol.p1")


def test_warm_candidates_are_every_pair_sharing_a_small_block_with_a_new_record(store, tmp_path):
    """The vectorised gather against a plain loop: indexed and new records sharing a key, the new records'
    own pairs, blocks over max_block skipped, pairs weighed by their shared blocks."""
    from tessera.resolve.live import _slice_from

    ftm(store, tmp_path, "UKPOL", [person(f"u{k}", f"Karwan Othman {k % 3}", f"198{k % 4}-12-27") for k in range(12)])
    resolve(store)
    index = LiveIndex(store)
    ftm(store, tmp_path, "BF", [person(f"x{k}", f"Karwan Othman {k % 2}", f"198{k % 3}-12-27") for k in range(5)])
    new = index.load_new(store)
    n_old = index.table.n
    both, _totals = index.with_batch(new)
    i, j = index.candidates(both, n_old, blocking.key_codes(_slice_from(both, n_old)))
    codes, recs = blocking.key_codes(both)
    by_code: dict[int, list[int]] = {}
    for c, r in zip(codes.tolist(), recs.tolist()):
        by_code.setdefault(c, []).append(r)
    weights: dict[tuple[int, int], float] = {}
    for code, members in by_code.items():
        if len(members) > index.model["blocking"]["max_block"]:
            continue
        w = float(blocking.block_weight(len(members), code < 0))  # identifiers' codes are negative
        for a in members:
            for b in members:
                if a < b and b >= n_old:
                    weights[a, b] = weights.get((a, b), 0.0) + w
    floor = blocking.pair_weight_floor(index.model["blocking"], both.n)
    expected = sorted(p for p, w in weights.items() if w >= floor - 1e-12)
    assert len(expected) > 10 and list(zip(i.tolist(), j.tolist())) == expected
    assert len(_slice_from(both, n_old).tokens) == 5


def _payee(k: int, name: str, iban: str) -> list[dict]:
    return [{"id": f"p{k}", "schema": "Person", "properties": {"name": [name]}},
            {"id": f"acct{k}", "schema": "BankAccount", "properties": {"iban": [iban]}},
            {"id": f"pay{k}", "schema": "Payment", "properties": {"beneficiary": [f"p{k}"],
                                                                 "beneficiaryAccount": [f"acct{k}"]}}]


def test_a_name_counts_the_people_holding_it_not_their_reports_in_a_full_run_and_a_warm_batch(store, tmp_path):
    """Fifty reports of payments into one man's account under his name make him one holder of a rare name, not
    fifty holders of a common one: records under one phonetic name that share an account or a phone count once
    for the name's term frequency, in the full run's table and in the warm resolver's counts alike."""
    from tessera.resolve.spark import person_table

    handler, other = "DE05257628262783335914", "GB29NWBK60161331926819"
    ftm(store, tmp_path, "UKFIU", [e for k in range(4) for e in _payee(k, "Serhat Kaya", handler)]
        + _payee(4, "Serhat Kaya", other) + _payee(5, "Serhat Kaya", ""), name="first.ftm.jsonl")
    table = person_table(store, load_model())
    assert set(table.phon_count.tolist()) == {3}  # the handler, the other account's holder, the one with none
    resolve(store)
    index = LiveIndex(store)
    code = index.table.phon_id[0]
    assert index.names.totals[code] == 3
    ftm(store, tmp_path, "UKFIU", _payee(6, "Serhat Kaya", handler) + _payee(7, "Serhat Kaya", "NL48ABNA6803793775"),
        name="second.ftm.jsonl")
    index.resolve_new(store)
    assert index.names.totals[code] == 4  # a new account's holder counts; one more report into the handler's not
    assert index.names.totals[code] == person_table(store, load_model()).phon_count[0]
