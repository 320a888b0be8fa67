"""Scoring with a cap: names are compared only for pairs that could reach the cap, and every other pair gets an
upper bound of its weight -- so a full run decides exactly as if every pair had been scored."""

from __future__ import annotations

import numpy as np
import pytest
from tessera.demo import run_demo
from tessera.resolve import blocking, compare
from tessera.resolve.engine import load_model, resolve
from tessera.resolve.spark import person_table
from tessera.store.store import Store


@pytest.mark.parametrize("weights_set_at", [None, 20])  # 20 records: a store 30 times larger weakens weak names
def test_capped_scores_are_exact_above_the_cap_and_bounds_below_it(tmp_path, weights_set_at):
    store = Store.open(f"sqlite:///{tmp_path / 'tessera.db'}")
    run_demo(store, tmp_path / "world", 250, 7)
    model = load_model()
    if weights_set_at:
        model["population"]["records"] = weights_set_at
    table = person_table(store, model)
    i, j, _ = blocking.candidate_pairs(table, model["blocking"]["max_block"])
    exact = compare.score(compare.compare(table, i, j), model)
    cap = model["threshold"] - model["context"]["weight"]
    weight, capped, name_level = compare.capped_scores(table, i, j, model, cap)
    assert 0 < capped.sum() < len(i)  # some pairs skipped their names, some did not
    assert np.allclose(weight[~capped], exact[~capped])
    assert (weight[capped] >= exact[capped] - 1e-9).all() and (weight[capped] < cap).all()
    assert (exact[capped] < cap).all()  # nothing that could have matched, or joined by context, was capped
    full = compare.compare(table, i, j)["name"]
    assert (name_level[~capped] == full[~capped]).all() and (name_level[capped] == compare.MISSING).all()


def test_a_run_with_capped_scoring_in_record_ranges_gives_the_same_clusters_as_scoring_every_pair_at_once(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'tessera.db'}")
    run_demo(store, tmp_path / "world", 250, 7)
    capped = resolve(store, write=False, return_assignment=True)[1]
    everything = resolve(store, write=False, return_assignment=True, keep={})[1]  # keep: every pair's levels
    model = load_model()
    model["blocking"] = {**model["blocking"], "chunk": 300}  # a few records' pairs at a time
    in_ranges = resolve(store, model=model, write=False, return_assignment=True)[1]
    groups = (lambda assign: sorted(sorted(m for m in assign if assign[m] == c) for c in set(assign.values())))
    assert groups(capped) == groups(everything) == groups(in_ranges)
    assert sum(len(g) > 1 for g in groups(capped)) > 10  # a world with real clusters, or the check says nothing


def test_names_scored_once_per_distinct_pair_score_as_every_pair_would(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'tessera.db'}")
    run_demo(store, tmp_path / "world", 250, 7)
    table = person_table(store, load_model())
    rng = np.random.default_rng(3)
    rows = len(table.name_rec)
    ra = np.r_[rng.integers(0, rows, 3000), np.arange(rows)]
    rb = np.r_[rng.integers(0, rows, 3000), np.arange(rows)[::-1]]
    ra, rb = np.r_[ra, rb], np.r_[rb, ra]  # each pair both ways round, and many repeated
    level, score = compare.name_scores(table, ra, rb)
    for k in range(0, len(ra), 7):
        one_level, one_score = compare._name_scores(table, ra[k:k + 1], rb[k:k + 1])
        assert (level[k], score[k]) == (one_level[0], one_score[0])
    assert len(set(level.tolist())) > 4  # several levels met, not one


def test_name_pairs_scored_in_chunks_through_the_cache_score_as_without_it_and_each_once(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'tessera.db'}")
    run_demo(store, tmp_path / "world", 250, 7)
    table = person_table(store, load_model())
    i, j, _ = blocking.candidate_pairs(table, load_model()["blocking"]["max_block"])
    plain = compare.name_levels(table, i, j)
    table.name_cache = cache = compare.NameCache()
    chunks = [compare.name_levels(table, i[k:k + 97], j[k:k + 97]) for k in range(0, len(i), 97)]
    again = compare.name_levels(table, i, j)  # every pair seen: nothing left to score
    for column in ("name", "name_score", "name_count"):
        assert np.array_equal(np.concatenate([c[column] for c in chunks]), plain[column])
        assert np.array_equal(again[column], plain[column])
    held = np.concatenate([cache.bulk[0], cache.recent[0]])
    assert len(held) == len(np.unique(held)) > 100 and len(cache.bulk[0]) > 0  # each pair once; merged in
    asked = []
    cache.scores(np.sort(held), lambda k: asked.append(k) or (None, None))
    assert asked == []
