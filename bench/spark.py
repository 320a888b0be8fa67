"""Benchmark: resolution on Spark (PySpark local mode) beside the engine in one process, on the same world.

    .venv/bin/python bench/spark.py --people 20000 --seed 21 [--cores 2]

Ingests a synthetic world into a fresh SQLite store (not timed; bench/resolve.py's ingest), then resolves it
with the engine (`engine.resolve`) and with `spark.resolve_on_spark` (Spark session start-up timed apart),
neither writing, checks that both give the same canonical ids, and reports times, candidate pairs and the
size of the Person table Spark broadcasts. Prints a table and writes bench/results/spark.json.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

RESULTS = Path(__file__).with_name("results") / "spark.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--work", type=Path, default=None, help="keep the world and store here (reused)")
    args = parser.parse_args()

    from resolve import ingest_world

    from tessera.resolve.engine import load_model, resolve
    from tessera.resolve.spark import local_session, person_table, resolve_on_spark
    from tessera.store.store import Store

    work = args.work or Path(tempfile.mkdtemp(prefix="tessera-spark-"))
    work.mkdir(parents=True, exist_ok=True)
    _world, db = ingest_world(args.people, args.seed, work)
    store = Store.open(db)
    model = load_model()

    t = time.perf_counter()
    local_result, local = resolve(store, model, write=False, return_assignment=True)
    local_s = time.perf_counter() - t

    t = time.perf_counter()
    spark = local_session(cores=args.cores, memory="2g")
    startup_s = time.perf_counter() - t
    t = time.perf_counter()
    spark_result, on_spark = resolve_on_spark(store, spark, model, write=False, partitions=args.partitions)
    spark_s = time.perf_counter() - t
    spark.stop()

    table_bytes = len(pickle.dumps(person_table(store, model), protocol=pickle.HIGHEST_PROTOCOL))
    rows = [
        ("source entities", local_result.entities, spark_result.entities),
        ("Person records", local_result.persons, spark_result.persons),
        ("candidate pairs", local_result.candidate_pairs, spark_result.candidate_pairs),
        ("pairs accepted", local_result.pairs_accepted, spark_result.pairs_accepted),
        ("clusters", local_result.clusters, spark_result.clusters),
        ("resolve seconds", round(local_s, 1), round(spark_s, 1)),
        ("Spark session start seconds", "-", round(startup_s, 1)),
    ]
    same = local == on_spark
    print(f"{'measure':32} {'engine':>14} {'Spark local[' + str(args.cores) + ']':>16}")
    for label, a, b in rows:
        print(f"{label:32} {a!s:>14} {b!s:>16}")
    print(f"same canonical ids: {same}; broadcast Person table {table_bytes / 1e6:.1f} MB "
          f"({table_bytes / max(1, local_result.persons):.0f} bytes a record)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(dict(
        people=args.people, seed=args.seed, cores=args.cores, same_canonical_ids=same,
        engine=dict(wall_seconds=round(local_s, 2), **{k: v for k, v in local_result.as_dict().items() if k != "feed"}),
        spark=dict(wall_seconds=round(spark_s, 2), session_start_seconds=round(startup_s, 2),
                   **{k: v for k, v in spark_result.as_dict().items() if k != "feed"}),
        broadcast_table_bytes=table_bytes), indent=2, default=str) + "\n")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
