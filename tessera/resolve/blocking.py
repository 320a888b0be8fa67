"""Blocking: which pairs of Person records are compared (blocking keys, meta-blocking, pair plans)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from operator import itemgetter

import numpy as np

from tessera.arrays import firsts, offsets, pairs_within, sort_grouped, sort_in_two, sorted_unique
from tessera.resolve.compare import HOUSE_NUMBER, PersonTable, keys_of

PREFIX = 3  # letters of a written token in the prefix-pair blocking key


def block_keys(t: PersonTable) -> Iterator[tuple[object, int]]:
    """Yields (key, record) rows: phonetic token with birth year and the year after (so +-1 year meet), token
    pairs and the whole phonetic name (each also with the birth year and the year after, which still meet when
    a common name's own block is over max_block), the whole phonetic name with the period of SEEN_BLOCK_DAYS
    the record was first seen in and the next (people seen weeks apart meet whatever their birth dates say),
    full birth date with a token's first letter (alone, and with the period first seen and the next: at a
    million people a common name's blocks are too large to keep), phones, documents, accounts, addresses, and
    an address's house number with the street's first word."""
    seen = _seen_periods(t)
    for r in range(t.n):
        toks = sorted(tok for tok in t.tokens[r] if len(tok) >= 2)
        y = int(t.year[r])
        if y >= 0:
            for tok in toks:
                yield (tok, y), r
                yield (tok, y + 1), r
            if t.month[r] >= 0 and (t.month[r], t.day[r]) != (1, 1):
                for initial in {tok[0] for tok in toks}:
                    yield ("d", initial, y, int(t.month[r]), int(t.day[r])), r
                    if seen[r] >= 0:
                        for period in (int(seen[r]), int(seen[r]) + 1):
                            yield ("dw", initial, y, int(t.month[r]), int(t.day[r]), period), r
        for k, tok in enumerate(toks):
            for tok2 in toks[k + 1:]:
                yield (tok, tok2), r
                if y >= 0:  # narrower, for when a common pair's block is too large to keep
                    yield (tok, tok2, y), r
                    yield (tok, tok2, y + 1), r
        for ph in t.phones[r]:
            yield ("ph", ph), r
        for kind, values in t.docs[r].items():
            for v in values:
                yield ("doc", kind, v), r
        for kind in ("account", "address"):
            for v in keys_of(t, kind)[r]:
                yield (kind, v), r
        for v in keys_of(t, "address")[r]:  # house number and street's first word: "14 wynn street", "14 wynn st"
            words = v.split()
            if len(words) >= 2 and HOUSE_NUMBER.match(words[0]):
                yield ("street", words[0], words[1]), r
    for row, r in enumerate(t.name_rec.tolist()):  # the whole written name, whatever the dates say
        y = int(t.year[r])
        if t.name_phon[row]:
            yield ("n", t.name_phon[row]), r
            if seen[r] >= 0:
                yield ("nw", t.name_phon[row], int(seen[r])), r
                yield ("nw", t.name_phon[row], int(seen[r]) + 1), r
            if y >= 0:
                yield ("n", t.name_phon[row], y), r
                yield ("n", t.name_phon[row], y + 1), r
        if y >= 0:  # consonant skeletons with the birth year: "Filmon" and "Filimon" share flmn
            for sk in set(t.name_skel[row].split()):
                if len(sk) >= 3:
                    yield ("s", sk, y), r
                    yield ("s", sk, y + 1), r
        # the first letters of each two written tokens: a dropped or doubled letter at the end of both names
        # ("Arben Hoxhaj", "Arbenn Hoxha") changes every phonetic key but not these
        heads = sorted({tok[:PREFIX] for tok in t.name_norm[row].split() if len(tok) >= PREFIX})
        for k, h in enumerate(heads):
            for h2 in heads[k + 1:]:
                yield ("p", h, h2), r


SEEN_BLOCK_DAYS = 45  # records first seen in one such period, or in the next, share a blocking key


def _seen_periods(t) -> np.ndarray:
    """Per record, the period of SEEN_BLOCK_DAYS it was first seen in, -1 never seen."""
    first = np.asarray(t.seen_first, dtype=np.int64)
    return np.where(first >= 0, first // SEEN_BLOCK_DAYS, -1)


def key_codes(t) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit code, record) per blocking key of block_keys, as many rows as it yields: the records that share
    a code are those that share a key. NumPy over each distinct string's hash, so the codes hold in this
    process only (as str hashes do): at a million people 9.7 s as a loop over block_keys' tuples."""
    parts: list[tuple[np.ndarray, np.ndarray]] = []

    def add(codes: np.ndarray, recs: np.ndarray, identifier: bool = False) -> None:  # identifiers' codes negative
        parts.append((codes | _SIGN if identifier else codes & ~_SIGN, recs.astype(np.int32)))

    year, month, day = (np.asarray(a, dtype=np.int64) for a in (t.year, t.month, t.day))
    tok_rec, tokens = _flat(t.tokens)
    long = np.fromiter(map(len, tokens), np.int64, len(tokens)) >= 2
    tok_rec, tokens = tok_rec[long], [tok for tok, ok in zip(tokens, long.tolist()) if ok]
    tok = _hashes(tokens)
    y = year[tok_rec]
    dated = y >= 0
    add(_mix(_K_TOKEN, tok[dated], y[dated]), tok_rec[dated])
    add(_mix(_K_TOKEN, tok[dated], y[dated] + 1), tok_rec[dated])
    m, d = month[tok_rec], day[tok_rec]
    full = dated & (m >= 0) & ~((m == 1) & (d == 1))
    initial = np.fromiter(map(ord, map(itemgetter(0), tokens)), np.int64, len(tokens))
    full = np.flatnonzero(full)
    full = full[np.unique((tok_rec[full] << 21) | initial[full], return_index=True)[1]]  # each initial once
    add(_mix(_K_DATE, initial[full], y[full], m[full], d[full]), tok_rec[full])
    seen = _seen_periods(t)
    full = full[seen[tok_rec[full]] >= 0]
    period = seen[tok_rec[full]]
    for p in (period, period + 1):
        add(_mix(_K_DATE_SEEN, initial[full], y[full], m[full], d[full], p), tok_rec[full])
    a, b = pairs_within(tok_rec)  # each two tokens of a record, unordered
    lo, hi, pair_rec = np.minimum(tok[a], tok[b]), np.maximum(tok[a], tok[b]), tok_rec[a]
    add(_mix(_K_PAIR, lo, hi), pair_rec)
    py = year[pair_rec]
    dated = py >= 0
    add(_mix(_K_PAIR_YEAR, lo[dated], hi[dated], py[dated]), pair_rec[dated])
    add(_mix(_K_PAIR_YEAR, lo[dated], hi[dated], py[dated] + 1), pair_rec[dated])
    recs, phones = _flat(t.phones)
    add(_mix(_K_PHONE, _hashes(phones)), recs, identifier=True)
    docs = [(r, kind, v) for r, held in enumerate(t.docs) if held for kind, values in held.items() for v in values]
    if docs:
        recs, kinds, values = zip(*docs)
        add(_mix(_K_DOC, _hashes(kinds), _hashes(values)), np.array(recs, np.int64), identifier=True)
    recs, accounts = _flat(keys_of(t, "account"))
    add(_mix(_K_ACCOUNT, _hashes(accounts)), recs, identifier=True)
    recs, addresses = _flat(keys_of(t, "address"))
    add(_mix(_K_ADDRESS, _hashes(addresses)), recs)
    streets = [(r, words[0], words[1]) for r, words in zip(recs.tolist(), map(str.split, addresses))
               if len(words) >= 2 and HOUSE_NUMBER.match(words[0])]  # "14 wynn street", "14 wynn st"
    if streets:
        recs, house, street = zip(*streets)
        add(_mix(_K_STREET, _hashes(house), _hashes(street)), np.array(recs, np.int64))
    _name_key_codes(t, year, seen, add)
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # one column at a time, each column's parts dropped once joined: at a million people the parts of both and
    # both joined made the peak of a whole run
    codes = np.concatenate([c for c, _ in parts])
    rec_parts = [r for _, r in parts]
    del parts
    recs = np.concatenate(rec_parts)
    del rec_parts
    return codes, recs.astype(np.int64)


def _name_key_codes(t, year: np.ndarray, seen: np.ndarray, add: Callable[[np.ndarray, np.ndarray], None]) -> None:
    """The written names' keys of key_codes: whole phonetic name (alone, with the birth year, with the period
    first seen), consonant skeletons, prefix pairs."""
    row_rec = np.asarray(t.name_rec, dtype=np.int64)
    phon = list(t.name_phon)
    named = np.fromiter(map(bool, phon), bool, len(phon))
    whole = _hashes(phon)
    y = year[row_rec]
    add(_mix(_K_NAME, whole[named]), row_rec[named])
    period = seen[row_rec]
    sighted = named & (period >= 0)
    add(_mix(_K_NAME_SEEN, whole[sighted], period[sighted]), row_rec[sighted])
    add(_mix(_K_NAME_SEEN, whole[sighted], period[sighted] + 1), row_rec[sighted])
    dated = named & (y >= 0)
    add(_mix(_K_NAME_YEAR, whole[dated], y[dated]), row_rec[dated])
    add(_mix(_K_NAME_YEAR, whole[dated], y[dated] + 1), row_rec[dated])
    dated = np.flatnonzero(y >= 0)
    rows, sk = _items_per_row(t.name_skel[dated], lambda skel: [s for s in set(skel.split()) if len(s) >= 3])
    rows = dated[rows]
    add(_mix(_K_SKELETON, sk, y[rows]), row_rec[rows])
    add(_mix(_K_SKELETON, sk, y[rows] + 1), row_rec[rows])
    rows, heads = _items_per_row(t.name_norm, _prefix_pairs)
    add(_mix(_K_PREFIX, heads), row_rec[rows])


def _prefix_pairs(norm: str) -> list[tuple[str, str]]:
    """The first letters of each two written tokens: a dropped or doubled letter at the end of both names
    ("Arben Hoxhaj", "Arbenn Hoxha") changes every phonetic key but not these."""
    heads = sorted({tok[:PREFIX] for tok in norm.split() if len(tok) >= PREFIX})
    return [(h, h2) for k, h in enumerate(heads) for h2 in heads[k + 1:]]


def _items_per_row(values, make: Callable[[str], list]) -> tuple[np.ndarray, np.ndarray]:
    """(row, hash of the item) for each item of make(value) of each row's value, made once per distinct value (a
    common name's rows repeat it)."""
    index: dict[str, int] = {}
    at = np.fromiter((index.setdefault(v, len(index)) for v in values), np.int64, len(values))
    made = [make(v) for v in index]
    sizes = np.fromiter(map(len, made), np.int64, len(made))
    items = _hashes(list(chain.from_iterable(made)))
    per_row = sizes[at]
    return (np.repeat(np.arange(len(values), dtype=np.int64), per_row),
            items[np.repeat(np.cumsum(sizes)[at] - per_row, per_row) + offsets(per_row)])


def _flat(lists) -> tuple[np.ndarray, list]:
    """(the position of each item's list, the items) of a list of collections."""
    sizes = np.fromiter(map(len, lists), np.int64, len(lists))
    return np.repeat(np.arange(len(lists), dtype=np.int64), sizes), list(chain.from_iterable(lists))


def _hashes(values) -> np.ndarray:
    return np.fromiter(map(hash, values), np.int64, len(values))


# tags of the kinds of blocking key in key_codes, so that no two kinds share a code
_K_TOKEN, _K_DATE, _K_PAIR, _K_PAIR_YEAR, _K_PHONE, _K_DOC, _K_ACCOUNT, _K_ADDRESS, _K_STREET, _K_NAME, \
    _K_NAME_YEAR, _K_SKELETON, _K_PREFIX, _K_NAME_SEEN, _K_DATE_SEEN = range(1, 16)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SIGN = np.int64(-1 << 63)  # set in the codes of identifier keys (phone, document, account), clear in the rest
IDENTIFIER_KEYS = ("ph", "doc", "account")  # the kinds of block_keys' identifier keys


def _mix(kind: int, *columns: np.ndarray) -> np.ndarray:
    """A 64-bit code per row of the columns (int64), hashed with the key's kind (multiply-xorshift)."""
    h = np.full(len(columns[0]), kind, np.uint64)
    with np.errstate(over="ignore"):
        for column in columns:
            h ^= np.ascontiguousarray(column, dtype=np.int64).view(np.uint64)
            h *= _GOLDEN
            h ^= h >> np.uint64(29)
    return h.view(np.int64)


@dataclass
class PairPlan:
    """Blocks as (key, record) rows sorted by key, records ascending within a block, from which the pairs of
    a range of records (a pair belongs to its lower record) come out a range at a time: all pairs of a large
    store are never held at once, and each range's own pairs are complete, so deduplicating within it is
    enough."""
    recs: np.ndarray  # record per row, rows in key order
    partners: np.ndarray  # later members of the row's block (0 in a block over max_block)
    rows: np.ndarray  # the rows with partners, by record
    skipped: int  # blocks over max_block
    row_size: np.ndarray | None = None  # the row's block size, when pairs are pruned by block_weight
    min_weight: float = 0.0  # a pair is kept when its shared blocks' weights sum to at least this

    def chunks(self, budget: int = 4_000_000, among: np.ndarray | None = None
               ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(i, j) int64 arrays, i < j, each pair once, in record ranges of about `budget` pairs before
        deduplication (one record's pairs never split across two ranges); among: only pairs whose lower record
        is True there."""
        return map(self.pairs_of, self.ranges(budget, among))

    @cached_property
    def record_bits(self) -> int:
        """Bits of the highest record number."""
        return max(int(len(self.recs) and self.recs.max()).bit_length(), 1)

    def ranges(self, budget: int = 4_000_000, among: np.ndarray | None = None
               ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The record ranges of `chunks`, as (rows, their partner counts): cheap to make, and each range's pairs
        (`pairs_of`) independent of the others', so that threads can make several at once."""
        rows = self.rows if among is None else self.rows[among[self.recs[self.rows]]]
        counts = self.partners[rows].astype(np.int64)
        ends = np.cumsum(counts)
        recs = self.recs[rows]
        at = 0
        while at < len(rows):
            stop = int(np.searchsorted(ends, (ends[at - 1] if at else 0) + budget, side="right"))
            stop = max(stop, at + 1)
            if stop < len(rows):  # end the range at a change of record
                stop = int(np.searchsorted(recs, recs[stop - 1], side="right"))
            yield rows[at:stop], counts[at:stop]
            at = stop

    def pairs_of(self, record_range: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The distinct pairs (i, j), i < j, of one of `ranges`."""
        part, n = record_range
        later = np.repeat(part + 1, n) + offsets(n)
        if self.min_weight:
            return self._pruned(np.repeat(part, n), later, self.record_bits)
        codes = np.repeat(self.recs[part].astype(np.int64) << 32, n)
        codes |= self.recs[later]
        codes = sorted_unique(codes, runs=True)
        return codes >> 32, codes & 0xFFFFFFFF

    def _pruned(self, rows: np.ndarray, later: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
        """The distinct pairs (lower row's record, later row's record) whose shared blocks weigh at least
        min_weight together (meta-blocking: a pair met only in large blocks is a namesake far more often than a
        match). Each pair's code carries its block's size in the low bits, so one in-place sort groups a pair's
        blocks without an argsort and gathers."""
        size_bits = int(self.row_size.max(initial=1)).bit_length()
        if 2 * bits + size_bits > 63:
            raise ValueError(f"too many records ({len(self.recs):,} rows) to prune pairs in 64-bit codes")
        codes = self.recs[rows].astype(np.int64) << (bits + size_bits)
        codes |= self.recs[later].astype(np.int64) << size_bits
        codes |= self.row_size[rows]
        sort_grouped(codes)  # codes come by lower record already
        pair = codes >> size_bits
        starts = np.flatnonzero(firsts(pair))
        weight_of = block_weight(np.maximum(np.arange(1 << size_bits), 1))  # by block size (0 never occurs)
        total = np.add.reduceat(weight_of[codes & ((1 << size_bits) - 1)], starts) if len(codes) else np.zeros(0)
        pair = pair[starts[total >= self.min_weight]]
        return pair >> bits, pair & ((1 << bits) - 1)


def pair_weight_floor(blocking: dict, records: int) -> float:
    """The meta-blocking floor in force for a table of `records` (the model's blocking section): min_pair_weight
    from prune_from records on (a large store, whose block pairs grow faster than its records), else none."""
    return blocking.get("min_pair_weight", 0.0) if records >= blocking.get("prune_from", 0) else 0.0


def block_weight(size, identifier=False):
    """What meeting in one block of `size` records says for a pair: 1 / log2(1 + size); sharing an identifier
    (a phone, a document, an account: `identifier`) says what a block of two records says, whatever its size:
    it is evidence, not a coincidence of spelling, and a money handler's account is paid into by fifty reports.
    A pair's blocks' weights summed are its meta-blocking weight (pairs below the model's
    blocking.min_pair_weight are not compared)."""
    return 1.0 / np.log2(1.0 + np.where(identifier, 2.0, np.asarray(size, dtype=np.float64)))


def _key_rows(keys: np.ndarray, recs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(key, record) rows sorted by key, records ascending within a key, each once (not a record holding a key
    twice). One in-place sort of codes carrying the record in their low bits does it when no two keys share
    their other bits, which is checked; else a lexsort (several times slower) does."""
    bits = max(int(recs.max(initial=0)).bit_length(), 1)
    distinct = keys.copy()
    sort_in_two(distinct)
    unique_keys = np.count_nonzero(firsts(distinct))
    shared_high = unique_keys != np.count_nonzero(firsts(distinct >> bits))
    del distinct
    if not shared_high:
        packed = sorted_unique((keys & ~np.int64((1 << bits) - 1)) | recs)
        return packed >> bits, (packed & ((1 << bits) - 1)).astype(np.int32)
    order = np.lexsort((recs, keys))
    keys, recs = keys[order], recs[order].astype(np.int32)
    once = firsts(keys) | firsts(recs)
    return keys[once], recs[once]


def pair_plan(t: PersonTable, max_block: int, min_weight: float = 0.0) -> PairPlan:
    """The blocks of the table's records (see block_keys), ready to give their pairs (PairPlan.chunks)."""
    keys, recs = _key_rows(*key_codes(t))
    starts = np.flatnonzero(firsts(keys))
    identifier = keys[starts] < 0
    del keys
    sizes = np.diff(np.r_[starts, len(recs)])
    kept = sizes <= max_block
    ends = np.repeat(np.where(kept, starts + sizes, 0), sizes)
    partners = np.maximum(ends - np.arange(len(recs)) - 1, 0).astype(np.int32)
    del ends
    rows = np.flatnonzero(partners)
    by_record = (recs[rows].astype(np.int64) << 32) | rows  # rows by record: one in-place sort, no argsort
    sort_in_two(by_record)
    rows = (by_record & 0xFFFFFFFF).astype(np.int32)  # row numbers fit: half the memory
    del by_record
    # the size each row's block weighs as: an identifier's block as one of two records (block_weight)
    row_size = np.repeat(np.where(identifier, 2, sizes), sizes).astype(np.int32) if min_weight else None
    return PairPlan(recs, partners, rows, int((~kept & (sizes >= 2)).sum()), row_size, min_weight)


def candidate_pairs(t: PersonTable, max_block: int, min_weight: float = 0.0) -> tuple[np.ndarray, np.ndarray, int]:
    """Every candidate pair (i, j), i < j, at once: for small tables (a large store goes through pair_plan)."""
    plan = pair_plan(t, max_block, min_weight)
    parts = list(plan.chunks()) or [(np.zeros(0, np.int64), np.zeros(0, np.int64))]
    return np.concatenate([i for i, _ in parts]), np.concatenate([j for _, j in parts]), plan.skipped


