"""Analysts' judgements as labels: corrections to the match weights, learnt from the Person pairs they judged.

Every active same / not-same judgement labels the record pairs across its two sides (a split, the pairs across
its parts) a match or not; each judgement counts once, however many pairs it covers. Only pairs the model was
unsure of teach anything about where it draws the line, so pairs weighing more than `band` bits from the
threshold are left out. A penalised logistic regression then fits, on top of each pair's weight as it stands
(a fixed offset: one bit is one bit of log-odds), a correction per comparison level and one for the prior:

    logit P(match) = ln 2 * (weight - threshold + prior correction + sum of the pair's level corrections)

The penalty pulls every correction towards 0 (a few judgements move the weights a little; many, more), and no
correction exceeds `max_correction` bits. A fitted probability is calibrated, and F1 is best where it reaches
about half the F1 reached (Lipton et al., 2014), not 0.5: the prior moves so that the threshold falls at
`decide_at`. The corrected weights are the model the run scores with (saved with the run, so that explain and
the warm resolver weigh alike). Measured by bench/review.py.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from tessera.resolve import compare
from tessera.resolve.judgements import Judgement


def labelled_pairs(judged: list[Judgement], row_of: dict[str, int]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, label, sample weight, judgement number) over the table's rows for every pair the active judgements
    label: across the two sides of a same (1) or not-same (0), across the parts of a split (0)."""
    rows: list[tuple[int, int, bool, float, int]] = []
    for n, jd in enumerate(x for x in judged if x.active):
        if jd.kind == "split":
            sides = [(g1, g2) for k, g1 in enumerate(jd.groups) for g2 in jd.groups[k + 1:]]
        else:
            sides = [(jd.a_members, jd.b_members)]
        pairs = [(row_of[a], row_of[b]) for left, right in sides for a in left for b in right
                 if a in row_of and b in row_of and a != b]
        rows += [(a, b, jd.kind == "same", 1 / len(pairs), n) for a, b in pairs]
    i, j, label, share, which = zip(*rows) if rows else ((),) * 5
    return (np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64), np.asarray(label, dtype=bool),
            np.asarray(share, dtype=float), np.asarray(which, dtype=np.int64))


def _design(levels: dict[str, np.ndarray], comparisons: list[str]) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """One column per (comparison, level) observed, 1 where the pair is at that level."""
    columns, names = [], []
    for c in comparisons:
        lv = levels[c]
        for k, label in enumerate(compare.LEVELS[c]):
            hit = lv == k
            if hit.any():
                columns.append(hit.astype(float))
                names.append((c, label))
    return (np.column_stack(columns) if columns else np.zeros((len(levels["name"]), 0))), names


def fit_corrections(offset: np.ndarray, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray,
                    penalty: float, iterations: int = 50) -> np.ndarray:
    """Corrections in bits (intercept first, then one per column of X) maximising the weighted log-likelihood
    of y under logit = ln 2 * (offset + [1, X] @ corrections), less penalty/2 * |corrections in nats|^2 (Newton)."""
    A = np.column_stack([np.ones(len(y)), X])
    beta = np.zeros(A.shape[1])
    base = math.log(2) * offset
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(base + A @ beta)))
        grad = A.T @ (sample_weight * (y - p)) - penalty * beta
        hess = (A.T * (sample_weight * p * (1 - p))) @ A + penalty * np.eye(A.shape[1])
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    return beta / math.log(2)


def learn_from_judgements(table: compare.PersonTable, judged: list[Judgement], model: dict) -> dict:
    """The model with its weights corrected by what the judgements say (a `learned` section tells how many and
    by how much), or the model itself when there are too few judgements of Person pairs, or its weights are
    estimated (their m and u are the data's own), or the model has no `labels` section."""
    model = without_corrections(model)  # a saved run's model (--model) is corrected afresh, not twice
    cfg = model.get("labels")
    if not cfg or "m" in model or not judged:
        return model
    i, j, y, share, which = labelled_pairs(judged, {eid: k for k, eid in enumerate(table.ids)})
    if not len(i):
        return model
    levels = compare.compare(table, i, j)
    weight = compare.score(levels, model)
    near = np.abs(weight - model["threshold"]) <= cfg["band"]
    judgements_used = np.unique(which[near])
    matches = len(np.unique(which[near & y]))
    if len(judgements_used) < cfg["min_judgements"] or min(matches, len(judgements_used) - matches) < cfg["min_each"]:
        return model
    comparisons = [c for c in compare.COMPARISONS if c in model["weights"]]
    X, columns = _design({c: levels[c][near] for c in ["name", *comparisons]}, comparisons)
    bits = fit_corrections(weight[near] - model["threshold"], X, y[near].astype(float), share[near],
                           cfg["penalty"])
    bits = np.clip(bits, -cfg["max_correction"], cfg["max_correction"])
    learned = copy.deepcopy(model)
    at = cfg["decide_at"]
    prior = float(bits[0]) - math.log2(at / (1 - at))
    learned["prior"] = model["prior"] + prior
    corrections: dict[str, dict[str, float]] = {}
    for (c, label), b in zip(columns, bits[1:].tolist()):
        learned["weights"][c][label] = model["weights"][c][label] + b
        corrections.setdefault(c, {})[label] = b
    learned["learned"] = {"judgements": int(len(judgements_used)), "matches": int(matches), "prior": prior,
                          "corrections": corrections}
    return learned


def without_corrections(model: dict) -> dict:
    """The model as it was before judgements corrected it (the model itself when they did not)."""
    if "learned" not in model:
        return model
    base = copy.deepcopy(model)
    done = base.pop("learned")
    base["prior"] -= done["prior"]
    for c, by_level in done["corrections"].items():
        for label, b in by_level.items():
            base["weights"][c][label] -= b
    return base
