"""Group context: people intercepted together arrive together, so a spelling that falls short alone joins when
the records' companions were already resolved as the same people; one event's list names each person once."""

from __future__ import annotations

import json

from sqlalchemy import select

from intake_helpers import write
from tessera.intake.pipeline import ingest_file
from tessera.resolve.engine import load_model, resolve
from tessera.resolve.explain import explain
from tessera.store import tables

# Companions recorded by both agencies with full birth dates: they resolve on their own.
COMPANIONS = [("Rebin Aziz", "1991-03-14"), ("Hevar Salih", "1988-07-02"), ("Dilan Karimi", "1995-11-23"),
              ("Arben Hoxha", "1979-05-30")]


def canon(store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(tables.entities.c.id, tables.entities.c.canonical_id)).all())


def person(eid, name, dob=None):
    props = {"name": [name], "nationality": ["af"]}
    if dob:
        props["birthDate"] = [dob]
    return {"id": eid, "schema": "Person", "properties": props}


def event(eid, date, people):
    return {"id": eid, "schema": "Event", "properties": {"name": ["small boat"], "date": [date], "involved": people}}


def ingest(store, tmp_path, agency, entities):
    lines = "\n".join(json.dumps(e, ensure_ascii=False) for e in entities) + "\n"
    ingest_file(store, write(tmp_path / f"{agency.lower()}.ftm.jsonl", lines), agency, None)


def world(store, tmp_path, together: bool, arrived: str = "2024-08-10"):
    """The French police intercept a group; Border Force records an arrival (with the same group or not), by
    default three months later: too long after for the time between sightings alone to join a weak spelling."""
    fr = [person(f"f{k}", name, dob) for k, (name, dob) in enumerate(COMPANIONS)]
    fr.append(person("f-target", "Ahmad Soltani", "1990-01-01"))
    fr.append(event("interception", "2024-05-02", [f"f{k}" for k in range(len(COMPANIONS))] + ["f-target"]))
    bf = [person(f"b{k}", name, dob) for k, (name, dob) in enumerate(COMPANIONS)]
    bf.append(person("b-target", "Ahmed Sultani"))
    aboard = [f"b{k}" for k in range(len(COMPANIONS))] if together else []
    bf.append(event("arrival", arrived, aboard + ["b-target"]))
    ingest(store, tmp_path, "FRPOL", fr)
    ingest(store, tmp_path, "BF", bf)


def test_a_weak_spelling_joins_when_its_companions_crossed_with_it(store, tmp_path):
    world(store, tmp_path, together=True)
    result = resolve(store)
    ids = canon(store)
    for k in range(len(COMPANIONS)):
        assert ids[f"frpol.f{k}"] == ids[f"bf.b{k}"]
    assert ids["frpol.f-target"] == ids["bf.b-target"]
    assert result.context_joins >= 1
    pair = explain(store, "frpol.f-target", "bf.b-target")["pairs"][0]
    assert pair["total"] < pair["threshold"]  # the records alone fall short ...
    assert pair["context"]["shared_companions"] == len(COMPANIONS)  # ... their companions carry them over
    assert pair["context"]["weight"] > 0 and pair["decision"] == "match (group context)"


def test_the_same_spelling_without_shared_companions_stays_apart(store, tmp_path):
    world(store, tmp_path, together=False)
    result = resolve(store)
    ids = canon(store)
    assert ids["frpol.f0"] == ids["bf.b0"]
    assert ids["frpol.f-target"] != ids["bf.b-target"]
    assert result.context_joins == 0


def test_a_weak_spelling_seen_weeks_after_joins_on_its_own(store, tmp_path):
    world(store, tmp_path, together=False, arrived="2024-05-20")
    resolve(store)
    assert canon(store)["frpol.f-target"] == canon(store)["bf.b-target"]
    pair = explain(store, "frpol.f-target", "bf.b-target")["pairs"][0]
    seen = {c["comparison"]: c for c in pair["comparisons"]}["seen"]
    assert seen["level"] == "weeks" and seen["weight"] > 0 and pair["decision"] == "match"


def test_a_weak_spelling_seen_years_after_stays_apart(store, tmp_path):
    world(store, tmp_path, together=False, arrived="2027-05-20")
    resolve(store)
    assert canon(store)["frpol.f-target"] != canon(store)["bf.b-target"]
    assert canon(store)["frpol.f0"] == canon(store)["bf.b0"]  # a full birth date still joins across years
    pair = explain(store, "frpol.f-target", "bf.b-target")["pairs"][0]
    assert {c["comparison"]: c["level"] for c in pair["comparisons"]}["seen"] == "years"


def test_without_the_context_section_the_model_ignores_companions(store, tmp_path):
    world(store, tmp_path, together=True)
    model = load_model()
    model.pop("context")
    resolve(store, model=model)
    assert canon(store)["frpol.f-target"] != canon(store)["bf.b-target"]


def test_two_records_on_one_arrival_list_are_two_people(store, tmp_path):
    namesakes = [person("m1", "Maryam Sadeghi", "2000-01-01"), person("m2", "Maryam Sadeghi", "2000-01-01")]
    ingest(store, tmp_path, "BF", namesakes + [event("arrival", "2024-06-01", ["m1", "m2"])])
    ingest(store, tmp_path, "UKPOL", [person("m1", "Maryam Sadeghi", "2000-01-01")])
    resolve(store)
    ids = canon(store)
    assert ids["bf.m1"] != ids["bf.m2"]
    assert ids["ukpol.m1"] in (ids["bf.m1"], ids["bf.m2"])  # the police record may join one of them, not both


def test_companions_counted_for_many_pairs_at_once_match_those_counted_a_pair_at_a_time(store, tmp_path):
    import itertools

    import numpy as np

    from tessera.resolve.context import GroupContext, event_links, event_members

    world(store, tmp_path, together=True)
    with store.engine.connect() as conn:
        ids = sorted(conn.execute(select(tables.entities.c.id)).scalars())
    index = {eid: k for k, eid in enumerate(ids)}
    group = GroupContext(*event_members(event_links(store), index), 100)
    roots = np.arange(len(ids))
    for k in range(len(COMPANIONS) - 1):  # all but the last companion already resolved across the two agencies
        roots[index[f"bf.b{k}"]] = index[f"frpol.f{k}"]
    pairs = list(itertools.combinations(range(len(ids)), 2))
    one_at_a_time = [group.shared(a, b, lambda x: int(roots[x])) for a, b in pairs]
    at_once = group.shared_many(np.array([a for a, _ in pairs]), np.array([b for _, b in pairs]), roots)
    assert list(at_once) == one_at_a_time
    assert max(one_at_a_time) == len(COMPANIONS) - 1  # the two targets, seen with the same resolved people


def test_when_a_record_was_seen_is_the_span_of_its_events_dates(store, tmp_path):
    import datetime as dt

    import numpy as np

    from tessera.resolve import compare
    from tessera.resolve.context import seen_spans_of
    from tessera.resolve.engine import stored_person_table

    undated = {"id": "e4", "schema": "Event", "properties": {"name": ["undated"], "involved": ["c"]}}
    ingest(store, tmp_path, "FRPOL", [person("a", "Rebin Aziz"), person("b", "Hevar Salih"), person("c", "Dilan Karimi"),
                                      event("e1", "2024-05-02", ["a"]), event("e2", "2024-07-20T06:10:00", ["a", "b"]),
                                      event("e3", "2025-08", ["c"]), undated])
    ingest(store, tmp_path, "BF", [person("d", "Arben Hoxha")])  # seen at no event
    ids = ["bf.d", "frpol.a", "frpol.b", "frpol.c"]
    table = stored_person_table(store, load_model(), ids)

    def day(text):
        return dt.date.fromisoformat(text).toordinal()

    assert table.seen_first.tolist() == [-1, day("2024-05-02"), day("2024-07-20"), day("2025-08-01")]
    assert table.seen_last.tolist() == [-1, day("2024-07-20"), day("2024-07-20"), day("2025-08-01")]
    first, last = seen_spans_of(store, ids)[:2]  # the warm resolver's lookup of a batch's few records
    assert first.tolist() == table.seen_first.tolist() and last.tolist() == table.seen_last.tolist()
    levels = compare.seen_levels(table, np.array([1, 1, 0]), np.array([2, 3, 1]))
    assert [compare.LEVELS["seen"][k] if k >= 0 else None for k in levels.tolist()] == ["weeks", "two_years", None]


def test_a_payment_is_a_sighting_of_its_payer_and_beneficiary_on_its_date(store, tmp_path):
    import datetime as dt

    from tessera.resolve.context import seen_spans_of
    from tessera.resolve.engine import stored_person_table

    payment = {"id": "sar1", "schema": "Payment", "properties": {
        "payer": ["payer"], "beneficiary": ["payee"], "amount": ["2500.00"], "date": ["2025-04-11"]}}
    ingest(store, tmp_path, "UKFIU", [person("payer", "Ahmad Soltani"), person("payee", "Rebin Aziz"), payment])
    ingest(store, tmp_path, "BF", [person("b", "Ahmed Sultani"), event("arrival", "2025-05-02", ["b"])])
    ids = ["bf.b", "ukfiu.payee", "ukfiu.payer"]
    day = dt.date(2025, 4, 11).toordinal()
    table = stored_person_table(store, load_model(), ids)
    assert table.seen_first.tolist()[1:] == [day, day] and table.seen_last.tolist()[1:] == [day, day]
    first = seen_spans_of(store, ids)[0]
    assert first.tolist() == table.seen_first.tolist()
    pair = explain(store, "ukfiu.payer", "bf.b")["pairs"][0]  # paid three weeks before he landed
    assert {c["comparison"]: c["level"] for c in pair["comparisons"]}["seen"] == "weeks"
