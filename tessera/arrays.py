"""NumPy helpers shared by packages that count or pair tens of millions of integer codes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The values sorted, without duplicates, sorting in place: NumPy 2's hash-based np.unique takes several
    times as long on tens of millions of 64-bit codes."""
    values.sort()
    keep = np.empty(len(values), dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def prefetched(items: Iterator[T]) -> Iterator[T]:
    """The items of `items`, the next one made in a thread while the caller works on this one: NumPy's sorts
    and gathers run outside the GIL, so on two cores making chunks of pairs overlaps scoring them."""
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    end = object()

    def offer(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def make() -> None:
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((end, None))
        except BaseException as error:  # handed to the caller, raised there
            offer((end, error))

    worker = threading.Thread(target=make, daemon=True)
    worker.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
        worker.join()
