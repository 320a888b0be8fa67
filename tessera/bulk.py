"""Bulk work over millions of objects: the cyclic garbage collector paused, the next item made ahead in a thread."""

from __future__ import annotations

import gc
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")


@contextmanager
def paused_gc(freeze: bool = False) -> Iterator[None]:
    """The cyclic collector off while the block runs: building a million records' sets and dicts, it would pass
    over all of them again and again (resolving 300k people took 43.5 s with it, 36.6 s without). Those objects
    hold no cycles; any the block leaves are collected once it is back on.

    freeze: what the block built is kept for long (the warm resolver's index), so every object alive at its end
    goes to the collector's permanent generation (gc.freeze), never to be passed over again: else the first
    collections after the block would each walk all of them, seconds at a million records."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


_END = object()


class prefetched(Iterator[T]):
    """The items of `items`, made in a thread that starts at once and stays one item ahead of the caller.

    NumPy's sorts and gathers, and a database sorting rows for a query, run outside the GIL: on two cores making
    the next chunk of pairs overlaps scoring the last, and a query started early is sorted while the caller does
    other work. `items` is closed in that thread when the caller stops early (close), or drops this iterator."""

    def __init__(self, items: Iterator[T]):
        self._ready: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._done = False
        self._worker = threading.Thread(target=_make, args=(items, self._ready, self._stop), daemon=True)
        self._worker.start()

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item, error = self._ready.get()
        if item is _END:
            self.close()
            if error is not None:
                raise error
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the thread (it closes `items`) and wait for it."""
        self._done = True
        self._stop.set()
        self._worker.join()

    def __del__(self) -> None:
        self._stop.set()


def _make(items: Iterator, ready: queue.Queue, stop: threading.Event) -> None:
    """prefetched's thread (it holds no reference to its iterator, which the caller may drop)."""
    def offer(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in items:
            if not offer((item, None)):
                return
        offer((_END, None))
    except BaseException as error:  # handed to the caller, raised there
        offer((_END, error))
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def mapped(make: Callable[[T], U], items: Iterable[T], workers: int = 2) -> Iterator[U]:
    """make(item) for each of `items`, in order, made by `workers` threads at most `workers` items ahead of the
    caller: for work that runs outside the GIL (NumPy's sorts), so that two chunks of pairs are made at once
    while the caller scores the last. Stopping early waits only for the items already begun."""
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(make, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def in_thread(make: Callable[[], T]) -> Callable[[], T]:
    """Begin make() in a thread now; what is returned waits for its result (or raises its error)."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(make)
    pool.shutdown(wait=False)  # the thread ends with make()
    return future.result
