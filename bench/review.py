"""Benchmark: the review loop. Resolve; an analyst judges the review queue's first K pairs; resolve again.

    .venv/bin/python bench/review.py --people 100000 --seed 5 --judge 300 1000 [--work DIR]

Ingests a world as bench/resolve.py does and resolves it. Then, for each K, on a copy of that store: judges the
first K pairs of the review queue from the world's truth (an analyst who is always right), resolves again,
and scores Person clusters against the truth -- once with the judgements as constraints and as labels (the
weights corrected by them, labels.py), once as constraints only (the model without its `labels` section), so
that what learning adds is seen beside what the judged pairs themselves fix. Prints a table and writes
bench/results/review.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from resolve import ingest_world, score, truth_of_persons

RESULTS = Path(__file__).with_name("results") / "review.json"


def copy_store(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite store, what its write-ahead log holds included."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close(), b.close()


def resolved(db: Path, model: dict, truth: dict, culture: dict) -> dict:
    from tessera.resolve.engine import resolve
    from tessera.store.store import Store

    t = time.perf_counter()
    store = Store.open(f"sqlite:///{db}")
    res, assign = resolve(store, model, return_assignment=True)
    scores = score(assign, truth, culture, None)
    return dict(seconds=round(time.perf_counter() - t, 1), learned_from=res.learned_from,
                review_pairs=res.review_pairs, **{k: scores[k] for k in (
                    "pairwise_precision", "pairwise_recall", "pairwise_f1", "cluster_f1")})


def judge_queue(db: Path, k: int, truth: dict) -> dict:
    """Judge the queue's first k pairs from the truth; how many of each kind."""
    from tessera.resolve.judgements import add_judgement
    from tessera.resolve.review import review_queue
    from tessera.store.store import Store

    store = Store.open(f"sqlite:///{db}")
    counts = {"same": 0, "not-same": 0}
    with store.engine.begin() as conn:
        for item in review_queue(conn, limit=k):
            a, b = item["a"], item["b"]
            kind = "same" if a in truth and truth.get(a) == truth.get(b) else "not-same"
            add_judgement(conn, kind, a, b, "bench: the world's truth", "bench-analyst")
            counts[kind] += 1
    return counts


def main() -> None:
    from tessera.resolve.engine import load_model
    from tessera.store.store import Store

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--judge", type=int, nargs="+", default=[300, 1000])
    ap.add_argument("--work", type=Path, default=None, help="keep worlds here (default: a temporary directory)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="tessera-review-"))
    world, db_url = ingest_world(args.people, args.seed, work)
    truth, culture = truth_of_persons(Store.open(db_url), world)
    model = load_model()
    unlearned = {k: v for k, v in model.items() if k != "labels"}
    scratch = Path(tempfile.mkdtemp(prefix="tessera-review-run-"))
    base = scratch / "resolved.db"
    copy_store(Path(db_url.removeprefix("sqlite:///")), base)
    rows = [dict(judged=0, **resolved(base, model, truth, culture))]
    for k in args.judge:
        for learn in (True, False):
            db = scratch / f"judged-{k}.db"
            copy_store(base, db)
            counts = judge_queue(db, k, truth)
            rows.append(dict(judged=k, labels=learn, same=counts["same"], not_same=counts["not-same"],
                             **resolved(db, model if learn else unlearned, truth, culture)))
            db.unlink()
    shutil.rmtree(scratch)

    print(f"\nreview loop, {args.people:,} people, seed {args.seed}")
    print(f"{'judged':>7} {'same':>5} {'labels':>6} {'learnt from':>11} {'P':>7} {'R':>7} {'F1':>7} {'cluster F1':>10} {'s':>6}")
    for r in rows:
        print(f"{r['judged']:>7} {r.get('same', ''):>5} {str(r.get('labels', '')):>6} {r['learned_from']:>11} "
              f"{r['pairwise_precision']:>7} {r['pairwise_recall']:>7} {r['pairwise_f1']:>7} {r['cluster_f1']:>10} "
              f"{r['seconds']:>6}")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[f"{args.people}-{args.seed}"] = dict(people=args.people, seed=args.seed, runs=rows,
                                                 measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
