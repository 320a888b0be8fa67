"""The review queue: pairs the resolver was least sure of, stored per run, listed most in doubt first without those
judged, and shown over the CLI and HTTP only when the viewer may see both records in full."""

from __future__ import annotations

import json

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text, update
from typer.testing import CliRunner

from api_helpers import bearer, build_world
from tessera.access import audit
from tessera.api.app import create_app
from tessera.cli import app as cli
from tessera.cli_common import EXIT_NOT_FOUND
from tessera.resolve import judgements as jm
from tessera.resolve import review
from tessera.resolve.review import record_review, review_queue
from tessera.resolve.tables import review_pairs
from tessera.store import tables
from tessera.store.store import Store

KARIMI, KARIMI_AR, SMITH, PETRENKO = "Mohammed Al-Karimi", "محمد الكريمي", "John Smith", "Viktor Petrenko"
THRESHOLD = 1.5


@pytest.fixture
def world(store, tmp_path):
    """UKPOL's Karimi and Smith, FRPOL's Karimi (OFFICIAL), MI's Petrenko (SECRET, UK EYES ONLY); alice (UKPOL,
    SECRET) sees all four, amelie (FRPOL) all but Petrenko, olly (UKPOL, OFFICIAL) only FRPOL's Karimi."""
    return build_world(store, tmp_path)


@pytest.fixture
def ids(world):
    """Source entity id by the name its agency recorded."""
    s = tables.statements
    with world.store.engine.connect() as conn:
        return {name: eid for eid, name in conn.execute(select(s.c.entity_id, s.c.value).where(s.c.prop == "name"))}


@pytest.fixture
def queued(world, ids):
    """Five pairs of one run. Margins: K~AR -0.5, S~P +1.0, AR~P -1.5, K~S -4.5, K~P +4.5 (the last two tie)."""
    k, ar, s, p = ids[KARIMI], ids[KARIMI_AR], ids[SMITH], ids[PETRENKO]
    stored = store_pairs(world.store, 1, [(k, ar, 1.0), (s, k, -3.0), (p, s, 2.5), (ar, p, 0.0), (k, p, 6.0)])
    assert stored == 5
    return dict(k=k, ar=ar, s=s, p=p)


def store_pairs(store, run_id, pairs, replace=True, threshold=THRESHOLD) -> int:
    with store.engine.begin() as conn:
        return record_review(conn, run_id, [x for x, _, _ in pairs], [y for _, y, _ in pairs],
                             [w for _, _, w in pairs], threshold, replace)


def queue(store, **options) -> list[dict]:
    with store.engine.connect() as conn:
        return review_queue(conn, **options)


def pairs_of(items) -> list[frozenset]:
    return [frozenset((i["a"], i["b"])) for i in items]


def pair(*ids) -> frozenset:
    return frozenset(ids)


def judge(store, kind, a, b=None, user="alice"):
    with store.engine.begin() as conn:
        return jm.add_judgement(conn, kind, a, b, "seen together at Calais", user, "UKPOL")


def set_canonical(store, mapping):
    e = tables.entities
    with store.engine.begin() as conn:
        for eid, cid in mapping.items():
            conn.execute(update(e).where(e.c.id == eid).values(canonical_id=cid))


def test_a_fresh_store_has_the_table_and_a_store_from_before_it_gains_it(store, store_url):
    assert {"ix_review_pairs_a", "ix_review_pairs_b"} <= {i["name"] for i in inspect(store.engine).get_indexes("review_pairs")}
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE review_pairs"))
        conn.execute(text("UPDATE alembic_version SET version_num = 'resolve_0003' "
                          "WHERE version_num = 'resolve_0004'"))
    store.close()
    reopened = Store.open(store_url)
    try:
        assert inspect(reopened.engine).has_table("review_pairs")
        with reopened.engine.connect() as conn:
            versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        assert "resolve_0004" in versions and "resolve_0003" not in versions
    finally:
        reopened.close()


def test_pairs_are_stored_a_before_b_and_listed_closest_to_the_threshold_first(world, queued):
    k, ar, s, p = queued["k"], queued["ar"], queued["s"], queued["p"]
    with world.store.engine.connect() as conn:
        rows = conn.execute(select(review_pairs.c.a, review_pairs.c.b, review_pairs.c.run_id)).all()
    assert all(a < b for a, b, _ in rows) and {r for _, _, r in rows} == {1}
    items = queue(world.store)
    assert [(pair(i["a"], i["b"]), i["margin"], i["weight"], i["threshold"]) for i in items] == [
        (pair(k, ar), -0.5, 1.0, THRESHOLD), (pair(s, p), 1.0, 2.5, THRESHOLD), (pair(ar, p), -1.5, 0.0, THRESHOLD),
        (pair(k, s), -4.5, -3.0, THRESHOLD), (pair(k, p), 4.5, 6.0, THRESHOLD)]
    first = items[0]
    names = {first["a"]: first["name_a"], first["b"]: first["name_b"]}
    assert names == {k: KARIMI, ar: KARIMI_AR}
    assert first["joined"] is False and first["canonical_a"] is None


def test_a_record_is_named_by_its_first_name_statement(world, queued):
    s = tables.statements
    with world.store.engine.begin() as conn:
        row = conn.execute(select(s).where(s.c.entity_id == queued["k"]).where(s.c.prop == "name")).one()._asdict()
        del row["id"]
        conn.execute(s.insert().values({**row, "value": "Abu Karim", "original": "Abu Karim"}))
    first = queue(world.store, limit=1)[0]
    assert {first["a"]: first["name_a"], first["b"]: first["name_b"]}[queued["k"]] == KARIMI


def test_joined_says_whether_the_two_records_share_a_canonical_entity(world, queued):
    k, ar, s = queued["k"], queued["ar"], queued["s"]
    set_canonical(world.store, {k: "c-1", ar: "c-1", s: s})
    by_pair = {pair(i["a"], i["b"]): i for i in queue(world.store)}
    assert by_pair[pair(k, ar)]["joined"] is True
    assert {by_pair[pair(k, ar)]["canonical_a"], by_pair[pair(k, ar)]["canonical_b"]} == {"c-1"}
    assert by_pair[pair(k, s)]["joined"] is False


def test_a_judged_pair_leaves_the_queue_and_returns_when_the_judgement_is_withdrawn(world, queued):
    k, ar = queued["k"], queued["ar"]
    j = judge(world.store, "same", k, ar)
    assert pair(k, ar) not in pairs_of(queue(world.store))
    assert len(queue(world.store)) == 4
    with world.store.engine.begin() as conn:
        jm.withdraw(conn, j.id, "alice")
    assert pairs_of(queue(world.store))[0] == pair(k, ar)


def test_judgements_rule_through_chains_of_same_and_across_not_same_and_split(world, queued):
    k, ar, s, p = queued["k"], queued["ar"], queued["s"], queued["p"]
    judge(world.store, "same", k, s)
    judge(world.store, "not-same", s, p)
    # K~S judged the same; S~P judged apart, and K, tied to S, is kept from P too
    assert pairs_of(queue(world.store)) == [pair(k, ar), pair(ar, p)]
    set_canonical(world.store, {k: "c-1", ar: "c-1"})
    judge(world.store, "split", "c-1")
    assert pairs_of(queue(world.store)) == [pair(ar, p)]


def test_a_full_run_replaces_the_queue_and_a_run_over_new_records_replaces_only_its_pairs(world, queued):
    k, ar, s, p = queued["k"], queued["ar"], queued["s"], queued["p"]
    assert store_pairs(world.store, 2, [(ar, k, 1.25), (ar, s, 2.0)], replace=False) == 2
    with world.store.engine.connect() as conn:
        rows = {(a, b): (w, run) for a, b, w, run in conn.execute(
            select(review_pairs.c.a, review_pairs.c.b, review_pairs.c.weight, review_pairs.c.run_id))}
    assert len(rows) == 6
    assert rows[tuple(sorted((k, ar)))] == (1.25, 2) and rows[tuple(sorted((ar, s)))] == (2.0, 2)
    assert rows[tuple(sorted((k, p)))] == (6.0, 1)
    assert store_pairs(world.store, 3, [(s, p, 1.0)], replace=True) == 1
    assert [(pair(i["a"], i["b"]), i["margin"]) for i in queue(world.store)] == [(pair(s, p), -0.5)]


def test_pages_follow_one_another_after_filtering_across_batches(world, queued, monkeypatch):
    k, ar, s, p = queued["k"], queued["ar"], queued["s"], queued["p"]
    monkeypatch.setattr(review, "BATCH", 2)  # several reads per page
    everything = pairs_of(queue(world.store))
    assert pairs_of(queue(world.store, limit=2)) + pairs_of(queue(world.store, limit=2, offset=2)) \
        + pairs_of(queue(world.store, limit=2, offset=4)) == everything
    assert queue(world.store, offset=5) == []
    calls = []

    def without_petrenko(found):
        calls.append(found)
        return set(found) - {p}

    assert pairs_of(queue(world.store, limit=1, offset=1, visible=without_petrenko)) == [pair(k, s)]
    assert pairs_of(queue(world.store, limit=5, visible=without_petrenko)) == [pair(k, ar), pair(k, s)]
    assert len(calls) > 2


def run_cli(world, *args):
    db = world.store.url if world.store.dialect == "postgresql" else str(world.store.engine.url.database)
    return CliRunner().invoke(cli, ["review", *args, "--db", db])


def test_the_cli_lists_the_queue_with_names_and_how_to_judge(world, queued):
    shown = run_cli(world)
    assert shown.exit_code == 0, shown.output
    assert "John Smith" in shown.output and "-0.50" in shown.output
    assert "tessera judge same A B --reason" in shown.output and "not-same" in shown.output
    listed = run_cli(world, "--json", "--limit", "2", "--offset", "1")
    assert listed.exit_code == 0, listed.output
    assert pairs_of(json.loads(listed.output)) == [pair(queued["s"], queued["p"]), pair(queued["ar"], queued["p"])]
    assert audit.show(world.store, limit=1)[0].action == "review"


def test_the_cli_as_a_user_lists_only_pairs_they_may_see_in_full(world, queued):
    amelie = run_cli(world, "--as", "amelie", "--json")
    assert amelie.exit_code == 0, amelie.output
    assert pairs_of(json.loads(amelie.output)) == [pair(queued["k"], queued["ar"]), pair(queued["k"], queued["s"])]
    assert PETRENKO not in amelie.output and queued["p"] not in amelie.output
    olly = run_cli(world, "--as", "olly", "--json")
    assert olly.exit_code == 0 and json.loads(olly.output) == []
    nobody = run_cli(world, "--as", "nobody", "--json")
    assert nobody.exit_code == EXIT_NOT_FOUND


def test_the_api_lists_only_pairs_whose_records_the_caller_may_see_and_audits_them(world, queued):
    client = TestClient(create_app(store=world.store))
    alice = client.get("/api/v1/review", params={"limit": 3}, headers=bearer(world.tokens["alice"]))
    assert alice.status_code == 200, alice.text
    body = alice.json()
    assert (body["limit"], body["offset"]) == (3, 0)
    assert [i["margin"] for i in body["items"]] == [-0.5, 1.0, -1.5]
    amelie = client.get("/api/v1/review", headers=bearer(world.tokens["amelie"]))
    assert pairs_of(amelie.json()["items"]) == [pair(queued["k"], queued["ar"]), pair(queued["k"], queued["s"])]
    assert PETRENKO not in amelie.text and queued["p"] not in amelie.text
    entry = audit.show(world.store, limit=1)[0]
    assert (entry.user, entry.action) == ("amelie", "review")
    assert sorted(entry.entities) == sorted({queued["k"], queued["ar"], queued["s"]})
    paged = client.get("/api/v1/review", params={"offset": 1}, headers=bearer(world.tokens["amelie"])).json()
    assert pairs_of(paged["items"]) == [pair(queued["k"], queued["s"])] and paged["offset"] == 1
    assert client.get("/api/v1/review", headers=bearer(world.tokens["olly"])).json()["items"] == []
    assert client.get("/api/v1/review").status_code == 401


def test_the_pairs_most_in_doubt_are_the_same_whether_chosen_whole_or_part_by_part():
    import numpy as np

    from tessera.resolve.engine import in_doubt

    rng = np.random.default_rng(3)
    n = 5000
    i, j = rng.integers(0, 400, n), rng.integers(400, 800, n)
    weight = rng.choice([-2.0, 1.5, 2.5, 3.0, 3.5, 4.5, 9.0], n)  # few levels: many ties at the cut
    refused = rng.random(n) < 0.1
    whole = in_doubt(i, j, weight, 3.0, 1.0, 300, refused)
    assert len(whole) == 300 and not refused[whole].any() and (np.abs(weight[whole] - 3.0) <= 1.0).all()
    assert (np.diff(np.abs(weight[whole] - 3.0)) >= 0).all()  # closest first
    parts = [in_doubt(i[lo:lo + 700], j[lo:lo + 700], weight[lo:lo + 700], 3.0, 1.0, 300, refused[lo:lo + 700]) + lo
             for lo in range(0, n, 700)]
    joined = np.concatenate(parts)
    again = joined[in_doubt(i[joined], j[joined], weight[joined], 3.0, 1.0, 300)]
    assert sorted(zip(i[again], j[again])) == sorted(zip(i[whole], j[whole]))
