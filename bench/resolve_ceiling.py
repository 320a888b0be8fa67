"""Benchmark: how far any pair model over Tessera's comparison levels could go on a synthetic world.

    .venv/bin/python bench/resolve_ceiling.py --people 100000 --seed 5 [--held-out 77] [--work DIR]

Resolves the world (as bench/resolve.py builds it, sharing its --work cache) keeping every candidate pair's
comparison levels, then groups the pairs into cells of identical evidence (name, birth date, nationality, gender,
agencies, phone, document, account, address, sighting and journey levels; how common the name is; the agency
pair's repeat rate; the name similarity in steps of 2) and labels each cell with the world's truth. Declaring a
match every cell whose true share exceeds a cut is the best any classifier over these features can do, and more:
the cells are scored on the pairs they were learnt from. Recall counts every true pair, blocked or not. Also
counts the true pairs blocking never compared that the model would accept: what wider blocking could gain at most.
Prints the model's pair decisions beside that ceiling and writes bench/results/resolve_ceiling.json.

With --held-out SEED, the in-sample ceiling is checked out of sample: the cells, and gradient-boosted trees over the
same columns, are learnt from this world's truth and applied to another world's pairs, beside the model and the
engine's own clusters. Pairs are scored as they are, and clustered by their transitive closure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resolve import ingest_world, truth_of_persons

RESULTS = Path(__file__).with_name("results") / "resolve_ceiling.json"
LEVEL_COLUMNS = ("name", "dob", "nationality", "gender", "source", "phone", "document", "account", "address", "seen",
                 "journey")


def cells(levels: dict[str, np.ndarray]) -> np.ndarray:
    """One integer per pair naming its cell of identical evidence."""
    parts = [levels[c].astype(np.int64) + 1 for c in LEVEL_COLUMNS]
    parts.append(np.minimum(np.log2(levels["name_count"]).astype(np.int64), 12))
    parts.append(np.maximum(np.round(levels["agency_pair"] * 2).astype(np.int64) + 40, 0))
    parts.append((levels["name_score"] // 2).astype(np.int64))
    cell = np.zeros(len(parts[0]), dtype=np.int64)
    for part in parts:  # renumbered after each column, so that the combined code never overflows
        cell = np.unique(cell * (int(part.max()) + 1) + part, return_inverse=True)[1].astype(np.int64)
    return cell


def prf(predicted: np.ndarray, same: np.ndarray, true_pairs: int) -> dict:
    tp = int((predicted & same).sum())
    p, r = tp / max(int(predicted.sum()), 1), tp / max(true_pairs, 1)
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / max(p + r, 1e-9), 4)}


def blocking_losses(kept: dict, person: np.ndarray, labelled: np.ndarray) -> tuple[int, int]:
    """(true pairs that blocking never compared, how many of them the model would accept if it had): what a
    wider blocking could gain at most."""
    from tessera.arrays import pairs_within
    from tessera.resolve import compare
    from tessera.resolve.engine import refusals

    records = np.flatnonzero(labelled)
    records = records[np.argsort(person[records], kind="stable")]
    a, b = pairs_within(person[records])
    i, j = np.minimum(records[a], records[b]), np.maximum(records[a], records[b])
    pi, pj = kept["pi"], kept["pj"]
    compared = np.isin((i << 32) | j, (np.minimum(pi, pj).astype(np.int64) << 32) | np.maximum(pi, pj))
    i, j = i[~compared], j[~compared]
    table, model = kept["table"], kept["model"]
    weight = compare.score(compare.compare(table, i, j), model)
    return len(i), int(((weight >= model["threshold"]) & ~refusals(table, i, j, model)).sum())


@dataclass
class Labelled:
    """One resolved world's candidate pairs with the truth: the pairs between two records the truth names, their
    levels, the model's weight and refusal, whether they are one person, and the engine's own clusters."""
    kept: dict
    person: np.ndarray  # per record, a number for its true person, -1 unlabelled
    labelled: np.ndarray  # per record, whether the truth names it
    sel: np.ndarray  # per candidate pair, whether both records are labelled
    levels: dict
    same: np.ndarray
    true_pairs: int
    engine_cluster: np.ndarray  # per record, the engine's final cluster (after its guards and context)

    @property
    def i(self) -> np.ndarray:
        return self.kept["pi"][self.sel]

    @property
    def j(self) -> np.ndarray:
        return self.kept["pj"][self.sel]

    def model_accepts(self) -> np.ndarray:
        return (self.kept["weight"][self.sel] >= self.kept["model"]["threshold"]) & ~self.kept["refused"][self.sel]


def labelled_world(people: int, seed: int, work: Path) -> Labelled:
    """Resolve a world (without writing) keeping every candidate pair's levels, and label them by its truth."""
    from tessera.resolve.engine import resolve
    from tessera.store.store import Store

    world, db = ingest_world(people, seed, work)
    store = Store.open(db)
    kept: dict = {}
    _res, assignment = resolve(store, write=False, keep=kept, return_assignment=True)
    truth, _culture = truth_of_persons(store, world)
    ids, pi, pj = kept["table"].ids, kept["pi"], kept["pj"]
    truths = [truth.get(eid) for eid in ids]
    labelled = np.fromiter((t is not None for t in truths), dtype=bool, count=len(ids))
    code = {t: k for k, t in enumerate(sorted({t for t in truths if t is not None}))}
    person = np.fromiter((code.get(t, -1) for t in truths), dtype=np.int64, count=len(ids))
    clusters = {c: k for k, c in enumerate(sorted(set(assignment.values())))}
    engine_cluster = np.fromiter((clusters[assignment[eid]] for eid in ids), dtype=np.int64, count=len(ids))
    sel = labelled[pi] & labelled[pj]
    sizes = np.bincount(person[labelled])
    levels = {c: v[sel] for c, v in kept.pop("levels").items()}  # the labelled pairs' only: two worlds are held
    return Labelled(kept, person, labelled, sel, levels,
                    (person[pi] == person[pj])[sel], int((sizes * (sizes - 1) // 2).sum()), engine_cluster)


def cluster_prf(cluster: np.ndarray, w: Labelled) -> dict:
    """Pairwise precision, recall and F1 of a clustering of the labelled records (cluster number per record)."""
    c, p = cluster[w.labelled], w.person[w.labelled]
    _, both = np.unique(c * (int(p.max()) + 1) + p, return_counts=True)
    together = np.bincount(np.unique(c, return_inverse=True)[1])
    tp, predicted = int((both * (both - 1) // 2).sum()), int((together * (together - 1) // 2).sum())
    pr, rc = tp / max(predicted, 1), tp / max(w.true_pairs, 1)
    return {"precision": round(pr, 4), "recall": round(rc, 4), "f1": round(2 * pr * rc / max(pr + rc, 1e-9), 4)}


def closure(w: Labelled, accept: np.ndarray) -> np.ndarray:
    """The connected components of the accepted pairs: clustering by transitive closure alone, with none of the
    engine's guards, ordering or group context."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(w.person)
    graph = coo_matrix((np.ones(int(accept.sum()), np.int8), (w.i[accept], w.j[accept])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def features(levels: dict) -> np.ndarray:
    """The learner's columns: each comparison's level (categorical, 0 missing), how common the name and the
    shared keys are (log2), the agency pair's repeat rate and the name similarity."""
    cols = [levels[c].astype(np.float32) + 1 for c in LEVEL_COLUMNS]
    for c in ("name_count", "phone_count", "account_count", "address_count"):
        cols.append(np.log2(np.maximum(levels[c], 1)).astype(np.float32))
    cols += [np.asarray(levels["agency_pair"], np.float32), np.asarray(levels["name_score"], np.float32)]
    return np.column_stack(cols)


def learnt_elsewhere(train: Labelled, test: Labelled, seed: int) -> dict:
    """Two classifiers learnt from one world's truth and applied to another's pairs, beside the model: the cells of
    evidence (a cell the training world lacks keeps the model's decision), and gradient-boosted trees over the
    same columns. Each is scored on the pairs, and on the clusters their transitive closure makes; the trees' cut is
    the one whose closure scores best on the training world."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rows = {"engine (its own clusters)": {"pairs": None, "clusters": cluster_prf(test.engine_cluster, test)}}
    accept = test.model_accepts()
    rows["model (weight >= threshold)"] = {"pairs": prf(accept, test.same, test.true_pairs),
                                           "clusters": cluster_prf(closure(test, accept), test)}
    both = cells({c: np.r_[train.levels[c], test.levels[c]] for c in train.levels})
    train_cell, test_cell = both[:len(train.same)], both[len(train.same):]
    counts = np.bincount(train_cell, minlength=len(both))
    share = np.bincount(train_cell, weights=train.same, minlength=len(both)) / np.maximum(counts, 1)
    seen = counts[test_cell] > 0
    accept = np.where(seen, share[test_cell] > 0.5, accept)
    rows["cells learnt elsewhere (true share > 0.5)"] = {"pairs": prf(accept, test.same, test.true_pairs),
                                                         "clusters": cluster_prf(closure(test, accept), test)}
    rng = np.random.default_rng(seed)
    false = np.flatnonzero(~train.same)
    sample = np.r_[np.flatnonzero(train.same), rng.choice(false, min(len(false), 2_000_000), replace=False)]
    weight = np.where(train.same[sample], 1.0, len(false) / min(len(false), 2_000_000))
    trees = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, max_leaf_nodes=63,
                                           categorical_features=list(range(len(LEVEL_COLUMNS))), random_state=seed)
    trees.fit(features(train.levels)[sample], train.same[sample], sample_weight=weight)
    train_p, test_p = (trees.predict_proba(features(w.levels))[:, 1] for w in (train, test))
    cut = max((0.3, 0.5, 0.7, 0.8, 0.9, 0.95),
              key=lambda c: cluster_prf(closure(train, train_p > c), train)["f1"])
    accept = test_p > cut
    rows[f"gradient-boosted trees learnt elsewhere (p > {cut})"] = {
        "pairs": prf(accept, test.same, test.true_pairs), "clusters": cluster_prf(closure(test, accept), test)}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--held-out", type=int, default=None, metavar="SEED",
                    help="also learn from this world's truth and score on a world of another seed")
    ap.add_argument("--work", type=Path, default=None, help="where worlds and stores are kept (reused)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="tessera-bench-ceiling-"))
    work.mkdir(parents=True, exist_ok=True)
    w = labelled_world(args.people, args.seed, work)
    cell = cells(w.levels)
    share = np.bincount(cell, weights=w.same) / np.bincount(cell)
    rows = {"model (weight >= threshold, before clustering)": prf(w.model_accepts(), w.same, w.true_pairs)}
    for cut in (0.3, 0.4, 0.5, 0.6):
        rows[f"ceiling: cells with true share > {cut}"] = prf(share[cell] > cut, w.same, w.true_pairs)
    blocked = int(w.same.sum())
    lost, accepted = blocking_losses(w.kept, w.person, w.labelled)
    print(f"\nPair decisions on {args.people:,} scenario people (seed {args.seed}): {w.true_pairs:,} true pairs, "
          f"{blocked:,} of them compared; {int(cell.max()) + 1:,} cells of evidence")
    print(f"true pairs blocking never compared: {lost:,}, of which the model would accept {accepted:,} "
          "(weight >= threshold, not refused)")
    print(f"{'':<52}{'precision':>10}{'recall':>10}{'f1':>10}")
    for label, r in rows.items():
        print(f"{label:<52}{r['precision']:>10}{r['recall']:>10}{r['f1']:>10}")
    out = {"people": args.people, "seed": args.seed, "true_pairs": w.true_pairs, "compared_true_pairs": blocked,
           "uncompared_true_pairs": lost, "uncompared_true_pairs_the_model_would_accept": accepted,
           "cells": int(cell.max()) + 1, "rows": rows}
    if args.held_out is not None:
        test = labelled_world(args.people, args.held_out, work)
        learnt = learnt_elsewhere(w, test, args.seed)
        print(f"\nLearnt on seed {args.seed}'s truth, scored on seed {args.held_out} "
              f"({test.true_pairs:,} true pairs); clusters by transitive closure of the accepted pairs")
        print(f"{'':<58}{'pair P':>8}{'pair R':>8}{'pair F1':>8}{'clus P':>8}{'clus R':>8}{'clus F1':>8}")
        for label, r in learnt.items():
            pair = [r["pairs"][k] if r["pairs"] else "-" for k in ("precision", "recall", "f1")]
            print(f"{label:<58}" + "".join(f"{v:>8}" for v in pair + [r["clusters"][k] for k in
                                                                    ("precision", "recall", "f1")]))
        out["held_out"] = {"seed": args.held_out, "rows": learnt}
    out["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    previous[f"{args.people}-{args.seed}"] = out
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"\nwritten {RESULTS}")


if __name__ == "__main__":
    main()
