"""sorted_unique (arrays); prefetched and mapped (bulk), which make the next items in threads."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tessera.arrays import sorted_unique
from tessera.bulk import prefetched


def test_sorted_unique_sorts_and_drops_repeats():
    assert sorted_unique(np.array([5, 1, 5, 3, 1], dtype=np.int64)).tolist() == [1, 3, 5]


def test_prefetched_gives_every_item_in_order_made_in_another_thread():
    made_in = []

    def items():
        for k in range(50):
            made_in.append(threading.get_ident())
            yield k

    assert list(prefetched(items())) == list(range(50))
    assert set(made_in) == {made_in[0]} and made_in[0] != threading.get_ident()


def test_prefetched_raises_the_maker_s_error_where_the_items_are_used():
    def items():
        yield 1
        raise ValueError("bad chunk")

    got = []
    with pytest.raises(ValueError, match="bad chunk"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [1]


def test_a_caller_that_stops_early_stops_the_maker_and_closes_its_items():
    made, closed = [], []

    def items():
        try:
            for k in range(1000):
                made.append(k)
                yield k
        finally:
            closed.append(threading.get_ident())  # a cursor would be closed here

    threads = threading.active_count()
    stream = prefetched(items())
    assert [next(stream), next(stream)] == [0, 1]
    stream.close()  # joins the maker, which must not wait for a reader that has gone
    assert len(made) <= 4 and threading.active_count() == threads
    assert len(closed) == 1 and closed[0] != threading.get_ident()


def test_paused_gc_restores_the_collector_and_freezes_what_is_kept_when_asked():
    import gc

    from tessera.bulk import paused_gc

    gc.unfreeze()
    with paused_gc():
        assert not gc.isenabled()
        kept = [{"k": k} for k in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with paused_gc(freeze=True):
        more = [{"k": k} for k in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() >= len(kept) + len(more)
    gc.unfreeze()


def test_prefetched_starts_at_once_and_a_dropped_iterator_stops_its_thread():
    started, closed = threading.Event(), threading.Event()

    def items():
        try:
            started.set()  # a query sorting its rows before the first one comes
            yield from range(1000)
        finally:
            closed.set()

    stream = prefetched(items())
    assert started.wait(5)  # made before anyone asked for an item
    del stream  # never read: the thread must not wait for a reader forever
    deadline = time.monotonic() + 5
    while not closed.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert closed.is_set()


def test_mapped_gives_results_in_order_made_by_two_threads_at_most_two_ahead():
    from tessera.bulk import mapped

    lock, running, most, given = threading.Lock(), [0], [0], []

    def make(k):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01)  # outside the GIL, as NumPy's sorts are
        with lock:
            running[0] -= 1
        return k * k

    def items():
        for k in range(12):
            given.append(k)
            yield k

    out = []
    for got in mapped(make, items(), workers=2):
        out.append(got)
        assert len(given) <= len(out) + 2  # never more than two items ahead of the caller
    assert out == [k * k for k in range(12)] and most[0] == 2


def test_sorting_codes_grouped_by_their_high_bits_gives_what_a_plain_sort_gives():
    from tessera.arrays import sort_grouped

    rng = np.random.default_rng(3)
    codes = (np.sort(rng.integers(0, 50, 5_000)) << 40) | rng.integers(0, 1 << 40, 5_000)
    codes[::7] = codes[1::7][:len(codes[::7])]  # repeats, which sorted_unique drops
    plain = np.sort(codes)
    grouped = codes.copy()
    sort_grouped(grouped)
    assert np.array_equal(grouped, plain)
    assert np.array_equal(sorted_unique(codes.copy(), runs=True), np.unique(codes))


def test_sorting_in_two_halves_and_merging_gives_a_plain_sort():
    from tessera.arrays import sort_in_two

    codes = np.random.default_rng(4).integers(-(1 << 62), 1 << 62, 1_500_001)  # past the two-thread size, odd
    expected = np.sort(codes)
    sort_in_two(codes)
    assert np.array_equal(codes, expected)


def test_offsets_number_the_places_within_each_range():
    from tessera.arrays import offsets

    assert offsets(np.array([3, 0, 1, 2])).tolist() == [0, 1, 2, 0, 0, 1]
    assert offsets(np.zeros(0, np.int64)).tolist() == []


def test_in_thread_begins_at_once_and_gives_the_result_or_the_error():
    from tessera.bulk import in_thread

    began = threading.Event()
    result = in_thread(lambda: began.set() or 42)
    assert began.wait(5) and result() == 42

    def fail():
        raise ValueError("no events table")
    with pytest.raises(ValueError, match="no events table"):
        in_thread(fail)()


def test_pairs_within_are_each_two_places_of_every_run():
    from tessera.arrays import pairs_within

    a, b = pairs_within(np.array([4, 4, 4, 7, 9, 9]))
    assert list(zip(a.tolist(), b.tolist())) == [(0, 1), (0, 2), (1, 2), (4, 5)]
    assert [len(x) for x in pairs_within(np.zeros(0, np.int64))] == [0, 0]
