"""NumPy helpers shared by packages that count or pair tens of millions of integer codes."""

from __future__ import annotations

import numpy as np


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The values sorted, without duplicates, sorting in place: NumPy 2's hash-based np.unique takes several
    times as long on tens of millions of 64-bit codes."""
    values.sort()
    return values[firsts(values)]


def firsts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts, as a mask (of sorted values: where each distinct value starts)."""
    out = np.ones(len(values), dtype=bool)
    np.not_equal(values[1:], values[:-1], out=out[1:])
    return out
