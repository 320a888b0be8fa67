"""Analysts' judgements: stored with who and when, audited, withdrawn and restored, refused when they contradict."""

from __future__ import annotations

import json

import access_helpers  # noqa: F401  (cheap argon2 for test users)
import pytest
import typer
from sqlalchemy import update
from typer.testing import CliRunner

from intake_helpers import write
from tessera.access import audit, identity
from tessera.cli_common import EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_USAGE
from tessera.intake.pipeline import ingest_file
from tessera.resolve import judgements as jm
from tessera.resolve.judge_cli import register
from tessera.store import tables

app = typer.Typer()
register(app)
runner = CliRunner()


def person(pid, name, dob, **props):
    return {"id": pid, "schema": "Person", "properties": {"name": [name], "birthDate": [dob], **props}}


@pytest.fixture
def world(store, tmp_path):
    """Five people recorded by two agencies, an analyst at each, and nothing resolved yet."""
    entities = {"NCA": [person("a", "Hevar Ahmed", "1990-05-01"), person("b", "Hevar Ahmad", "1990-05-01"),
                        person("c", "Hiwa Ahmed", "1990-05-01"),
                        {"id": "v", "schema": "Vehicle", "properties": {"registrationNumber": ["AB12CDE"]}}],
                "BF": [person("d", "Karwan Salih", "1987-02-11"), person("e", "Karwan Saleh", "1987-02-11")]}
    for agency, ents in entities.items():
        stream = write(tmp_path / f"{agency}.ftm.jsonl", "".join(json.dumps(e) + "\n" for e in ents))
        ingest_file(store, stream, agency, None)
    with store.engine.begin() as conn:
        identity.add_agency(conn, "NCA", "GB", contact="NCA duty desk")
        identity.add_agency(conn, "BF", "GB")
        identity.add_user(conn, "alice", "NCA", "SECRET", "pw")
        identity.add_user(conn, "bob", "BF", "OFFICIAL-SENSITIVE", "pw")
    return store


def judge(store, kind, a, b=None, reason="seen together at Calais", user="alice", parts=None):
    with store.engine.begin() as conn:
        return jm.add_judgement(conn, kind, a, b, reason, user, "NCA", parts=parts)


def set_canonical(store, mapping):
    e = tables.entities
    with store.engine.begin() as conn:
        for eid, cid in mapping.items():
            conn.execute(update(e).where(e.c.id == eid).values(canonical_id=cid))



def test_a_judgement_keeps_who_when_why_and_is_written_to_the_audit_log(world):
    j = judge(world, "same", "nca.a", "nca.b", reason="same fingerprints")
    assert (j.kind, j.user, j.agency, j.reason, j.a_members, j.b_members) == (
        "same", "alice", "NCA", "same fingerprints", ("nca.a",), ("nca.b",))
    assert j.created_at is not None and j.active
    [entry] = [e for e in audit.show(world) if e.action == "judgement.same"]
    assert entry.user == "alice" and entry.entities == ["nca.a", "nca.b"] and entry.purpose == "same fingerprints"
    assert audit.verify(world).ok


def test_not_same_after_same_is_refused_naming_the_judgement_it_contradicts(world):
    first = judge(world, "same", "nca.a", "nca.b")
    with pytest.raises(jm.JudgementConflict) as caught:
        judge(world, "not-same", "nca.b", "nca.a", user="bob")
    assert caught.value.conflicting == [first.id] and f"#{first.id}" in str(caught.value)
    with world.engine.connect() as conn:
        assert len(jm.load_judgements(conn)) == 1  # nothing written


def test_a_contradiction_through_a_chain_of_same_judgements_names_every_link(world):
    ab = judge(world, "same", "nca.a", "nca.b")
    bc = judge(world, "same", "nca.b", "nca.c")
    with pytest.raises(jm.JudgementConflict) as caught:
        judge(world, "not-same", "nca.a", "nca.c")
    assert sorted(caught.value.conflicting) == [ab.id, bc.id]
    # and the other way round: a same that would close a chain across a not-same
    judge(world, "not-same", "bf.d", "bf.e")
    judge(world, "same", "bf.d", "nca.a")
    with pytest.raises(jm.JudgementConflict) as caught:
        judge(world, "same", "nca.c", "bf.e")
    assert "not the same" in str(caught.value)


def test_withdrawing_is_reversible_and_a_restore_that_now_contradicts_is_refused(world):
    same = judge(world, "same", "nca.a", "nca.b")
    with world.engine.begin() as conn:
        gone = jm.withdraw(conn, same.id, "bob")
    assert not gone.active and gone.deleted_by == "bob"
    assert jm.active_constraints(world).same == []
    with world.engine.begin() as conn:
        back = jm.restore(conn, same.id, "alice")
    assert back.active and jm.active_constraints(world).same == [("nca.a", "nca.b")]
    with world.engine.begin() as conn:
        jm.withdraw(conn, same.id, "alice")
    judge(world, "not-same", "nca.a", "nca.b")
    with pytest.raises(jm.JudgementConflict), world.engine.begin() as conn:
        jm.restore(conn, same.id, "alice")
    actions = [e.action for e in audit.show(world)]
    assert actions.count("judgement.withdraw") == 2 and actions.count("judgement.restore") == 1


def test_a_canonical_id_stands_for_its_members_as_they_were_when_judged(world):
    set_canonical(world, {"nca.a": "c-1", "nca.b": "c-1", "bf.d": "c-2", "bf.e": "c-2"})
    j = judge(world, "not-same", "c-1", "c-2")
    assert (j.a_members, j.b_members) == (("nca.a", "nca.b"), ("bf.d", "bf.e"))
    set_canonical(world, {"nca.a": "c-9", "nca.b": "c-9", "bf.d": "c-9", "bf.e": "c-9"})  # a later bad run
    assert jm.active_constraints(world).not_same == [
        ("bf.d", "nca.a"), ("bf.d", "nca.b"), ("bf.e", "nca.a"), ("bf.e", "nca.b")]


def test_a_split_keeps_the_parts_of_the_entity_as_it_was_apart(world):
    set_canonical(world, {"nca.a": "c-1", "nca.b": "c-1", "nca.c": "c-1"})
    j = judge(world, "split", "c-1", parts=[["nca.a", "nca.b"]])
    assert j.groups == (("nca.a", "nca.b"), ("nca.c",))
    c = jm.active_constraints(world)
    assert c.not_same == [("nca.a", "nca.c"), ("nca.b", "nca.c")] and c.same == []
    with pytest.raises(jm.JudgementConflict):
        judge(world, "same", "nca.c", "nca.b")
    judge(world, "same", "nca.a", "nca.b")  # within one part: allowed
    with pytest.raises(jm.JudgementError):
        judge(world, "split", "nca.d")  # unknown id
    with pytest.raises(jm.JudgementError, match="nothing to split"):
        judge(world, "split", "bf.d")
    with pytest.raises(jm.JudgementError, match="different kinds"):
        judge(world, "same", "nca.a", "nca.v")  # a man is not a van


def test_the_command_line_judges_lists_withdraws_and_refuses_a_contradiction_with_exit_3(world, monkeypatch):
    db = world.engine.url.render_as_string(hide_password=False)
    run = lambda *args: runner.invoke(app, [*args, "--db", db])  # noqa: E731
    made = run("judge", "same", "nca.a", "nca.b", "--reason", "one passport photo", "--as", "alice", "--json")
    assert made.exit_code == 0, made.output
    jid = json.loads(made.stdout)["id"]
    monkeypatch.setenv("TESSERA_USER", "bob")
    refused = run("judge", "not-same", "nca.a", "nca.b", "--reason", "different heights")
    assert refused.exit_code == EXIT_REFUSED and f"#{jid}" in refused.output
    assert run("judge", "same", "nca.a", "nobody", "--reason", "x").exit_code == EXIT_NOT_FOUND
    assert run("judge", "same", "nca.a", "nca.b", "--reason", "x", "--as", "mallory").exit_code == EXIT_NOT_FOUND
    assert run("judge", "withdraw", str(jid), "--json").exit_code == 0
    listed = json.loads(run("judge", "list", "--all", "--json").stdout)
    assert [(j["id"], j["active"], j["deleted_by"]) for j in listed] == [(jid, False, "bob")]
    assert json.loads(run("judge", "list", "--json").stdout) == []
    assert run("judge", "not-same", "nca.a", "nca.b", "--reason", "different heights").exit_code == 0
    assert run("judge", "restore", str(jid)).exit_code == EXIT_REFUSED
    refused = run("judge", "same", "nca.b", "nca.a", "--reason", "x", "--json")
    assert refused.exit_code == EXIT_REFUSED and json.loads(refused.stdout)["conflicting"] == [jid + 1]
    assert run("judge", "withdraw", "999").exit_code == EXIT_NOT_FOUND
    assert run("judge", "split", "nca.a", "--reason", "x").exit_code == EXIT_USAGE


# ---------------------------------------------------------------- through resolution

def _canon(store) -> dict[str, str]:
    from sqlalchemy import select

    with store.engine.connect() as conn:
        return dict(conn.execute(select(tables.entities.c.id, tables.entities.c.canonical_id)).all())


def _same_phone_twins(store, tmp_path):
    """Two records the scores join: one name, one birth date, one phone."""
    ents = [person("t1", "Rebin Aziz", "1993-07-14", phone=["+447700900777"], nationality=["iq"]),
            person("t2", "Rebin AZIZ", "1993-07-14", phone=["+447700900777"], nationality=["iq"])]
    stream = write(tmp_path / "twins.ftm.jsonl", "".join(json.dumps(e) + "\n" for e in ents))
    ingest_file(store, stream, "UKPOL", None)


def test_a_not_same_judgement_beats_a_strong_match_and_survives_every_re_resolution(world, tmp_path):
    from tessera.resolve.engine import resolve

    _same_phone_twins(world, tmp_path)
    resolve(world)
    assert _canon(world)["ukpol.t1"] == _canon(world)["ukpol.t2"]  # the scores alone join them
    j = judge(world, "not-same", "ukpol.t1", "ukpol.t2", reason="twins: different fingerprints")
    for _ in range(2):
        result = resolve(world)
        ids = _canon(world)
        assert ids["ukpol.t1"] != ids["ukpol.t2"]
    assert result.canonical_changed == 0  # the second run found nothing to change
    with world.engine.begin() as conn:
        jm.withdraw(conn, j.id, "alice")
    resolve(world)
    assert _canon(world)["ukpol.t1"] == _canon(world)["ukpol.t2"]  # withdrawn: the scores decide again


def test_a_same_judgement_joins_records_the_scores_keep_apart_and_holds_across_runs(world):
    from tessera.resolve.engine import resolve

    resolve(world)
    ids = _canon(world)
    assert ids["nca.a"] != ids["bf.d"]  # different names and birth dates
    judge(world, "same", "nca.a", "bf.d", reason="same fingerprints on both files")
    for _ in range(2):
        resolve(world)
        ids = _canon(world)
        assert ids["nca.a"] == ids["bf.d"]


def test_a_split_entity_stays_split_and_the_change_feed_says_so(world, tmp_path):
    from tessera.resolve.changes import changes_since
    from tessera.resolve.engine import resolve

    _same_phone_twins(world, tmp_path)
    resolve(world)
    cid = _canon(world)["ukpol.t1"]
    assert cid.startswith("c-") and _canon(world)["ukpol.t2"] == cid
    with world.engine.connect() as conn:
        last = max([c["id"] for c in changes_since(conn, 0)], default=0)
    judge(world, "split", cid, reason="two brothers sharing a phone")
    result = resolve(world)
    resolve(world)
    ids = _canon(world)
    assert ids["ukpol.t1"] != ids["ukpol.t2"]
    with world.engine.connect() as conn:
        feed = changes_since(conn, last)
    [split] = [c for c in feed if c["kind"] == "split"]
    assert split["canonical_id"] == cid and set(split["related"]) == {ids["ukpol.t1"], ids["ukpol.t2"]}
    assert result.canonical_changed >= 1


# ---------------------------------------------------------------- conflict detection as a property

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

RECORDS = [f"r{i}" for i in range(6)]


def _consistent(accepted: list[jm.Judgement]) -> bool:
    """No cannot-link falls inside a group that must-links tie together (checked by brute force)."""
    group = {r: {r} for r in RECORDS}
    for j in accepted:
        for x, y in j.same_pairs():
            merged = group[x] | group[y]
            for r in merged:
                group[r] = merged
    return all(y not in group[x] for j in accepted for x, y in j.not_same_pairs())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["same", "not-same"]), st.sampled_from(RECORDS), st.sampled_from(RECORDS))
                .filter(lambda t: t[1] != t[2]), max_size=12))
def test_whatever_analysts_say_the_accepted_judgements_never_contradict_and_every_refusal_would(sequence):
    from datetime import datetime, timezone

    accepted: list[jm.Judgement] = []
    for n, (kind, a, b) in enumerate(sequence, start=1):
        candidate = jm.Judgement(n, kind, a, b, (a,), (b,), (), "r", "alice", "NCA", datetime.now(timezone.utc))
        conflict = jm.find_conflict(accepted, candidate)
        if conflict is None:
            accepted.append(candidate)
            assert _consistent(accepted)
        else:
            assert not _consistent(accepted + [candidate])
            assert conflict[1] and set(conflict[1]) <= {j.id for j in accepted}  # names only earlier judgements
