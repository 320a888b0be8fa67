"""Shared phones found for many pairs at once (PhoneIndex) equal those found a pair at a time."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np

from tessera.resolve import compare


def test_phone_index_agrees_with_set_intersection_for_every_pair():
    rng = random.Random(7)
    pool = [f"+4477009{k:05d}" for k in range(40)]
    phones = [set(rng.sample(pool, rng.choice([0, 0, 1, 1, 1, 2, 3]))) for _ in range(300)]
    counts = Counter(p for ps in phones for p in ps)
    index = compare.PhoneIndex.of(phones, counts)
    i, j = (np.array(x, dtype=np.int64) for x in zip(*[(a, b) for a in range(300) for b in range(a + 1, 300)
                                                        if phones[a] and phones[b]]))
    shared, fewest = index.shared(i, j)
    expected_shared = [bool(phones[a] & phones[b]) for a, b in zip(i.tolist(), j.tolist())]
    expected_fewest = [min((counts[p] for p in phones[a] & phones[b]), default=1)
                       for a, b in zip(i.tolist(), j.tolist())]
    assert shared.tolist() == expected_shared and fewest.tolist() == expected_fewest
    assert 0 < sum(expected_shared) < len(expected_shared) and max(expected_fewest) > 1
