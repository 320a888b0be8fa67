"""NumPy helpers shared by packages that count or pair tens of millions of integer codes."""

from __future__ import annotations

import numpy as np


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The values sorted, without duplicates, sorting in place: NumPy 2's hash-based np.unique takes several
    times as long on tens of millions of 64-bit codes."""
    values.sort()
    keep = np.empty(len(values), dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]
