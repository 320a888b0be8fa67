"""The change feed: a run's created, attached, merged and split canonical entities, read back for alerts."""

from __future__ import annotations

from tessera.resolve.changes import changes_since, compute_changes, record_changes


def test_the_first_run_creates_every_entity_and_marks_no_merge():
    events = compute_changes({"a": None, "b": None, "c": None}, {"a": "c-a", "b": "c-a", "c": "c"})
    assert sorted((e["kind"], e["canonical_id"], e["members"]) for e in events) == [
        ("created", "c", 1, ), ("created", "c-a", 2)]


def test_two_known_people_found_to_be_one_make_a_merge_naming_both_earlier_ids():
    before = {"a": "c-a", "b": "c-a", "x": "c-x", "y": "c-x", "z": "z"}
    after = {"a": "c-a", "b": "c-a", "x": "c-a", "y": "c-a", "z": "z"}
    [event] = compute_changes(before, after)
    assert event["kind"] == "merged" and event["canonical_id"] == "c-a"
    assert event["related"] == ["c-x"] and event["members"] == 4
    assert event["parts"] == {"c-a": ["a", "b", "x", "y"], "c-x": ["x", "y"]}


def test_a_split_names_the_old_id_and_every_part():
    before = {"a": "c-a", "b": "c-a", "c": "c-a"}
    after = {"a": "c-a", "b": "c-a", "c": "c"}
    [event] = compute_changes(before, after)
    assert (event["kind"], event["canonical_id"], event["related"], event["members"]) == ("split", "c-a", ["c", "c-a"], 3)
    assert event["parts"] == {"c-a": ["a", "b", "c"], "c": ["c"]}  # who each id stood for, to decide who may see it


def test_a_new_record_joining_a_known_subject_is_attached_and_unchanged_singletons_say_nothing():
    before = {"a": "c-a", "b": "c-a", "s": "s", "n": None}
    after = {"a": "c-a", "b": "c-a", "s": "s", "n": "c-a"}
    [event] = compute_changes(before, after)
    assert (event["kind"], event["canonical_id"], event["new_members"], event["members"]) == ("attached", "c-a", 1, 3)


def test_recorded_changes_are_read_back_after_the_last_id_seen(store):
    with store.engine.begin() as conn:
        first = record_changes(conn, {"a": None, "b": None}, {"a": "c-a", "b": "c-a"})
    with store.engine.begin() as conn:
        second = record_changes(conn, {"a": "c-a", "b": "c-a", "c": "c"}, {"a": "c-a", "b": "c-a", "c": "c-a"})
    assert first["created"] == 1 and second["merged"] == 1 and second["run_id"] > first["run_id"]
    with store.engine.connect() as conn:
        everything = changes_since(conn, 0)
        assert [e["kind"] for e in everything] == ["created", "merged"]
        later = changes_since(conn, everything[0]["id"])
    assert [(e["kind"], e["canonical_id"], e["related"], e["run_id"]) for e in later] == [
        ("merged", "c-a", ["c"], second["run_id"])]


# ---------------------------------------------------------------- through the engine

def _canon(store) -> dict[str, str | None]:
    from sqlalchemy import select

    from tessera.store import tables

    with store.engine.connect() as conn:
        return dict(conn.execute(select(tables.entities.c.id, tables.entities.c.canonical_id)).all())


def _ingest(store, tmp_path, agency, entities):
    import json

    from intake_helpers import write
    from tessera.intake.pipeline import ingest_file

    stream = write(tmp_path / f"{agency.lower()}.ftm.jsonl", "".join(json.dumps(e, ensure_ascii=False) + "\n"
                                                                    for e in entities))
    ingest_file(store, stream, agency, None)


def _person(pid, name, dob, **props):
    return {"id": pid, "schema": "Person", "properties": {"name": [name], "birthDate": [dob], **props}}


def test_re_resolving_after_a_new_batch_keeps_canonical_ids_and_feeds_the_attachment(store, tmp_path):
    from tessera.resolve.engine import resolve

    _ingest(store, tmp_path, "UKPOL", [
        _person("n1", "Hevar Ahmed", "1990-05-01", passportNumber=["P1234567"]),
        _person("n2", "Hevar AHMED", "1990-05-01", passportNumber=["P1234567"]),
        _person("n3", "Karwan Salih", "1987-02-11", phone=["+447700900123"]),
        _person("n4", "Karwan Saleh", "1987-02-11", phone=["+447700900123"])])
    resolve(store)
    first = _canon(store)
    hevar, karwan = first["ukpol.n1"], first["ukpol.n3"]
    assert hevar == first["ukpol.n2"] != karwan == first["ukpol.n4"]
    # a second agency's batch: one more record of Hevar, and a stranger
    _ingest(store, tmp_path, "BF", [_person("b1", "Hevar Ahmad", "1990-05-01", passportNumber=["P1234567"]),
                                    _person("b2", "Dilan Omar", "1979-08-30")])
    result = resolve(store)  # writes the canonical ids and the change feed in one transaction
    after = _canon(store)
    assert after["ukpol.n1"] == after["ukpol.n2"] == after["bf.b1"] == hevar  # the old id is inherited
    assert after["ukpol.n3"] == karwan
    counts = result.feed
    with store.engine.connect() as conn:
        feed = [c for c in changes_since(conn, 0) if c["run_id"] == counts["run_id"]]
    assert (counts["attached"], counts["created"], counts["merged"], counts["split"]) == (1, 1, 0, 0)
    [attached] = [c for c in feed if c["kind"] == "attached"]
    assert (attached["canonical_id"], attached["new_members"], attached["members"]) == (hevar, 1, 3)
