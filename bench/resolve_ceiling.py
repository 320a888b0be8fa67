"""Benchmark: how far any pair model over Tessera's comparison levels could go on a synthetic world.

    .venv/bin/python bench/resolve_ceiling.py --people 100000 --seed 5 [--work DIR]

Resolves the world (as bench/resolve.py builds it, sharing its --work cache) keeping every candidate pair's
comparison levels, then groups the pairs into cells of identical evidence (name, birth date, nationality, gender,
agencies, phone, document, account, address, sighting and journey levels; how common the name is; the agency
pair's repeat rate; the name similarity in steps of 2) and labels each cell with the world's truth. Declaring a
match every cell whose true share exceeds a cut is the best any classifier over these features can do, and more:
the cells are scored on the pairs they were learnt from. Recall counts every true pair, blocked or not. Also
counts the true pairs blocking never compared that the model would accept: what wider blocking could gain at most.
Prints the model's pair decisions beside that ceiling and writes bench/results/resolve_ceiling.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
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


def main() -> None:
    from tessera.resolve.engine import resolve
    from tessera.store.store import Store

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--work", type=Path, default=None, help="where worlds and stores are kept (reused)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="tessera-bench-ceiling-"))
    work.mkdir(parents=True, exist_ok=True)
    world, db = ingest_world(args.people, args.seed, work)
    store = Store.open(db)
    kept: dict = {}
    resolve(store, write=False, keep=kept)
    truth, _culture = truth_of_persons(store, world)
    ids, pi, pj = kept["table"].ids, kept["pi"], kept["pj"]
    people = [truth.get(eid) for eid in ids]
    labelled = np.fromiter((p is not None for p in people), dtype=bool, count=len(ids))
    code = {t: k for k, t in enumerate(sorted({p for p in people if p is not None}))}
    person = np.fromiter((code.get(p, -1) for p in people), dtype=np.int64, count=len(ids))
    sel = labelled[pi] & labelled[pj]
    same = (person[pi] == person[pj])[sel]
    sizes = np.bincount(person[labelled])
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    levels = {c: v[sel] for c, v in kept["levels"].items()}
    cell = cells(levels)
    share = np.bincount(cell, weights=same) / np.bincount(cell)
    model = kept["weight"][sel] >= kept["model"]["threshold"]
    rows = {"model (weight >= threshold, before clustering)": prf(model & ~kept["refused"][sel], same, true_pairs)}
    for cut in (0.3, 0.4, 0.5, 0.6):
        rows[f"ceiling: cells with true share > {cut}"] = prf(share[cell] > cut, same, true_pairs)
    blocked = int(same.sum())
    lost, accepted = blocking_losses(kept, person, labelled)
    print(f"\nPair decisions on {args.people:,} scenario people (seed {args.seed}): {true_pairs:,} true pairs, "
          f"{blocked:,} of them compared; {int(cell.max()) + 1:,} cells of evidence")
    print(f"true pairs blocking never compared: {lost:,}, of which the model would accept {accepted:,} "
          "(weight >= threshold, not refused)")
    print(f"{'':<52}{'precision':>10}{'recall':>10}{'f1':>10}")
    for label, r in rows.items():
        print(f"{label:<52}{r['precision']:>10}{r['recall']:>10}{r['f1']:>10}")
    out = {"people": args.people, "seed": args.seed, "true_pairs": true_pairs, "compared_true_pairs": blocked,
           "uncompared_true_pairs": lost, "uncompared_true_pairs_the_model_would_accept": accepted,
           "cells": int(cell.max()) + 1, "rows": rows,
           "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    previous[f"{args.people}-{args.seed}"] = out
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"\nwritten {RESULTS}")


if __name__ == "__main__":
    main()
