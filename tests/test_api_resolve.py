"""Judgements and the change feed over HTTP: made, listed, withdrawn, and never showing what the caller may not see."""

from __future__ import annotations

import json
import threading

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api_helpers import bearer, build_world
from tessera.access import audit, identity
from tessera.api import routes_resolve
from tessera.api.app import create_app
from tessera.intake.pipeline import ingest_file
from tessera.resolve.changes import record_changes
from tessera.store import tables


@pytest.fixture
def world(store, tmp_path):
    return build_world(store, tmp_path)


@pytest.fixture
def client(world):
    return TestClient(create_app(store=world.store))


@pytest.fixture
def ids(world):
    """Source entity id by the name its agency recorded."""
    s = tables.statements
    with world.store.engine.connect() as conn:
        return {name: eid for eid, name in conn.execute(select(s.c.entity_id, s.c.value).where(s.c.prop == "name"))}


KARIMI, KARIMI_AR, SMITH, PETRENKO = "Mohammed Al-Karimi", "محمد الكريمي", "John Smith", "Viktor Petrenko"


def post(client, world, user, **body):
    return client.post("/api/v1/judgements", json=body, headers=bearer(world.tokens[user]))


def test_an_analyst_judges_two_records_the_same_and_a_colleague_abroad_sees_it(client, world, ids):
    made = post(client, world, "alice", kind="same", a=ids[KARIMI], b=ids[KARIMI_AR], reason="same passport photo")
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["kind"], body["user"], body["agency"], body["active"]) == ("same", "alice", "UKPOL", True)
    seen = client.get("/api/v1/judgements", headers=bearer(world.tokens["amelie"])).json()["judgements"]
    assert [(j["id"], j["a"], j["b"], j["reason"], j["withheld_members"]) for j in seen] == [
        (body["id"], ids[KARIMI], ids[KARIMI_AR], "same passport photo", 0)]
    assert any(e.action == "judgement.same" and e.user == "alice" for e in audit.show(world.store))


def test_a_judgement_on_a_record_the_caller_may_not_see_is_shown_without_it(client, world, ids):
    made = post(client, world, "alice", kind="not-same", a=ids[SMITH], b=ids[PETRENKO],
                reason="MI source says Petrenko was in Kyiv")
    assert made.status_code == 201, made.text
    [seen] = client.get("/api/v1/judgements", headers=bearer(world.tokens["amelie"])).json()["judgements"]
    assert seen["a"] == ids[SMITH] and seen["b"] is None and seen["b_members"] == []
    assert seen["withheld_members"] == 1 and seen["reason"] is None
    text = str(seen)
    assert ids[PETRENKO] not in text and "Kyiv" not in text
    # olly (OFFICIAL) sees neither record, so not the judgement at all
    assert client.get("/api/v1/judgements", headers=bearer(world.tokens["olly"])).json()["judgements"] == []


def test_naming_a_record_one_may_not_see_is_answered_like_naming_one_that_does_not_exist(client, world, ids):
    hidden = post(client, world, "amelie", kind="same", a=ids[KARIMI_AR], b=ids[PETRENKO], reason="x")
    missing = post(client, world, "amelie", kind="same", a=ids[KARIMI_AR], b="no-such-record", reason="x")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(ids[PETRENKO], "ID") == missing.json()["detail"].replace("no-such-record", "ID")


def test_a_contradicting_judgement_is_refused_with_409_naming_the_one_it_contradicts(client, world, ids):
    first = post(client, world, "alice", kind="same", a=ids[KARIMI], b=ids[KARIMI_AR], reason="photo").json()
    refused = post(client, world, "amelie", kind="not-same", a=ids[KARIMI_AR], b=ids[KARIMI], reason="ages differ")
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert f"#{first['id']}" in refused.json()["detail"]


def test_only_the_judging_agency_withdraws_and_a_withdrawal_can_be_undone_unless_it_now_contradicts(client, world, ids):
    made = post(client, world, "alice", kind="same", a=ids[KARIMI], b=ids[KARIMI_AR], reason="photo").json()
    url = f"/api/v1/judgements/{made['id']}"
    assert client.delete(url, headers=bearer(world.tokens["amelie"])).status_code == 403
    gone = client.delete(url, headers=bearer(world.tokens["alice"]))
    assert gone.status_code == 200 and gone.json()["active"] is False and gone.json()["deleted_by"] == "alice"
    assert client.get("/api/v1/judgements", headers=bearer(world.tokens["alice"])).json()["judgements"] == []
    kept = client.get("/api/v1/judgements", params={"include_withdrawn": True},
                      headers=bearer(world.tokens["alice"])).json()["judgements"]
    assert [j["id"] for j in kept] == [made["id"]]
    assert client.delete("/api/v1/judgements/999", headers=bearer(world.tokens["alice"])).status_code == 404
    restored = client.post(f"{url}/restore", headers=bearer(world.tokens["alice"]))
    assert restored.status_code == 200 and restored.json()["active"] is True
    assert client.post(f"{url}/restore", headers=bearer(world.tokens["alice"])).status_code == 409  # already active
    client.delete(url, headers=bearer(world.tokens["alice"]))
    assert post(client, world, "alice", kind="not-same", a=ids[KARIMI], b=ids[KARIMI_AR], reason="x").status_code == 201
    assert client.post(f"{url}/restore", headers=bearer(world.tokens["alice"])).status_code == 409  # now contradicts


def test_the_change_feed_names_only_entities_the_caller_may_see_and_pages_by_cursor(client, world, ids):
    k, ar, p = ids[KARIMI], ids[KARIMI_AR], ids[PETRENKO]
    with world.store.engine.begin() as conn:
        record_changes(conn, {k: None, ar: None, p: None}, {k: "c-k", ar: "c-k", p: p})
    with world.store.engine.begin() as conn:  # a bad run merges Petrenko into Karimi
        record_changes(conn, {k: "c-k", ar: "c-k", p: p}, {k: "c-k", ar: "c-k", p: "c-k"})
    alice = client.get("/api/v1/changes", headers=bearer(world.tokens["alice"])).json()
    assert sorted((c["kind"], c["canonical_id"], tuple(c["related"])) for c in alice["changes"]) == [
        ("created", p, ()), ("created", "c-k", ()), ("merged", "c-k", (p,))]
    amelie = client.get("/api/v1/changes", headers=bearer(world.tokens["amelie"])).json()
    assert [(c["kind"], c["canonical_id"], c["related"], c["related_withheld"]) for c in amelie["changes"]] == [
        ("created", "c-k", [], 0), ("merged", "c-k", [], 1)]
    assert p not in str(amelie)
    first = client.get("/api/v1/changes", params={"limit": 1}, headers=bearer(world.tokens["alice"])).json()
    rest = client.get("/api/v1/changes", params={"after": first["next_after"]},
                      headers=bearer(world.tokens["alice"])).json()
    assert [c["id"] for c in first["changes"] + rest["changes"]] == [c["id"] for c in alice["changes"]]
    assert client.get("/api/v1/changes").status_code == 401


def test_explain_shows_the_evidence_and_weights_between_two_records(client, world, ids):
    from tessera.resolve.engine import resolve

    resolve(world.store)
    got = client.get("/api/v1/explain", params={"a": ids[KARIMI], "b": ids[KARIMI_AR]},
                     headers=bearer(world.tokens["amelie"]))
    assert got.status_code == 200, got.text
    body = got.json()
    [pair] = body["pairs"]
    assert {c["comparison"] for c in pair["comparisons"]} >= {"name", "dob"}
    assert body["withheld_members"] == 0 and body["withheld_pairs"] == 0
    # amelie may not see MI's subject, whom the name and phone frequencies also count: those are withheld
    assert pair["adjustments_withheld"] and isinstance(pair["total_before_adjustments"], float)
    assert not {"name_frequency", "adjustments", "total", "decision"} & set(pair)
    [full] = client.get("/api/v1/explain", params={"a": ids[KARIMI], "b": ids[KARIMI_AR]},
                        headers=bearer(world.tokens["alice"])).json()["pairs"]  # alice sees every record
    assert full["decision"] in ("match", "no match", "no match (evidence against)", "refused")
    assert isinstance(full["total"], float)
    before = full["prior"] + sum(c["weight"] for c in full["comparisons"])
    assert abs(full["total"] - before - sum(full["adjustments"].values())) < 0.05
    assert abs(pair["total_before_adjustments"] - before) < 0.05  # the same two records, the same weights
    # olly may not see the UK police record: answered as if it did not exist
    hidden = client.get("/api/v1/explain", params={"a": ids[KARIMI], "b": ids[KARIMI_AR]},
                        headers=bearer(world.tokens["olly"]))
    assert hidden.status_code == 404 and "Karimi" not in hidden.text


def test_explain_never_shows_a_colleague_abroad_the_uk_eyes_only_member_of_an_entity(client, world, ids):
    from tessera.resolve.engine import resolve

    post(client, world, "alice", kind="same", a=ids[SMITH], b=ids[PETRENKO], reason="MI: Petrenko uses Smith's name")
    resolve(world.store)
    with world.store.engine.connect() as conn:
        cid = conn.execute(select(tables.entities.c.canonical_id).where(tables.entities.c.id == ids[SMITH])).scalar()
    full = client.get("/api/v1/explain", params={"a": cid, "b": ids[KARIMI]}, headers=bearer(world.tokens["alice"]))
    assert full.status_code == 200 and len(full.json()["pairs"]) == 2
    seen = client.get("/api/v1/explain", params={"a": cid, "b": ids[KARIMI]}, headers=bearer(world.tokens["amelie"]))
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["a_members"] == [ids[SMITH]] and body["withheld_members"] == 1
    assert [(p["left"], p["right"]) for p in body["pairs"]] in ([(ids[SMITH], ids[KARIMI])], [(ids[KARIMI], ids[SMITH])])
    assert body["withheld_pairs"] == 1
    # (the canonical id itself is made from a member's id by the engine: left out of this check)
    assert ids[PETRENKO] not in seen.text.replace(cid, "") and "Petrenko" not in seen.text
    # the entity against its own visible member: the binding judgement is shown, its MI side withheld
    own = client.get("/api/v1/explain", params={"a": cid, "b": ids[SMITH]}, headers=bearer(world.tokens["amelie"]))
    assert own.status_code == 200, own.text
    [judgement] = own.json()["judgements"]
    assert judgement["reason"] is None and judgement["withheld_members"] == 1 and judgement["b"] is None
    assert own.json()["pairs"] == [] and own.json()["withheld_pairs"] == 1
    assert ids[PETRENKO] not in own.text.replace(cid, "") and "Petrenko" not in own.text
    mine = client.get("/api/v1/explain", params={"a": cid, "b": ids[SMITH]}, headers=bearer(world.tokens["alice"]))
    assert [j["reason"] for j in mine.json()["judgements"]] == ["MI: Petrenko uses Smith's name"]


def test_a_feed_of_events_the_caller_may_not_see_is_skipped_a_bounded_stretch_at_a_time(client, world):
    ghosts = [f"elsewhere-{n:02d}" for n in range(45)]  # records of which nobody here may see a statement
    with world.store.engine.begin() as conn:
        record_changes(conn, {g: None for g in ghosts}, {g: g for g in ghosts})
    first = client.get("/api/v1/changes", params={"limit": 2}, headers=bearer(world.tokens["alice"])).json()
    assert first["changes"] == [] and first["next_after"] == 40  # 20 pages of 2 read, none shown
    rest = client.get("/api/v1/changes", params={"limit": 2, "after": first["next_after"]},
                      headers=bearer(world.tokens["alice"])).json()
    assert rest["changes"] == [] and rest["next_after"] == 45


def test_a_supervisor_resolves_what_is_new_through_the_api_and_an_analyst_may_not(client, world, tmp_path,
                                                                                  monkeypatch):
    with world.store.engine.begin() as conn:
        identity.add_user(conn, "sam", "UKPOL", "SECRET", "pw-sam", roles=("analyst", "supervisor"))
        token = identity.create_token(conn, "sam").token
    refused = client.post("/api/v1/resolve", headers=bearer(world.tokens["alice"]))
    assert refused.status_code == 403
    done = client.post("/api/v1/resolve", headers=bearer(token))
    assert done.status_code == 200, done.text
    job = done.json()
    body = job["result"]
    e = tables.entities
    with world.store.engine.connect() as conn:
        entities = conn.execute(select(e.c.id, e.c.canonical_id)).all()
    # a store never resolved goes through the engine's full run: every schema, not only Person
    assert job["state"] == "done" and job["mode"] == "full" and body["new_entities"] == len(entities) >= 4
    assert all(cid is not None for _id, cid in entities)
    assert sum(body["feed"].values()) >= 1 and not body["index"]["built"]
    warm = client.post("/api/v1/resolve", headers=bearer(token)).json()
    assert warm["mode"] == "warm" and warm["result"]["new_entities"] == 0 and warm["result"]["index"]["built"]
    ingest_people(world.store, tmp_path, "arrival-1", ["Karwan Othman"])
    again = client.post("/api/v1/resolve", headers=bearer(token)).json()
    assert again["mode"] == "warm" and again["result"]["new_entities"] == 1
    assert not again["result"]["index"]["built"]  # kept
    monkeypatch.setattr(routes_resolve, "WARM_BACKLOG", 2)  # a backlog past it goes through a full run
    ingest_people(world.store, tmp_path, "arrival-2", ["Hevar Ahmed", "Shirin Kareem", "Rebaz Aziz"])
    backlog = client.post("/api/v1/resolve", headers=bearer(token)).json()
    assert backlog["mode"] == "full" and backlog["result"]["new_entities"] == 3
    with world.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(e).where(e.c.canonical_id.is_(None))).scalar() == 0
    rebuilt = client.post("/api/v1/resolve", headers=bearer(token)).json()
    assert rebuilt["mode"] == "warm" and rebuilt["result"]["index"]["built"]  # the full run made the index stale
    assert len({done.json()["id"], warm["id"], again["id"], backlog["id"], rebuilt["id"]}) == 5
    assert any(entry.action == "resolve" and entry.user == "sam" for entry in audit.show(world.store))


def test_a_long_resolution_answers_202_with_a_job_that_a_second_call_joins_and_that_reports_its_end(client, world):
    with world.store.engine.begin() as conn:
        identity.add_user(conn, "sam", "UKPOL", "SECRET", "pw-sam", roles=("analyst", "supervisor"))
        token = identity.create_token(conn, "sam").token
    jobs = client.app.state.resolve_jobs
    release = threading.Event()
    jobs.worker.submit(release.wait, 30)  # the worker is busy: the next job stays queued
    try:
        first = client.post("/api/v1/resolve", params={"wait": 0}, headers=bearer(token))
        assert first.status_code == 202, first.text
        job = first.json()
        assert job["state"] == "queued" and job["result"] is None
        assert first.headers["location"] == job["status"] == f"/api/v1/resolve/jobs/{job['id']}"
        second = client.post("/api/v1/resolve", params={"wait": 0}, headers=bearer(token))
        assert second.status_code == 202 and second.json()["id"] == job["id"]  # joined the queued job
        assert client.get(job["status"], headers=bearer(world.tokens["alice"])).status_code == 403
    finally:
        release.set()
    jobs.get(job["id"]).ended.wait(30)
    status = client.get(job["status"], headers=bearer(token))
    assert status.status_code == 200, status.text
    ended = status.json()
    assert ended["state"] == "done" and ended["mode"] == "full" and ended["result"]["new_entities"] >= 4
    assert ended["progress"] and ended["finished"] >= ended["started"] >= ended["submitted"]
    assert client.get("/api/v1/resolve/jobs/nope", headers=bearer(token)).status_code == 404
    actions = [(entry.action, entry.purpose) for entry in audit.show(world.store) if entry.user == "sam"]
    assert ("resolve", "joined a queued job") in actions and ("resolve.status", None) in actions


def test_a_resolution_job_that_fails_is_a_problem_naming_the_job(client, world, monkeypatch):
    with world.store.engine.begin() as conn:
        identity.add_user(conn, "sam", "UKPOL", "SECRET", "pw-sam", roles=("analyst", "supervisor"))
        token = identity.create_token(conn, "sam").token

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("tessera.resolve.engine.resolve", broken)
    answer = client.post("/api/v1/resolve", headers=bearer(token))
    assert answer.status_code == 500 and "RuntimeError" in answer.json()["detail"]
    job_id = answer.json()["detail"].split()[2]
    status = client.get(f"/api/v1/resolve/jobs/{job_id}", headers=bearer(token)).json()
    assert status["state"] == "failed" and "disk full" not in status["error"]


def ingest_people(store, tmp_path, name, names):
    """New Person records from the Border Force, one per name."""
    path = tmp_path / f"{name}.ftm.jsonl"
    path.write_text("".join(json.dumps({"id": f"{name}-{k}", "schema": "Person", "properties": {"name": [n]}}) + "\n"
                            for k, n in enumerate(names)))
    with store.engine.begin() as conn:
        if conn.execute(select(tables.agencies.c.code).where(tables.agencies.c.code == "BF")).first() is None:
            identity.add_agency(conn, "BF", "GB", contact="BF duty desk")
    ingest_file(store, path, "BF", None)
