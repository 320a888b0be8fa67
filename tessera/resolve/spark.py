"""Resolution on Apache Spark: the engine's Person blocking and pair scoring run as Spark jobs.

The driver builds the engine's columnar Person table (`compare.build_table`) and broadcasts it. Spark then
does the work that grows with the data: each partition of records emits its blocking keys (the engine's
own `blocking.block_keys`), a shuffle groups them, blocks above `max_block` are dropped as the engine drops
them, a self-join makes the candidate pairs, and each partition of pairs is compared and scored with the
engine's vectorised `compare.compare`, `compare.score` and `engine.refusals`. Only the accepted pairs come
back to the driver, which clusters them with the engine's conflict-aware union-find and judgements.

Same code, same model, same answers as `tessera resolve` (a test checks that pair for pair); EM estimation
of the weights (`resolve --estimate`) is not distributed — estimate locally, save the model, and use it here.
Local mode: `local_session()`. A cluster: see docs/spark.md.
"""

from __future__ import annotations

import hashlib
import operator
import os
import sys
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from tessera.bulk import paused_gc
from tessera.resolve import blocking, compare

# The attributes of the Person table that `blocking.block_keys` reads per record.
_BLOCK_FIELDS = ("tokens", "year", "month", "day", "seen_first", "phones", "docs", "accounts", "addresses")


@dataclass
class ScoredPairs:
    """Accepted Person pairs (record indices into the table, i < j) with their match weights, the opposed
    pairs (engine.opposed) that the clustering must keep apart, the pairs most in doubt (engine.in_doubt, closest
    to the threshold first) and those group context could lift over it (context.near_pairs); accepted and near
    pairs in (i, j) order, as the engine takes them."""

    i: np.ndarray
    j: np.ndarray
    weight: np.ndarray
    opposed_i: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    opposed_j: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    opposed_weight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    doubt_i: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    doubt_j: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    doubt_weight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    near_i: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    near_j: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    near_weight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    candidate_pairs: int = 0
    blocks_skipped: int = 0
    seconds: dict = field(default_factory=dict)


def local_session(cores: int = 2, memory: str = "1g", app_name: str = "tessera-resolve"):
    """A SparkSession in local mode, quiet, with no web UI and few shuffle partitions."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    spark = (SparkSession.builder.master(f"local[{cores}]").appName(app_name)
             .config("spark.ui.enabled", "false")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.memory", memory)
             .config("spark.sql.shuffle.partitions", str(max(2, cores * 2)))
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.python.worker.reuse", "true")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _slice(table: compare.PersonTable, lo: int, hi: int) -> SimpleNamespace:
    """Records lo..hi of the table, as much of it as blocking reads: per-record fields, and the name rows of
    those records numbered from lo."""
    rows = np.flatnonzero((table.name_rec >= lo) & (table.name_rec < hi))
    fields = {name: None if getattr(table, name) is None else getattr(table, name)[lo:hi] for name in _BLOCK_FIELDS}
    return SimpleNamespace(n=hi - lo, name_rec=table.name_rec[rows] - lo, name_phon=table.name_phon[rows],
                           name_norm=table.name_norm[rows], name_skel=table.name_skel[rows], **fields)


def _ranges(n: int, parts: int) -> list[tuple[int, int]]:
    step = max(1, -(-n // parts))
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)]


def _key_code(key) -> int:
    """A stable 63-bit code for a blocking key (Python's own hash of strings differs between workers), negative
    for an identifier's (blocking.block_weight)."""
    code = int.from_bytes(hashlib.blake2b(repr(key).encode("utf-8"), digest_size=8).digest(), "big") >> 1
    return ~code if key[0] in blocking.IDENTIFIER_KEYS else code


def spark_candidate_pairs(spark, table: compare.PersonTable, max_block: int, partitions: int | None = None,
                          min_weight: float = 0.0):
    """(RDD of candidate pairs (i, j), i < j, whose shared blocks weigh at least min_weight (blocking.block_weight);
    accumulator of blocks skipped as too large, read after an action)."""
    sc = spark.sparkContext
    parts = partitions or max(2, sc.defaultParallelism * 2)
    shared = sc.broadcast(table)
    skipped = sc.accumulator(0)

    def keys_of(bounds):
        t = shared.value
        for lo, hi in bounds:
            for key, r in blocking.block_keys(_slice(t, lo, hi)):
                yield _key_code(key), lo + r

    def pairs_of(block):
        recs = sorted(set(block[1]))  # a record holding a key twice is one member of its block
        if len(recs) < 2:
            return
        if len(recs) > max_block:
            skipped.add(1)
            return
        w = float(blocking.block_weight(len(recs), block[0] < 0))
        for x, a in enumerate(recs):
            for b in recs[x + 1:]:
                yield (a, b), w

    keys = sc.parallelize(_ranges(table.n, parts), parts).mapPartitions(keys_of)
    pairs = keys.groupByKey(parts).flatMap(pairs_of)
    if not min_weight:
        return pairs.keys().distinct(parts), skipped
    return pairs.reduceByKey(operator.add, parts).filter(lambda kv: kv[1] >= min_weight).keys(), skipped


def spark_scored_pairs(spark, table: compare.PersonTable, model: dict, partitions: int | None = None,
                       paid: np.ndarray | None = None) -> ScoredPairs:
    """Block, compare and score every candidate Person pair on Spark; return what the driver needs of them
    (paid: whether each record was paid, for the group context's payments)."""
    from tessera.resolve.context import both_paid, near_pairs
    from tessera.resolve.engine import in_doubt, joinable, opposed, refusals

    sc = spark.sparkContext
    t0 = time.perf_counter()
    pairs, skipped = spark_candidate_pairs(spark, table, model["blocking"]["max_block"], partitions,
                                           blocking.pair_weight_floor(model["blocking"], table.n))
    shared, paid_rows = sc.broadcast(table), sc.broadcast(paid)
    threshold, review, context = model["threshold"], model.get("review"), model.get("context")

    def score_partition(rows):
        ij = np.fromiter((v for row in rows for v in row), dtype=np.int64)
        if not len(ij):
            return
        t = shared.value
        i, j = ij[0::2], ij[1::2]
        levels = compare.compare(t, i, j)
        weight = compare.score(levels, model)
        refused = refusals(t, i, j, model)
        ok = np.flatnonzero((weight >= threshold) & ~refused)
        doubt = in_doubt(i, j, weight, threshold, review["band"], review["keep"], refused) if review else ok[:0]
        near = near_pairs(weight, refused, lambda k: {"name": levels["name"][k]}, context, threshold,
                          both_paid(paid_rows.value, i, j)) if context else ok[:0]
        yield i, j, weight, ok, doubt, near, compare.against(levels, model)

    scored = pairs.mapPartitions(score_partition).cache()  # read twice: accepted pairs, then opposed ones
    results = scored.map(lambda r: (len(r[0]), *(column[r[k]] for k in (3, 4, 5) for column in r[:3]))).collect()
    candidates = sum(r[0] for r in results)
    cat = (lambda rs, k, dtype: np.concatenate([r[k] for r in rs]) if rs else np.zeros(0, dtype))
    i, j, weight = cat(results, 1, np.int64), cat(results, 2, np.int64), cat(results, 3, np.float64)
    di, dj, dw = cat(results, 4, np.int64), cat(results, 5, np.int64), cat(results, 6, np.float64)
    doubt = in_doubt(di, dj, dw, threshold, review["band"], review["keep"]) if review else []
    ni, nj, nw = cat(results, 7, np.int64), cat(results, 8, np.int64), cat(results, 9, np.float64)
    near = np.lexsort((nj, ni))
    can_join = sc.broadcast(joinable(table.n, i, j))

    def opposed_of(r):
        against = opposed(r[0], r[1], r[2], r[6], can_join.value, model)
        return r[0][against], r[1][against], r[6][against]

    against = scored.map(opposed_of).collect()
    scored.unpersist()
    order = np.lexsort((j, i))
    return ScoredPairs(i[order], j[order], weight[order], cat(against, 0, np.int64), cat(against, 1, np.int64),
                       cat(against, 2, np.float64), di[doubt], dj[doubt], dw[doubt], ni[near], nj[near], nw[near],
                       candidates, int(skipped.value),
                       {"spark": round(time.perf_counter() - t0, 2)})


def local_scored_pairs(table: compare.PersonTable, model: dict) -> ScoredPairs:
    """The same as `spark_scored_pairs`, in this process with the engine's own functions (the reference)."""
    from tessera.resolve.engine import joinable, opposed, refusals

    i, j, skipped = blocking.candidate_pairs(table, model["blocking"]["max_block"],
                                             blocking.pair_weight_floor(model["blocking"], table.n))
    levels = compare.compare(table, i, j)
    weight, evidence = compare.score(levels, model), compare.against(levels, model)
    ok = (weight >= model["threshold"]) & ~refusals(table, i, j, model)
    against = opposed(i, j, weight, evidence, joinable(table.n, i[ok], j[ok]), model)
    order = np.lexsort((j[ok], i[ok]))
    return ScoredPairs(i[ok][order], j[ok][order], weight[ok][order], i[against], j[against], evidence[against],
                       candidate_pairs=len(i), blocks_skipped=skipped)


def person_table(store, model: dict) -> compare.PersonTable:
    """The engine's Person table for every Person in the store, built as `resolve` builds it."""
    from tessera.resolve.engine import stored_person_table

    return stored_person_table(store, model)


@paused_gc()
def resolve_on_spark(store, spark, model: dict | None = None, write: bool = True, partitions: int | None = None,
                     progress=None):
    """`engine.resolve` with the Person blocking and scoring on Spark: judgements, exact identifier keys,
    conflict-aware clustering, group context, canonical ids, the change feed and the review queue exactly as the
    engine does them.
    Returns (ResolveResult, {source id: canonical id})."""
    from tessera.resolve.context import Sightings, context_pass, paid_records
    from tessera.resolve.engine import (Clusters, ResolveResult, apply_judgements, corrected_by_judgements,
                                        entity_listing, group_context, join_exact_keys, load_model, settle,
                                        stored_person_table, uses_sightings)

    model = model or load_model()
    say = progress or (lambda _msg: None)
    res = ResolveResult()
    t0 = time.perf_counter()
    say("loading entities")
    ids, previous, persons = entity_listing(store)
    index = {eid: i for i, eid in enumerate(ids)}
    res.entities = len(ids)
    clusters = Clusters(ids, model["refuse"])
    res.judged_same = apply_judgements(store, clusters, index)
    res.exact_key_joins = join_exact_keys(store, clusters, index)
    table = stored_person_table(store, model, persons, sightings=False)
    people = table.ids
    res.persons = len(people)
    rec_index = np.fromiter((index[eid] for eid in people), dtype=np.int64, count=len(people))
    sightings = Sightings(store, index) if uses_sightings(model) else None
    if sightings is not None:
        table.take_spans(sightings.spans(rec_index))
    clusters.take_evidence(table, rec_index)
    model = corrected_by_judgements(store, table, model, res)
    res.seconds["prepare"] = round(time.perf_counter() - t0, 2)
    say("blocking and scoring Person pairs on Spark")
    cfg = model.get("context")
    scored = spark_scored_pairs(spark, table, model, partitions, paid_records(sightings, rec_index, cfg))
    res.seconds.update(scored.seconds)
    res.candidate_pairs = res.pairs_scored = scored.candidate_pairs
    res.blocks_skipped = scored.blocks_skipped
    res.pairs_accepted = len(scored.i)
    t1 = time.perf_counter()
    group = group_context(clusters, sightings, cfg) if cfg else None
    clusters.oppose(rec_index[scored.opposed_i], rec_index[scored.opposed_j], scored.opposed_weight,
                    model["threshold"])
    # the engine's order: strongest first, ties by pair position in (i, j) order
    order = np.lexsort((scored.j, scored.i))
    order = order[np.argsort(-scored.weight[order], kind="stable")]
    for i, j, w in zip(rec_index[scored.i[order]].tolist(), rec_index[scored.j[order]].tolist(),
                       scored.weight[order].tolist()):
        clusters.union(i, j, weight=w)
    if cfg:
        res.context_joins = context_pass(clusters, rec_index[scored.near_i], rec_index[scored.near_j],
                                         scored.near_weight, np.arange(len(scored.near_i)), group, cfg,
                                         model["threshold"])
    res.merges_refused = clusters.refused
    res.refused_by_judgement = clusters.refused_by_judgement
    review = ([people[k] for k in scored.doubt_i.tolist()], [people[k] for k in scored.doubt_j.tolist()],
              scored.doubt_weight, True) if write and "review" in model else None
    assignment = settle(store, clusters, ids, previous, model, res, write, say, review)
    res.seconds["cluster_write"] = round(time.perf_counter() - t1, 2)
    res.seconds["total"] = round(time.perf_counter() - t0, 2)
    return res, dict(zip(ids, assignment))


def main(db: str | None = None, partitions: int | None = None, dry_run: bool = False) -> None:
    """Entry point for spark-submit: resolve the store at --db with Spark, print the result as JSON."""
    import json

    from pyspark.sql import SparkSession

    from tessera.store.store import Store

    spark = SparkSession.builder.appName("tessera-resolve").getOrCreate()
    try:
        result, _ = resolve_on_spark(Store.open(db), spark, write=not dry_run, partitions=partitions)
    finally:
        spark.stop()
    print(json.dumps(result.as_dict(), default=str, indent=2))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Resolve a Tessera store with Spark (run by spark-submit).")
    parser.add_argument("--db", help="SQLAlchemy URL of the store (default: $TESSERA_DB)")
    parser.add_argument("--partitions", type=int, help="partitions for blocking and scoring")
    parser.add_argument("--dry-run", action="store_true", help="score and cluster but write nothing")
    args = parser.parse_args()
    main(args.db, args.partitions, args.dry_run)
