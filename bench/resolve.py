"""Benchmark: Tessera's resolver and a Splink 5 (DuckDB) baseline on the same ingested synthetic world.

    .venv/bin/python bench/resolve.py --people 10000 --seed 21 [--skip-splink]

Generates a world, ingests every holder's exports into a fresh SQLite store (not timed), then runs each
engine in its own child process on its own copy of that store, so that each run is a first one (time and peak
RSS are the child's), and scores Person clusters against the world's truth: pairwise P/R/F1, cluster F1,
blocking recall (true pairs among the pairs an engine compared) and pairwise recall per name culture. Prints a
table and Tessera's time by phase, and writes bench/results/resolve.json.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

RESULTS = Path(__file__).with_name("results") / "resolve.json"


def ingest_world(people: int, seed: int, work: Path) -> tuple[Path, str]:
    from tessera.intake.pipeline import BatchMarking, ingest_file
    from tessera.scenario.generate import generate
    from tessera.store.store import Store

    world = work / f"world-{people}-{seed}"
    db = f"sqlite:///{work / f'world-{people}-{seed}.db'}"
    if (work / f"world-{people}-{seed}.db").exists():
        return world, db
    generate(people=people, seed=seed, out=world)
    store = Store.open(db)
    manifest = json.loads((world / "manifest.json").read_text())
    for item in manifest["files"]:
        marking = BatchMarking.make(item.get("classification"), item.get("caveat"), item.get("release_to"),
                                    item.get("grading"))
        mapping = world / item["mapping"] if item.get("mapping") else None
        ingest_file(store, world / item["file"], item["holder"], mapping, marking)
    return world, db


# ---------------------------------------------------------------- scoring against the truth

def truth_of_persons(store, world: Path) -> tuple[dict[str, str], dict[str, str]]:
    from tessera.resolve.evaluate import source_truth

    mapped, _coverage = source_truth(store, world / "truth")
    with open(world / "truth" / "people.csv", newline="", encoding="utf-8") as fh:
        culture = {row["id"]: row["culture"] for row in csv.DictReader(fh)}
    return {eid: t for eid, (schema, t, _c) in mapped.items() if schema == "Person"}, culture


def score(assign: dict[str, str], truth: dict[str, str], culture: dict[str, str],
          compared: set[tuple[str, str]] | None) -> dict:
    from tessera.resolve.evaluate import metrics

    items = [(t, assign.get(eid, eid)) for eid, t in truth.items()]
    m = metrics(items)
    out = {k: m[k] for k in ("pairwise_precision", "pairwise_recall", "pairwise_f1", "cluster_f1", "true_pairs")}
    by_truth = defaultdict(list)
    for eid, t in truth.items():
        by_truth[t].append(eid)
    hit, total = Counter(), Counter()
    found = covered = 0
    for t, eids in by_truth.items():
        c = culture.get(t, "?")
        for a, b in itertools.combinations(sorted(eids), 2):
            total[c] += 1
            hit[c] += assign.get(a, a) == assign.get(b, b)
            if compared is not None:
                found += 1
                covered += (a, b) in compared or (b, a) in compared
    out["blocking_recall"] = round(covered / found, 4) if compared is not None and found else None
    out["recall_by_culture"] = {c: round(hit[c] / total[c], 4) for c in sorted(total) if total[c]}
    return out


# ---------------------------------------------------------------- engines (each in a child process)

def run_tessera(db: str, world: Path) -> dict:
    from tessera.resolve.engine import resolve
    from tessera.store.store import Store

    store = Store.open(db)
    t0 = time.perf_counter()
    result = resolve(store)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from sqlalchemy import func, select

    from tessera.store import tables
    with store.engine.connect() as conn:
        assign = dict(conn.execute(select(tables.entities.c.id,
                                          func.coalesce(tables.entities.c.canonical_id, tables.entities.c.id))).all())
    truth, culture = truth_of_persons(store, world)
    # the run's pairs again, for blocking recall (made after the peak above is read, so not counted in it)
    from tessera.resolve import blocking
    from tessera.resolve.engine import run_model
    from tessera.resolve.spark import person_table

    model = run_model(store)
    table = person_table(store, model)
    plan = blocking.pair_plan(table, model["blocking"]["max_block"],
                              blocking.pair_weight_floor(model["blocking"], table.n))
    out = score(assign, truth, culture, compared_true_pairs(table.ids, plan, truth))
    out.update(seconds=round(seconds, 2), peak_rss_mb=round(rss), pairs_compared=result.pairs_scored,
               largest_cluster=result.largest_cluster, phases=result.seconds)
    return out


def compared_true_pairs(ids: list[str], plan, truth: dict[str, str]) -> set[tuple[str, str]]:
    """The true pairs among the Person records that the engine's blocking compared (read from its pair plan a
    record range at a time, as the engine reads it)."""
    import numpy as np

    groups = defaultdict(list)
    for k, eid in enumerate(ids):
        if eid in truth:
            groups[truth[eid]].append(k)
    codes = np.array(sorted((a << 32) | b for g in groups.values() for a, b in itertools.combinations(sorted(g), 2)),
                     dtype=np.int64)
    found = np.zeros(len(codes), dtype=bool)
    for i, j in plan.chunks():
        chunk = (i << 32) | j
        at = np.searchsorted(chunk, codes).clip(max=max(len(chunk) - 1, 0))
        found |= chunk[at] == codes if len(chunk) else False
    return {(ids[c >> 32], ids[c & 0xFFFFFFFF]) for c in codes[found].tolist()}


def splink_frame(store):
    """One row per Person source entity, names ASCII-folded and lower-cased (the usual Splink preparation)."""
    import pandas as pd
    from rigour.text.translit import ascii_text

    from tessera.resolve.engine import load_entities

    rows = []
    for eid, ent in load_entities(store, {"Person"}).items():
        if ent.schema != "Person":
            continue
        p = ent.props

        def first(prop):
            vals = sorted(p.get(prop, ()))
            return vals[0] if vals else None

        given, family = first("firstName"), first("lastName")
        if not given and not family and first("name"):
            parts = first("name").split()
            given, family = parts[0], " ".join(parts[1:]) or None
        fold = (lambda v: ascii_text(v).lower().strip() or None if v else None)
        dob = first("birthDate")
        rows.append({"unique_id": eid, "first_name": fold(given), "surname": fold(family),
                     "dob": dob if dob and len(dob) == 10 else None, "nationality": first("nationality"),
                     "gender": first("gender"), "phone": first("phone"),
                     "agency": ",".join(sorted(ent.agencies)) or None})
    return pd.DataFrame(rows)


def run_splink(db: str, world: Path) -> dict:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from tessera.store.store import Store

    store = Store.open(db)
    df = splink_frame(store)
    t0 = time.perf_counter()
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "surname"),
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
            "l.first_name = r.surname and l.surname = r.first_name",
            block_on("phone"),
            block_on("substr(first_name, 1, 3)", "substr(surname, 1, 3)", "substr(dob, 1, 4)"),
            block_on("dob", "nationality"),
            block_on("substr(surname, 1, 4)", "substr(dob, 1, 4)", "gender"),
        ],
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("nationality"),
            cl.ExactMatch("gender"),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(df), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob")], recall=0.3)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    # EM sessions blocked on DOB (trains names, nationality, sex, phone) and on phone (trains DOB and names);
    # blocking EM on first name + surname instead learns namesakes as matches on this data (F1 0.36 at 10k)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    predictions = linker.inference.predict()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.5)
    cdf = clusters.as_pandas_dataframe()
    seconds = time.perf_counter() - t0
    pairs = predictions.as_pandas_dataframe()[["unique_id_l", "unique_id_r", "match_probability"]]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assign = dict(zip(cdf["unique_id"], cdf["cluster_id"]))
    compared = set(zip(pairs["unique_id_l"], pairs["unique_id_r"]))
    truth, culture = truth_of_persons(store, world)
    out = score(assign, truth, culture, compared)
    out.update(seconds=round(seconds, 2), peak_rss_mb=round(rss), pairs_compared=len(pairs),
               largest_cluster=int(cdf["cluster_id"].value_counts().max()))
    return out


def child(engine: str, db: str, world: str) -> None:
    fn = {"tessera": run_tessera, "splink": run_splink}[engine]
    print(json.dumps(fn(db, Path(world))))


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--work", type=Path, default=None, help="where worlds and stores are kept (reused)")
    ap.add_argument("--skip-splink", action="store_true")
    ap.add_argument("--child", nargs=3, metavar=("ENGINE", "DB", "WORLD"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="tessera-bench-resolve-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    world, db = ingest_world(args.people, args.seed, work)
    prepared = time.perf_counter() - t0
    engines = ["tessera"] + ([] if args.skip_splink else ["splink"])
    results = {}
    for engine in engines:
        # each engine resolves a fresh copy of the ingested store: a first run, whatever ran on the cache before
        fresh = work / f"run-{args.people}-{args.seed}.db"
        shutil.copyfile(db.removeprefix("sqlite:///"), fresh)
        done = subprocess.run([sys.executable, __file__, "--child", engine, f"sqlite:///{fresh}", str(world)],
                              capture_output=True, text=True)
        fresh.unlink()
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            results[engine] = {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
            continue
        results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    cols = ["seconds", "peak_rss_mb", "pairs_compared", "pairwise_precision", "pairwise_recall", "pairwise_f1",
            "cluster_f1", "blocking_recall", "largest_cluster"]
    print(f"\nResolution of {args.people:,} scenario people (seed {args.seed}); world prepared in {prepared:.0f} s")
    print(f"{'engine':<10}" + "".join(f"{c:>20}" for c in cols))
    for engine, r in results.items():
        if "error" in r:
            print(f"{engine:<10} error: {r['error']}")
            continue
        print(f"{engine:<10}" + "".join(f"{r[c]:>20}" for c in cols))
    for engine, r in results.items():
        if r.get("phases"):
            print(f"{engine} phases (s): " + ", ".join(f"{k} {v}" for k, v in r["phases"].items()))
    cultures = sorted({c for r in results.values() for c in r.get("recall_by_culture", {})})
    print(f"\n{'recall by culture':<20}" + "".join(f"{e:>12}" for e in results))
    for c in cultures:
        print(f"{c:<20}" + "".join(f"{results[e].get('recall_by_culture', {}).get(c, '-'):>12}" for e in results))
    RESULTS.parent.mkdir(exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    key = f"{args.people}-{args.seed}"
    if args.skip_splink and "splink" in previous.get(key, {}).get("engines", {}):
        results = {**results, "splink": previous[key]["engines"]["splink"]}  # kept from an earlier run
    previous[key] = {"people": args.people, "seed": args.seed, "engines": results,
                                             "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"\nwritten {RESULTS}")


if __name__ == "__main__":
    main()
