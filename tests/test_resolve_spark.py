"""Resolution on Spark (PySpark local mode): the same candidate pairs and the same accepted matches as the engine."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from tessera.store.store import Store

REQUIRE = os.environ.get("TESSERA_REQUIRE_SPARK") == "1"


def _spark_ready() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -e '.[spark]')"
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        return "no Java runtime for Spark"
    return None


@pytest.fixture(scope="module")
def spark():
    missing = _spark_ready()
    if missing:
        if REQUIRE:
            pytest.fail(f"TESSERA_REQUIRE_SPARK=1 but {missing}")
        pytest.skip(missing)
    from tessera.resolve.spark import local_session

    session = local_session(cores=2, memory="1g")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small synthetic world of 250 people across the agencies, ingested into an SQLite store."""
    from tessera.demo import run_demo

    tmp = tmp_path_factory.mktemp("spark")
    store = Store.open(f"sqlite:///{tmp / 'tessera.db'}")
    run_demo(store, tmp / "world", 250, 7)
    yield store
    store.close()


def test_spark_finds_the_same_candidate_pairs_and_accepts_the_same_matches_with_the_same_weights(spark, world):
    from tessera.resolve import blocking
    from tessera.resolve.engine import load_model
    from tessera.resolve.spark import local_scored_pairs, person_table, spark_candidate_pairs, spark_scored_pairs

    model = load_model()
    table = person_table(world, model)
    assert table.n > 250
    reference = local_scored_pairs(table, model)
    assert len(reference.i) > 30  # a world with real matches, or the comparison says nothing

    pairs, skipped = spark_candidate_pairs(spark, table, model["blocking"]["max_block"], partitions=3)
    got = sorted(pairs.collect())
    ci, cj, local_skipped = blocking.candidate_pairs(table, model["blocking"]["max_block"])
    assert got == sorted(zip(ci.tolist(), cj.tolist())) and skipped.value == local_skipped

    scored = spark_scored_pairs(spark, table, model, partitions=3)
    assert scored.candidate_pairs == reference.candidate_pairs == len(ci)
    assert np.array_equal(scored.i, reference.i) and np.array_equal(scored.j, reference.j)
    assert np.allclose(scored.weight, reference.weight)
    opposed = (lambda sp: sorted(zip(sp.opposed_i.tolist(), sp.opposed_j.tolist(), sp.opposed_weight.round(6).tolist())))
    assert opposed(scored) == opposed(reference)


def test_a_tiny_block_limit_skips_the_same_blocks_on_spark_as_in_the_engine(spark, world):
    from tessera.resolve import blocking
    from tessera.resolve.engine import load_model
    from tessera.resolve.spark import person_table, spark_candidate_pairs

    model = load_model()
    table = person_table(world, model)
    pairs, skipped = spark_candidate_pairs(spark, table, 3, partitions=2)
    got = pairs.count()
    ci, _cj, local_skipped = blocking.candidate_pairs(table, 3)
    assert skipped.value == local_skipped > 0 and got == len(ci)


def test_meta_blocking_keeps_the_same_pairs_on_spark_as_in_the_engine(spark, world):
    from tessera.resolve import blocking
    from tessera.resolve.engine import load_model
    from tessera.resolve.spark import person_table, spark_candidate_pairs

    table = person_table(world, load_model())
    pairs, _ = spark_candidate_pairs(spark, table, 400, partitions=2, min_weight=0.45)
    ci, cj, _ = blocking.candidate_pairs(table, 400, 0.45)
    everything, _, _ = blocking.candidate_pairs(table, 400)
    assert sorted(pairs.collect()) == list(zip(ci.tolist(), cj.tolist()))
    assert 0 < len(ci) < len(everything)  # some pairs pruned, some kept


def test_resolving_on_spark_gives_the_engine_s_canonical_ids_judgements_included(spark, world):
    from sqlalchemy import select

    from tessera.resolve import judgements as jm
    from tessera.resolve.engine import resolve
    from tessera.resolve.spark import resolve_on_spark
    from tessera.store import tables

    _, local = resolve(world, write=False, return_assignment=True)
    groups: dict[str, list[str]] = {}
    for eid, cid in local.items():
        groups.setdefault(cid, []).append(eid)
    a, b = sorted(next(m for m in groups.values() if len(m) >= 2))[:2]
    with world.engine.begin() as conn:  # an analyst says two records the scores join are not the same
        jm.add_judgement(conn, "not-same", a, b, "different fingerprints", "analyst")
    _, judged = resolve(world, write=False, return_assignment=True)
    assert judged[a] != judged[b]
    result, on_spark = resolve_on_spark(world, spark, partitions=3)
    assert on_spark == judged
    with world.engine.connect() as conn:
        written = dict(conn.execute(select(tables.entities.c.id, tables.entities.c.canonical_id)).all())
    assert written == on_spark and result.pairs_accepted > 30
    assert result.feed["split"] >= 1  # the demo had resolved a and b together; the judgement split them


def test_on_spark_group_context_joins_what_it_joins_in_the_engine(spark, tmp_path):
    from tessera.demo import run_demo
    from tessera.resolve.engine import resolve
    from tessera.resolve.spark import resolve_on_spark

    store = Store.open(f"sqlite:///{tmp_path / 'tessera.db'}")
    run_demo(store, tmp_path / "world", 1000, 7)  # a world where records seen with the same people join
    engine, local = resolve(store, write=False, return_assignment=True)
    result, on_spark = resolve_on_spark(store, spark, write=False, partitions=3)
    store.close()
    assert engine.context_joins > 5
    assert result.context_joins == engine.context_joins
    assert on_spark == local


def test_resolving_on_spark_stores_the_review_queue_the_engine_stores(spark, world):
    from sqlalchemy import select

    from tessera.resolve.engine import load_model, resolve
    from tessera.resolve.spark import resolve_on_spark
    from tessera.resolve.tables import review_pairs

    def queue():
        with world.engine.connect() as conn:
            rows = conn.execute(select(review_pairs.c.a, review_pairs.c.b, review_pairs.c.weight)).all()
        return sorted((a, b, round(w, 9)) for a, b, w in rows)

    model = load_model()
    model["review"] = {**model["review"], "keep": 25}  # a cut among ties, which the partitions must not move
    engine = resolve(world, model)
    by_engine = queue()
    with world.engine.begin() as conn:
        conn.execute(review_pairs.delete())
    result, _ = resolve_on_spark(world, spark, model, partitions=3)
    assert result.review_pairs == engine.review_pairs == len(by_engine) == 25
    assert queue() == by_engine


def test_on_spark_judgements_correct_the_weights_as_they_do_in_the_engine(spark, world):
    from tessera.resolve import judgements as jm
    from tessera.resolve.engine import load_model, resolve
    from tessera.resolve.spark import resolve_on_spark

    people = sorted(eid for eid, in world.engine.connect().exec_driver_sql(
        "SELECT id FROM entities WHERE schema = 'Person'"))
    with world.engine.begin() as conn:
        jm.add_judgement(conn, "same", people[0], people[1], "one face in both photographs", "analyst")
    model = load_model()
    model["labels"] = {**model["labels"], "min_judgements": 1, "min_each": 0, "band": 100.0}
    engine, local = resolve(world, model, write=False, return_assignment=True)
    result, on_spark = resolve_on_spark(world, spark, model, write=False, partitions=3)
    assert engine.learned_from == result.learned_from >= 1
    assert on_spark == local
