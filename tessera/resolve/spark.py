"""Resolution on Apache Spark: the engine's Person blocking and pair scoring run as Spark jobs.

The driver builds the engine's columnar Person table (`compare.build_table`) and broadcasts it. Spark then
does the work that grows with the data: each partition of records emits its blocking keys (the engine's
own `compare.block_keys`), a shuffle groups them, blocks above `max_block` are dropped as the engine drops
them, a self-join makes the candidate pairs, and each partition of pairs is compared and scored with the
engine's vectorised `compare.compare`, `compare.score` and `engine.refusals`. Only the accepted pairs come
back to the driver, which clusters them with the engine's conflict-aware union-find and judgements.

Same code, same model, same answers as `tessera resolve` (a test checks that pair for pair); EM estimation
of the weights (`resolve --estimate`) is not distributed — estimate locally, save the model, and use it here.
Local mode: `local_session()`. A cluster: see docs/spark.md.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from tessera.resolve import compare

# The attributes of the Person table that `compare.block_keys` reads per record.
_BLOCK_FIELDS = ("tokens", "year", "month", "day", "phones", "docs")


@dataclass
class ScoredPairs:
    """Accepted Person pairs (record indices into the table, i < j) with their match weights."""

    i: np.ndarray
    j: np.ndarray
    weight: np.ndarray
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
             .config("spark.driver.memory", memory)
             .config("spark.sql.shuffle.partitions", str(max(2, cores * 2)))
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.python.worker.reuse", "true")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _slice(table: compare.PersonTable, lo: int, hi: int) -> SimpleNamespace:
    """Records lo..hi of the table, as much of it as blocking reads."""
    return SimpleNamespace(n=hi - lo, **{name: getattr(table, name)[lo:hi] for name in _BLOCK_FIELDS})


def _ranges(n: int, parts: int) -> list[tuple[int, int]]:
    step = max(1, -(-n // parts))
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)]


def _key_code(key) -> int:
    """A stable 63-bit code for a blocking key (Python's own hash of strings differs between workers)."""
    return int.from_bytes(hashlib.blake2b(repr(key).encode("utf-8"), digest_size=8).digest(), "big") >> 1


def spark_candidate_pairs(spark, table: compare.PersonTable, max_block: int, partitions: int | None = None):
    """(RDD of candidate pairs (i, j), i < j; accumulator of blocks skipped as too large, read after an action)."""
    sc = spark.sparkContext
    parts = partitions or max(2, sc.defaultParallelism * 2)
    shared = sc.broadcast(table)
    skipped = sc.accumulator(0)

    def keys_of(bounds):
        t = shared.value
        for lo, hi in bounds:
            for key, r in compare.block_keys(_slice(t, lo, hi)):
                yield _key_code(key), lo + r

    def pairs_of(block):
        recs = sorted(block[1])
        if len(recs) < 2:
            return
        if len(recs) > max_block:
            skipped.add(1)
            return
        for x, a in enumerate(recs):
            for b in recs[x + 1:]:
                if a != b:
                    yield a, b

    keys = sc.parallelize(_ranges(table.n, parts), parts).mapPartitions(keys_of)
    return keys.groupByKey(parts).flatMap(pairs_of).distinct(parts), skipped


def spark_scored_pairs(spark, table: compare.PersonTable, model: dict, partitions: int | None = None) -> ScoredPairs:
    """Block, compare and score every candidate Person pair on Spark; return the accepted ones."""
    from tessera.resolve.engine import refusals

    sc = spark.sparkContext
    t0 = time.perf_counter()
    pairs, skipped = spark_candidate_pairs(spark, table, model["blocking"]["max_block"], partitions)
    shared = sc.broadcast(table)
    threshold = model["threshold"]

    def score_partition(rows):
        ij = np.fromiter((v for row in rows for v in row), dtype=np.int64)
        if not len(ij):
            return
        t = shared.value
        i, j = ij[0::2], ij[1::2]
        weight = compare.score(compare.compare(t, i, j), model)
        ok = (weight >= threshold) & ~refusals(t, i, j, model)
        yield int(len(i)), i[ok], j[ok], weight[ok]

    results = pairs.mapPartitions(score_partition).collect()
    candidates = sum(r[0] for r in results)
    cat = (lambda k, dtype: np.concatenate([r[k] for r in results]) if results else np.zeros(0, dtype))
    i, j, weight = cat(1, np.int64), cat(2, np.int64), cat(3, np.float64)
    order = np.lexsort((j, i))
    return ScoredPairs(i[order], j[order], weight[order], candidates, int(skipped.value),
                       {"spark": round(time.perf_counter() - t0, 2)})


def local_scored_pairs(table: compare.PersonTable, model: dict) -> ScoredPairs:
    """The same as `spark_scored_pairs`, in this process with the engine's own functions (the reference)."""
    from tessera.resolve.engine import refusals

    i, j, skipped = compare.candidate_pairs(table, model["blocking"]["max_block"])
    weight = compare.score(compare.compare(table, i, j), model)
    ok = (weight >= model["threshold"]) & ~refusals(table, i, j, model)
    order = np.lexsort((j[ok], i[ok]))
    return ScoredPairs(i[ok][order], j[ok][order], weight[ok][order], len(i), skipped)


def person_table(store, model: dict) -> compare.PersonTable:
    """The engine's Person table for every Person in the store, built as `resolve` builds it."""
    from tessera.resolve.engine import PERSON_DOCS, load_entities
    from tessera.resolve.names import NameKeys

    ents = load_entities(store, {"Person"})
    people = sorted(eid for eid, ent in ents.items() if ent.schema == "Person")
    keys = NameKeys(model["name_equivalents"], model["name_stopwords"])
    return compare.build_table(people, [ents[eid].props for eid in people], keys, PERSON_DOCS,
                               [ents[eid].agencies for eid in people])
