"""Person comparison: columnar features, vectorised comparison levels, weights and scores."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from tessera.arrays import firsts, offsets, pairs_within
from tessera.resolve.names import NameKeys, phonetic, skeleton

# Comparison levels, best first. Level -1 means "missing on one side" and weighs nothing.
LEVELS: dict[str, list[str]] = {
    "name": ["exact", "phonetic", "close", "subset", "similar", "one_part", "weak", "poor", "different"],
    "dob": ["exact", "exact_estimated", "day_month_swap", "one_part", "one_year_same_day", "estimate_year",
            "estimate_near", "year_only", "same_year", "one_year", "two_years", "conflict"],
    "nationality": ["same", "different"],
    "gender": ["same", "different"],
    "phone": ["shared", "different"],
    "source": ["same_agency", "other_agency"],
    "document": ["shared", "one_typo", "different"],
    "account": ["shared", "different"],
    "address": ["shared", "similar", "same_street", "different"],
    "seen": ["weeks", "months", "year", "two_years", "years"],
    "journey": ["crossed", "settled", "returned", "before"],
}
SEEN_CUTS = (60, 120, 365, 730)  # days between two records' sightings: the upper bound of each "seen" level
CROSSED_DAYS = 45  # "crossed": seen abroad at most this many days before landing
SPAN_ROWS = 6  # when and where a record was seen: context.seen_spans' rows, in PersonTable.take_spans' order
LANDING_SLACK = 2  # days a landing's date may be out (recorded a day late): "returned" and "before" lie beyond
MISSING = -1
NO_NAME = 0  # the norm_id of an empty name row (a record with no usable name), in every table's numbering
_NAME_CUTS = [("close", 90.0), ("similar", 80.0), ("weak", 70.0), ("poor", 55.0)]


@dataclass
class PersonTable:
    """One row per Person record (index = position in `ids`); names exploded one row per written name."""

    ids: list[str]
    name_rec: np.ndarray        # name row -> record
    name_norm: np.ndarray       # object: sorted normalised tokens joined by spaces
    name_phon: np.ndarray       # object: sorted phonetic tokens
    name_skel: np.ndarray       # object: sorted consonant skeletons
    norm_id: np.ndarray         # int ids of name_norm (equality test)
    phon_id: np.ndarray         # int ids of name_phon
    phon_count: np.ndarray      # per name row, records carrying its phonetic name (TF); read by index only
    first_name: np.ndarray      # record -> its first name row
    year: np.ndarray
    month: np.ndarray
    day: np.ndarray
    years_lo: np.ndarray
    years_hi: np.ndarray
    nationality: np.ndarray     # int code, -1 missing
    gender: np.ndarray          # int code, -1 missing
    phones: list[set[str]]
    docs: list[dict[str, set[str]]]
    tokens: list[set[str]]      # phonetic tokens of all names (blocking)
    agency: np.ndarray          # int code of the (first) agency that holds the record, -1 unknown
    agency_pairs: np.ndarray | None = None  # log2 (repeat rate of agency pair / overall), see agency_pair_rates
    accounts: list[set[str]] | None = None   # normalised IBANs / account numbers the record pays from or into
    addresses: list[set[str]] | None = None  # normalised address texts
    key_names: dict[tuple[str, str], int] | None = None  # (kind, key) -> the people holding it (_key_holders)
    phone_counts: Counter | None = None  # phone -> records holding it (the warm resolver's: the whole population)
    labels: dict[str, list[str]] | None = None  # "nationality", "agency": the value each code stands for
    name_cache: NameCache | None = None  # pairs of written names already scored (a run's, across its chunks)
    seen_first: np.ndarray | None = None  # day number (date.toordinal) of the first event the record was seen at, -1
    seen_last: np.ndarray | None = None   # and of the last (context.seen_spans)
    landed: np.ndarray | None = None      # the first day it was seen at an arrival (context.ARRIVAL), -1
    abroad: np.ndarray | None = None      # the last day it was seen at an event abroad, -1
    home_first: np.ndarray | None = None  # the first day it was seen at home other than at an arrival, -1
    home_last: np.ndarray | None = None   # and the last
    _holding: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)
    _phone_index: PhoneIndex | None = field(default=None, init=False, repr=False, compare=False)

    def keys_of(self, kind: str) -> list[set[str]]:
        return keys_of(self, kind)

    def holding(self, name: str) -> np.ndarray:
        """Per record, whether it holds any value of the list field `name` (phones, docs, accounts, addresses);
        made once per table (again if its lists have grown), not once per chunk of pairs."""
        values = getattr(self, name) or []
        has = self._holding.get(name)
        if has is None or len(has) != len(values):
            has = self._holding[name] = np.fromiter((bool(v) for v in values), dtype=bool, count=len(values))
        return has

    def holds_flags(self, name: str) -> bool:
        """Whether holding(name) is made and current (no per-record pass needed to answer it)."""
        has = self._holding.get(name)
        return has is not None and len(has) == len(getattr(self, name) or [])

    def phone_index(self, make: bool = True) -> PhoneIndex | None:
        """The records' phones as integer codes, made once per table (again if it has grown); make False: None
        rather than a pass over every record (a table still growing by a few records at a time)."""
        if self._phone_index is None or len(self._phone_index.start) != self.n + 1:
            if not make:
                return None
            self._phone_index = PhoneIndex.of(self.phones, self.phone_counts or Counter())
        return self._phone_index

    def take_spans(self, spans: np.ndarray) -> None:
        """When and where each record was seen: context.seen_spans' (SPAN_ROWS, n) array."""
        (self.seen_first, self.seen_last, self.landed, self.abroad, self.home_first,
         self.home_last) = (np.ascontiguousarray(row) for row in spans)

    @property
    def n(self) -> int:
        return len(self.ids)


@dataclass
class PhoneIndex:
    """Each record's phones as integer codes, so that the phones two records share are found for millions of
    pairs at once rather than by intersecting two Python sets per pair."""
    start: np.ndarray  # record -> where its phone codes start in `code` (n + 1 entries)
    code: np.ndarray  # phone codes, ascending within a record
    held: np.ndarray  # record * phones + phone code, ascending: whether a record holds a phone, by searchsorted
    count: np.ndarray  # phone code -> records holding it (the table's phone_counts)
    phones: int  # distinct phones

    @classmethod
    def of(cls, phones: list[set[str]], counts: Counter) -> PhoneIndex:
        numbers: dict[str, int] = {}
        sizes = np.fromiter((len(p) for p in phones), dtype=np.int64, count=len(phones))
        code = np.fromiter((numbers.setdefault(x, len(numbers)) for p in phones for x in p), dtype=np.int64,
                           count=int(sizes.sum()))
        start = np.r_[0, np.cumsum(sizes)]
        held = np.repeat(np.arange(len(phones), dtype=np.int64) * max(len(numbers), 1), sizes) + code
        held.sort()  # records ascending already; this orders codes within a record
        code = held - np.repeat(np.arange(len(phones), dtype=np.int64) * max(len(numbers), 1), sizes)
        count = np.fromiter((counts.get(x, 1) for x in numbers), dtype=np.int64, count=len(numbers))
        return cls(start, code, held, count, max(len(numbers), 1))

    def shared(self, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(whether the two share a phone, the fewest records holding a shared one, else 1) per pair (i, j)."""
        held_by_i = self.start[i + 1] - self.start[i]
        pair = np.repeat(np.arange(len(i)), held_by_i)
        at = np.repeat(self.start[i], held_by_i) + offsets(held_by_i)
        phone = self.code[at]
        wanted = j[pair] * self.phones + phone
        found = np.minimum(np.searchsorted(self.held, wanted), len(self.held) - 1)
        hit = self.held[found] == wanted if len(self.held) else np.zeros(len(wanted), dtype=bool)
        fewest = np.full(len(i), np.iinfo(np.int64).max)
        np.minimum.at(fewest, pair[hit], self.count[phone[hit]])
        shared = fewest < np.iinfo(np.int64).max
        return shared, np.where(shared, fewest, 1)


def keys_of(t, kind: str) -> list[set[str]]:
    """The account or address keys per record of a table (or of a slice of one, as Spark blocking takes)."""
    got = getattr(t, "accounts" if kind == "account" else "addresses", None)
    return got if got is not None else [set()] * t.n


def _parse_date(value: str) -> tuple[int, int, int] | None:
    """(year, month, day) of an ISO date, partial dates with -1 for what is not known; None for a value intake
    could not normalise (kept as written, e.g. "19319924"), which says nothing comparable."""
    parts = value.split("-")
    if len(parts[0]) != 4:
        return None
    try:
        y = int(parts[0])
        m = int(parts[1]) if len(parts) > 1 else -1
        d = int(parts[2][:2]) if len(parts) > 2 else -1
    except ValueError:
        return None
    if not (m == -1 or 1 <= m <= 12) or not (d == -1 or 1 <= d <= 31):
        return None
    return y, m, d


def _factor(values: list[str], known: tuple[str, ...] = ()) -> np.ndarray:
    return _labelled(values, known)[0]


def _labelled(values: list[str], known: tuple[str, ...] = ()) -> tuple[np.ndarray, list[str]]:
    """(a code per value, in order of first appearance after the `known` values, which take the first codes; the
    value of each code)."""
    codes: dict[str, int] = {v: k for k, v in enumerate(known)}
    coded = np.fromiter((codes.setdefault(v, len(codes)) for v in values), dtype=np.int64, count=len(values))
    return coded, list(codes)


_ADDR_CLEAN = re.compile(r"[^0-9a-z]+")
HOUSE_NUMBER = re.compile(r"^\d+\w?\b")  # the house number, first in a normalised address


def normalise_address(value: str) -> str:
    """Lower case, punctuation and spacing removed: "12 High St., Dover" and "12 high st dover" are one key."""
    return _ADDR_CLEAN.sub(" ", value.lower()).strip()


HOLDER_NAME = LEVELS["name"].index("similar")  # names on one key at least this alike are one holder's
GROUPED_HOLDERS = 64  # a key held under more phonetic names than this is a hub however they group: not grouped


def _key_holders(t: PersonTable, kind: str, out: dict[tuple[str, str], int]) -> None:
    """How many people hold each key, as far as their names tell: the distinct phonetic names of the records
    holding it, names at least `similar` to one another (compared as record pairs are) counted once. A money
    handler's account paid into under five spellings of his name has one holder, not five; an account or address
    many people use is a hub (hub_adjustments)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    holders: dict[str, dict[int, int]] = {}  # key -> phonetic name -> a record holding the key under it
    for r, ks in enumerate(keys_of(t, kind)):
        if ks:
            name = int(t.phon_id[t.first_name[r]])
            for k in ks:
                holders.setdefault(k, {}).setdefault(name, r)
    grouped = [k for k, names in holders.items() if 1 < len(names) <= GROUPED_HOLDERS]
    out.update(((kind, k), len(names)) for k, names in holders.items())
    if not grouped:
        return
    sizes = np.fromiter((len(holders[k]) for k in grouped), dtype=np.int64, count=len(grouped))
    recs = np.fromiter(chain.from_iterable(holders[k].values() for k in grouped), dtype=np.int64,
                       count=int(sizes.sum()))
    key_of = np.repeat(np.arange(len(grouped)), sizes)  # one node per (key, phonetic name), grouped by key
    a, b = pairs_within(key_of)
    level = name_levels(t, recs[a], recs[b])["name"]
    alike = (level >= 0) & (level <= HOLDER_NAME)
    graph = coo_matrix((np.ones(int(alike.sum()), dtype=np.int8), (a[alike], b[alike])), shape=(len(recs),) * 2)
    component = connected_components(graph, directed=False)[1]
    counts = np.bincount(np.unique(np.c_[key_of, component], axis=0)[:, 0], minlength=len(grouped))
    out.update(((kind, k), int(n)) for k, n in zip(grouped, counts.tolist()))


_NONE: frozenset[str] = frozenset()  # one shared empty set for the many records holding no phone, account...
_NO_DOCS: dict[str, set[str]] = {}  # never written to: read only, as every table's docs are


@dataclass
class RecordColumns:
    """The per-record columns of a Person table, read from its records before the table-wide ones (name codes,
    counts, flags) are made: what a helper process builds for its share of a large store's records."""

    name_rec: list[int]
    norm: list[str]
    phon: list[str]
    skel: list[str]
    first: np.ndarray
    dates: np.ndarray  # int32 rows: year, month, day, lowest year, highest year (-1 unknown)
    nationality: np.ndarray
    nationality_labels: list[str]
    gender: np.ndarray
    phones: list
    docs: list
    tokens: list
    agencies: list[str]
    accounts: list
    addresses: list

    def __len__(self) -> int:
        return len(self.phones)

    def followed_by(self, other: RecordColumns) -> RecordColumns:
        """These records, then `other`'s (codes and positions renumbered as if read in one pass)."""
        labels = {v: k for k, v in enumerate(self.nationality_labels)}
        recode = np.fromiter((labels.setdefault(v, len(labels)) for v in other.nationality_labels), dtype=np.int32,
                             count=len(other.nationality_labels))
        nationality = other.nationality.copy()
        known = nationality >= 0
        nationality[known] = recode[nationality[known]]
        return RecordColumns(
            self.name_rec + [r + len(self) for r in other.name_rec], self.norm + other.norm, self.phon + other.phon,
            self.skel + other.skel, np.r_[self.first, other.first + len(self.name_rec)],
            np.hstack([self.dates, other.dates]), np.r_[self.nationality, nationality], list(labels),
            np.r_[self.gender, other.gender], self.phones + other.phones, self.docs + other.docs,
            self.tokens + other.tokens, self.agencies + other.agencies, self.accounts + other.accounts,
            self.addresses + other.addresses)

    def taken(self, rows: list[int]) -> RecordColumns:
        """The records at `rows`, in that order: as if only they had been read (name rows, positions and
        nationality codes renumbered)."""
        at = np.asarray(rows, dtype=np.int64)
        counts = np.r_[self.first[1:], len(self.name_rec)][at] - self.first[at]
        names = (np.repeat(self.first[at], counts) + offsets(counts)).tolist()
        codes: dict[int, int] = {}
        nationality = np.fromiter((codes.setdefault(c, len(codes)) if c >= 0 else -1
                                   for c in self.nationality[at].tolist()), dtype=np.int32, count=len(at))
        return RecordColumns(
            np.repeat(np.arange(len(at)), counts).tolist(), [self.norm[k] for k in names],
            [self.phon[k] for k in names], [self.skel[k] for k in names], np.cumsum(counts) - counts,
            self.dates[:, at], nationality, [self.nationality_labels[c] for c in codes], self.gender[at],
            *([column[r] for r in rows] for column in (self.phones, self.docs, self.tokens, self.agencies,
                                                        self.accounts, self.addresses)))


def record_columns(records: Iterable[tuple[dict[str, set[str]], set[str], set[str]]], n: int, keys: NameKeys,
                   doc_props: tuple[str, ...]) -> RecordColumns:
    """The per-record columns of `n` records (normalised values by property, agencies, account keys), read once
    and in order: a caller may stream them (engine.stream_people) rather than hold every record's at once."""
    name_rec, norm, phon, skel, first = [], [], [], [], np.zeros(n, dtype=np.int64)
    dates_of = np.full((5, n), -1, dtype=np.int32)
    year, month, day, ylo, yhi = dates_of
    nat_codes: dict[str, int] = {}
    nat = np.full(n, -1, dtype=np.int32)
    gen = np.full(n, -1, dtype=np.int32)
    phones, docs, tokens, first_agency, accounts, addresses = [], [], [], [], [], []
    for r, (p, agencies, held) in enumerate(records):
        raw = sorted(p.get("name", set()) | p.get("alias", set()))
        if not raw and (p.get("firstName") or p.get("lastName")):
            raw = [" ".join(sorted(p.get("firstName", ())) + sorted(p.get("lastName", ())))]
        first[r] = len(name_rec)
        toks_all: set[str] = set()
        seen = set()
        for written in raw:
            toks = keys.tokens(written)
            if not toks or toks in seen:
                continue
            seen.add(toks)
            ph = sorted(phonetic(t) for t in toks)
            name_rec.append(r)
            norm.append(" ".join(sorted(toks)))
            phon.append(" ".join(ph))
            skel.append(" ".join(sorted(skeleton(t) for t in toks)))
            toks_all.update(ph)
        if first[r] == len(name_rec):  # no usable name: an empty row keeps the record addressable
            name_rec.append(r), norm.append(""), phon.append(""), skel.append("")
        tokens.append(toks_all)
        dates = [d for d in (_parse_date(v) for v in sorted(p.get("birthDate", ()))) if d]
        if dates:
            full = [d for d in dates if d[2] >= 0 and (d[1], d[2]) != (1, 1)] or dates
            year[r], month[r], day[r] = full[0]
            ylo[r] = min(d[0] for d in dates)
            yhi[r] = max(d[0] for d in dates)
        if p.get("nationality"):
            nat[r] = nat_codes.setdefault(sorted(p["nationality"])[0], len(nat_codes))
        g = p.get("gender")
        if g and len(g) == 1:
            gen[r] = 0 if next(iter(g)).lower().startswith("m") else 1
        phones.append(set(p.get("phone", ())) or _NONE)
        docs.append({k: set(p[k]) for k in doc_props if p.get(k)} or _NO_DOCS)
        first_agency.append(min(agencies) if agencies else "")
        accounts.append(set(held) or _NONE)
        addresses.append({a for a in (normalise_address(v) for v in p.get("address", ())) if a} or _NONE)
    assert len(phones) == n, f"{len(phones)} records for {n} ids"
    return RecordColumns(name_rec, norm, phon, skel, first, dates_of, nat, list(nat_codes), gen, phones, docs,
                         tokens, first_agency, accounts, addresses)


def build_table(ids: list[str], records: Iterable[tuple[dict[str, set[str]], set[str], set[str]]],
                keys: NameKeys, doc_props: tuple[str, ...]) -> PersonTable:
    """The Person table of `ids` from their records, read once and in order (see record_columns)."""
    return table_of(ids, record_columns(records, len(ids), keys, doc_props))


def name_holder_codes(ids: list[str], phon_id: np.ndarray, name_rec, accounts: list[set[str]],
                      phones: list[set[str]]) -> np.ndarray:
    """Per name row, a code of its phonetic name and who holds the record as far as name counts go: its smallest
    account, else its smallest phone, else the record itself. Records under one phonetic name that share one
    count once for the name's term frequency: a money handler paid into under his name in fifty reports is one
    man with a rare name, not fifty with a common one (an account or phone that many different names use is a
    hub: hub_adjustments). Codes hold in this process only (str hashes), as blocking.key_codes' do."""
    holder = [("a", min(a)) if a else ("p", min(p)) if p else eid for eid, a, p in zip(ids, accounts, phones)]
    return np.fromiter((hash((p, holder[r])) for r, p in zip(np.asarray(name_rec).tolist(), phon_id.tolist())),
                       dtype=np.int64, count=len(phon_id))


def table_of(ids: list[str], c: RecordColumns) -> PersonTable:
    """The Person table of `ids` from their per-record columns, with the table-wide ones made."""
    assert len(c) == len(ids), f"{len(c)} records for {len(ids)} ids"
    name_rec = c.name_rec
    phon_id = _factor(c.phon)
    # term frequency: how many people carry each phonetic name, as far as records tell them apart
    _codes, first = np.unique(name_holder_codes(ids, phon_id, name_rec, c.accounts, c.phones), return_index=True)
    phon_count = np.bincount(phon_id[first], minlength=int(phon_id.max(initial=-1)) + 1)[phon_id]
    agency, agency_names = _labelled(c.agencies)
    norm_id = _factor(c.norm, known=("",))  # NO_NAME
    year, month, day, ylo, yhi = c.dates
    table = PersonTable(ids, np.asarray(name_rec, dtype=np.int64), np.asarray(c.norm, dtype=object),
                        np.asarray(c.phon, dtype=object), np.asarray(c.skel, dtype=object), norm_id, phon_id,
                        phon_count, c.first, year, month, day, ylo, yhi, c.nationality, c.gender, c.phones, c.docs,
                        c.tokens, agency)
    table.agency_pairs = agency_pair_rates(table)
    table.take_spans(np.full((SPAN_ROWS, len(ids)), -1, dtype=np.int32))  # unknown until the caller reads the sightings
    table.phone_counts = Counter(p for ps in c.phones for p in ps)
    table.accounts, table.addresses = c.accounts, c.addresses
    table.labels = {"nationality": c.nationality_labels, "agency": agency_names}
    table.key_names = {}
    for kind in ("account", "address"):
        _key_holders(table, kind, table.key_names)
    for name in ("phones", "docs", "accounts", "addresses"):  # flagged once here, read by every chunk of pairs
        table.holding(name)
    table.phone_index()
    return table


def agency_pair_rates(t: PersonTable) -> np.ndarray:
    """How often two agencies' records repeat one person, learnt without labels: per agency pair, the share of
    its record pairs that agree exactly on a written name and a full (not 1 January) birth date, against that
    share over all record pairs, as log2 of the ratio. An agency that records each person once (an arrivals
    register) gets a strongly negative value for its own pairs; agencies that see the same people get a
    positive one. The ratio does not grow with the population: both shares are per pair."""
    k = int(t.agency.max()) + 1 if t.n else 0
    if k == 0 or (t.agency < 0).any():
        return np.zeros((max(k, 1), max(k, 1)))
    rec = t.name_rec
    y, mo, d = t.year[rec], t.month[rec], t.day[rec]
    ok = (d >= 0) & ~((mo == 1) & (d == 1)) & (t.name_norm != "")
    rows = np.flatnonzero(ok)
    # one row per (record, key): a record with two names that both agree still counts once per key
    key = ((t.norm_id[rows].astype(np.int64) * 3000 + y[rows]) * 13 + mo[rows]) * 32 + d[rows]
    pairs_rec = np.unique(np.stack([key, rec[rows]], 1), axis=0) if len(rows) else np.zeros((0, 2), np.int64)
    strong = np.zeros((k, k))
    if len(pairs_rec):
        _, grp = np.unique(pairs_rec[:, 0], return_inverse=True)
        ag = t.agency[pairs_rec[:, 1]]
        counts = np.zeros((grp.max() + 1, k))
        np.add.at(counts, (grp, ag), 1)
        counts = counts[counts.sum(1) > 1]
        strong = counts.T @ counts
        strong[np.diag_indices(k)] = (counts * (counts - 1) / 2).sum(0)
    n = np.bincount(t.agency, minlength=k).astype(float)
    total = np.outer(n, n)
    total[np.diag_indices(k)] = n * (n - 1) / 2
    upper = np.triu(np.ones((k, k), dtype=bool))
    overall = strong[upper].sum() / max(total[upper].sum(), 1.0)
    if overall <= 0:
        return np.zeros((k, k))
    return np.log2((strong + 0.5) / np.maximum(total, 1.0) / overall)


# ---------------------------------------------------------------- comparison levels

def name_row_counts(t: PersonTable, r: np.ndarray) -> np.ndarray:
    """How many name rows each record of `r` has: a record's rows run from its first to the next record's first
    (counted for these records only: a count of every record's would cost a single new record O(n))."""
    after = r + 1
    ends = np.where(after < t.n, t.first_name[np.minimum(after, t.n - 1)], len(t.name_rec))
    return ends - t.first_name[r]


def _name_rows(t: PersonTable, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pair index, name row of i, name row of j) for every combination of the two records' names."""
    ci, cj = name_row_counts(t, i), name_row_counts(t, j)
    simple = (ci == 1) & (cj == 1)
    many = np.flatnonzero(~simple)  # pairs with more names: every combination, i's names outer, j's inner
    combos = ci[many] * cj[many]
    pk = np.repeat(many, combos)
    within = offsets(combos)
    per_j = np.repeat(cj[many], combos)
    return (np.r_[np.flatnonzero(simple), pk], np.r_[t.first_name[i[simple]], t.first_name[i[pk]] + within // per_j],
            np.r_[t.first_name[j[simple]], t.first_name[j[pk]] + within % per_j])


def name_scores(t: PersonTable, ra: np.ndarray, rb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(level, similarity 0-100) for name rows ra against rb. Each distinct pair of written names is scored once:
    a common name meets its spellings in thousands of record pairs (at 300k people a chunk's name rows hold 43%
    distinct pairs), and a name row's phonetic and skeleton forms follow from its written form."""
    a, b = t.norm_id[ra].astype(np.int64), t.norm_id[rb].astype(np.int64)
    codes, first, inverse = np.unique((np.minimum(a, b) << 32) | np.maximum(a, b), return_index=True,
                                      return_inverse=True)

    def scored(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # the scorers are symmetric: either order will do
        return _name_scores(t, ra[first[k]], rb[first[k]])

    if t.name_cache is None:
        level, score = scored(np.arange(len(codes)))
    else:
        level, score = t.name_cache.scores(codes, scored)
    return level[inverse], score[inverse]


class NameCache:
    """(level, similarity) of the pairs of written names a run has scored, by pair code (the two norm ids): a
    common name's pairs come back chunk after chunk (at 300k people, 83% of a chunk's distinct pairs had been
    scored in an earlier one). Sorted arrays: the bulk, and the recent additions until they are an eighth of it."""

    _NONE = (np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, np.float32))

    def __init__(self):
        self.bulk, self.recent = self._NONE, self._NONE

    def scores(self, codes: np.ndarray, score: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
               ) -> tuple[np.ndarray, np.ndarray]:
        """(level, similarity) for sorted distinct pair codes; score(k) scores the codes at k not yet held."""
        level = np.zeros(len(codes), np.int8)
        similarity = np.zeros(len(codes), np.float32)
        missing = np.ones(len(codes), dtype=bool)
        for held, held_level, held_similarity in (self.bulk, self.recent):
            at = np.minimum(np.searchsorted(held, codes), max(len(held) - 1, 0))
            found = (held[at] == codes) if len(held) else np.zeros(len(codes), dtype=bool)
            level[found], similarity[found] = held_level[at[found]], held_similarity[at[found]]
            missing &= ~found
        k = np.flatnonzero(missing)
        if len(k):
            level[k], similarity[k] = score(k)
            self.recent = _merged_sorted(self.recent, (codes[k], level[k], similarity[k]))
            if 8 * len(self.recent[0]) > len(self.bulk[0]):
                self.bulk, self.recent = _merged_sorted(self.bulk, self.recent), self._NONE
        return level, similarity


def _merged_sorted(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Two (sorted codes, values...) tuples with distinct codes as one."""
    order = np.argsort(np.concatenate((a[0], b[0])), kind="stable")
    return tuple(np.concatenate((x, y))[order] for x, y in zip(a, b))


def _name_scores(t: PersonTable, ra: np.ndarray, rb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    level = np.full(len(ra), len(LEVELS["name"]) - 1, dtype=np.int8)
    score = np.zeros(len(ra), dtype=np.float32)
    empty = (t.norm_id[ra] == NO_NAME) | (t.norm_id[rb] == NO_NAME)
    exact = (t.norm_id[ra] == t.norm_id[rb]) & ~empty
    phon = (t.phon_id[ra] == t.phon_id[rb]) & ~exact & ~empty
    rest = np.flatnonzero(~exact & ~phon & ~empty)
    workers = -1 if len(rest) > 10_000 else 1  # threads cost more than they save on a few pairs
    if len(rest):
        a, b = ra[rest], rb[rest]
        s_norm = process.cpdist(t.name_norm[a], t.name_norm[b], scorer=fuzz.ratio, workers=workers)
        s_phon = process.cpdist(t.name_phon[a], t.name_phon[b], scorer=fuzz.ratio, workers=workers)
        s_skel = process.cpdist(t.name_skel[a], t.name_skel[b], scorer=fuzz.ratio, workers=workers)
        s = np.maximum(s_norm, np.maximum(s_phon - 3, s_skel - 8))
        subset = process.cpdist(t.name_phon[a], t.name_phon[b], scorer=fuzz.token_set_ratio, workers=workers) >= 100
        lv = np.full(len(rest), len(LEVELS["name"]) - 1, dtype=np.int8)
        names = LEVELS["name"]
        for label, cut in reversed(_NAME_CUTS):
            lv[s >= cut] = names.index(label)
        lv[subset & (s < 90)] = names.index("subset")
        low = np.flatnonzero(lv > names.index("one_part"))  # one name part agreeing (surname kept, given changed)
        if len(low):
            part = process.cpdist(t.name_phon[a[low]], t.name_phon[b[low]], scorer=fuzz.partial_token_set_ratio,
                                  workers=workers) >= 100
            lv[low[part]] = names.index("one_part")
        level[rest] = lv
        score[rest] = s
    level[exact] = 0
    score[exact] = 100
    level[phon] = 1
    score[phon] = 97
    level[empty] = MISSING
    return level, score


def name_levels(t: PersonTable, i: np.ndarray, j: np.ndarray) -> dict[str, np.ndarray]:
    """Per pair, the best name level of any combination of the two records' names, its similarity, and the
    commoner name's count (for TF)."""
    pk, ra, rb = _name_rows(t, i, j)
    lv, sc = name_scores(t, ra, rb)
    # best name combination per pair: lowest level, then highest score
    rank = lv.astype(np.int64) * 1000 - sc.astype(np.int64)
    rank[lv == MISSING] = 10**9
    order = np.lexsort((rank, pk))
    best = order[firsts(pk[order])]
    name_level = np.full(len(i), MISSING, dtype=np.int8)
    name_level[pk[best]] = lv[best]
    name_score = np.zeros(len(i), dtype=np.float32)
    name_score[pk[best]] = sc[best]
    name_count = np.ones(len(i), dtype=np.int64)
    # the commoner of the two names: a rare misspelling of a common name is as weak as the common name
    name_count[pk[best]] = np.maximum(t.phon_count[ra[best]], t.phon_count[rb[best]])
    return {"name": name_level, "name_score": name_score, "name_count": name_count}


def compare(t: PersonTable, i: np.ndarray, j: np.ndarray, names: bool = True) -> dict[str, np.ndarray]:
    """Comparison level per pair for every comparison, plus the name similarity and term counts used by TF
    (without names: every name level MISSING, and none of the name scoring's cost)."""
    out = name_levels(t, i, j) if names else {"name": np.full(len(i), MISSING, dtype=np.int8),
                                               "name_score": np.zeros(len(i), dtype=np.float32),
                                               "name_count": np.ones(len(i), dtype=np.int64)}
    out["dob"] = dob_levels(t, i, j)
    out["records"] = np.broadcast_to(np.int32(t.n), len(i))  # the population (population_adjustment), no copies
    out["seen"] = seen_levels(t, i, j)
    out["journey"] = journey_levels(t, i, j)
    for comp, col in (("nationality", t.nationality), ("gender", t.gender), ("source", t.agency)):
        a, b = col[i], col[j]
        lvl = np.where(a == b, 0, 1).astype(np.int8)
        lvl[(a < 0) | (b < 0)] = MISSING
        out[comp] = lvl
    ph = np.full(len(i), MISSING, dtype=np.int8)
    ph_count = np.ones(len(i), dtype=np.int64)
    both = np.flatnonzero(both_hold(t, "phones", i, j))
    phones = t.phone_index(make=False)  # made by build_table, for a whole run
    if phones is not None:
        shared, fewest = phones.shared(i[both], j[both])
        ph[both] = np.where(shared, 0, 1)
        ph_count[both] = fewest
    elif len(both):  # a few pairs of a table that is still growing (the warm resolver's)
        counts = t.phone_counts
        for k in both.tolist():
            shared = t.phones[i[k]] & t.phones[j[k]]
            ph[k] = 0 if shared else 1
            if shared:
                ph_count[k] = min(counts[p] for p in shared)
    out["phone"] = ph
    out["phone_count"] = ph_count
    doc = np.full(len(i), MISSING, dtype=np.int8)
    for k in np.flatnonzero(both_hold(t, "docs", i, j)).tolist():
        doc[k] = document_level(t.docs[i[k]], t.docs[j[k]])
    out["document"] = doc
    for kind in ("account", "address"):
        out[kind], out[kind + "_count"] = shared_key_levels(t, kind, i, j)
    if t.agency_pairs is not None and len(t.agency_pairs) > 1:
        out["agency_pair"] = t.agency_pairs[t.agency[i], t.agency[j]]
    else:
        out["agency_pair"] = np.zeros(len(i))
    return out


def both_hold(t: PersonTable, name: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Per pair, whether both records hold any value of the list field `name`: from the per-record flags
    (PersonTable.holding) once they are made, else read per pair when the pairs are fewer than the records (a
    new record against a large table, which is not worth flagging every record for)."""
    values = getattr(t, name) or []
    if not t.holds_flags(name) and 2 * len(i) < len(values):
        return np.fromiter((bool(values[a]) and bool(values[b]) for a, b in zip(i.tolist(), j.tolist())),
                           dtype=bool, count=len(i))
    has = t.holding(name)
    return has[i] & has[j]


def shared_key_levels(t: PersonTable, kind: str, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(level, hub size) per pair for a set-valued key (account, address): shared; for addresses also similar
    and same_street (address_level); different when both hold one; MISSING otherwise. The hub size is the
    fewest distinct names holding any shared key (for near ones, the more held of the closest two)."""
    sets = t.keys_of(kind)
    different = len(LEVELS[kind]) - 1
    lvl = np.full(len(i), MISSING, dtype=np.int8)
    count = np.ones(len(i), dtype=np.int64)
    names = t.key_names or {}
    for k in np.flatnonzero(both_hold(t, "accounts" if kind == "account" else "addresses", i, j)).tolist():
        sa, sb = sets[i[k]], sets[j[k]]
        shared = sa & sb
        if shared:
            lvl[k] = 0
            count[k] = min(names.get((kind, v), 1) for v in shared)
            continue
        lvl[k] = different
        if kind == "address":
            best = min((address_level(x, y), max(names.get((kind, x), 1), names.get((kind, y), 1)))
                       for x in sa for y in sb)
            lvl[k], count[k] = best if best[0] < different else (different, 1)
    return lvl, count


def address_level(a: str, b: str) -> int:
    """How close two different normalised addresses are: 1 (similar) one clerk's slips apart, with the same
    house number ("18 mckinle y circuit" / "18 mckinley circuit"); 2 (same_street) alike but for the house
    number (neighbours, or a number mistyped); 3 different."""
    ha, hb = HOUSE_NUMBER.findall(a), HOUSE_NUMBER.findall(b)
    if ha[:1] == hb[:1] and fuzz.ratio(a.replace(" ", ""), b.replace(" ", ""), score_cutoff=90.0):
        return 1
    rest_a, rest_b = HOUSE_NUMBER.sub("", a), HOUSE_NUMBER.sub("", b)
    if fuzz.token_set_ratio(rest_a, rest_b, score_cutoff=90.0):
        return 2
    return 3


def dob_levels(t: PersonTable, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    names = LEVELS["dob"]
    y1, y2 = t.year[i], t.year[j]
    m1, m2, d1, d2 = t.month[i], t.month[j], t.day[i], t.day[j]
    lvl = np.full(len(i), names.index("conflict"), dtype=np.int8)
    dy = np.abs(y1 - y2)
    full1, full2 = (m1 >= 0) & (d1 >= 0), (m2 >= 0) & (d2 >= 0)
    est1, est2 = full1 & (m1 == 1) & (d1 == 1), full2 & (m2 == 1) & (d2 == 1)
    full = full1 & full2
    same_md = full & (m1 == m2) & (d1 == d2)
    conds = [  # applied from the weakest to the strongest, so the strongest wins
        ("two_years", dy == 2),
        ("one_year", dy == 1),
        ("same_year", dy == 0),
        ("year_only", (dy == 0) & ~full),
        ("estimate_near", (est1 | est2) & (dy <= 1) & ~(est1 & est2 & (dy == 0))),
        ("estimate_year", (est1 ^ est2) & full & (dy == 0)),  # a 1 January estimate says the year, nothing more
        ("one_year_same_day", same_md & (dy == 1) & ~est1),
        ("one_part", full & (dy == 0) & ~est1 & ~est2 & ((m1 == m2) | (d1 == d2)) & ~same_md),
        ("day_month_swap", full & (dy == 0) & (m1 == d2) & (d1 == m2) & (m1 != d1)),
        ("exact_estimated", same_md & (dy == 0) & est1),
        ("exact", same_md & (dy == 0) & ~est1),
    ]
    for label, cond in conds:
        lvl[cond] = names.index(label)
    lvl[(y1 < 0) | (y2 < 0)] = MISSING
    return lvl


def seen_levels(t: PersonTable, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """How far apart in time the two records were seen (the days between their events' date spans, 0 when they
    overlap), as a level of SEEN_CUTS; MISSING when either was seen at no dated event. People intercepted on a
    beach try again within weeks, so two sightings weeks apart say more than a name shared with someone seen
    years before."""
    gap = np.maximum(t.seen_first[i] - t.seen_last[j], t.seen_first[j] - t.seen_last[i])
    lvl = np.searchsorted(np.asarray(SEEN_CUTS), np.maximum(gap, 0), side="right").astype(np.int8)
    lvl[(t.seen_first[i] < 0) | (t.seen_first[j] < 0)] = MISSING
    return lvl


def journey_levels(t: PersonTable, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Whether the two records' sightings fit one small-boat journey, as seen from the one that landed (was first
    seen at an arrival): the other was last seen abroad at most CROSSED_DAYS before ("crossed": people intercepted
    on a beach try again within weeks), or seen at home afterwards ("settled"); or the other was seen abroad after
    it ("returned": a crossing is one way, those who landed are seldom seen on a French beach again), or seen at
    home before it ("before"). MISSING when neither landed or the other was seen nowhere that says."""
    lvl = np.full(len(i), MISSING, dtype=np.int8)
    if t.landed is None:
        return lvl
    names = LEVELS["journey"]
    for a, b in ((i, j), (j, i)):  # a's sightings against b's landing
        landed = t.landed[b].astype(np.int64)
        has = landed >= 0
        fits = {"crossed": has & (t.abroad[a] >= 0) & (landed - t.abroad[a] >= 0)
                & (landed - t.abroad[a] <= CROSSED_DAYS),
                "settled": has & (t.home_last[a] >= landed),
                "returned": has & (t.abroad[a] > landed + LANDING_SLACK),
                "before": has & (t.home_first[a] >= 0) & (t.home_first[a] < landed - LANDING_SLACK)}
        for label in ("crossed", "settled"):  # either direction's fit, unless a misfit says otherwise
            lvl[fits[label] & (lvl == MISSING)] = names.index(label)
        for label in ("returned", "before"):
            lvl[fits[label]] = names.index(label)
    return lvl


# ---------------------------------------------------------------- weights

COMPARISONS = ("name", "dob", "nationality", "gender", "phone", "source", "document", "account", "address", "seen",
               "journey")


def u_probabilities(t: PersonTable, sample: int, seed: int = 0) -> dict[str, list[float]]:
    """Share of each level among random record pairs (almost all non-matches)."""
    rng = np.random.default_rng(seed)
    i = rng.integers(0, t.n, size=sample)
    j = rng.integers(0, t.n, size=sample)
    keep = i != j
    levels = compare(t, i[keep], j[keep])
    return {c: _shares(levels[c], len(LEVELS[c]), None) for c in COMPARISONS}


def _shares(level: np.ndarray, k: int, weight: np.ndarray | None) -> list[float]:
    ok = level >= 0
    counts = np.bincount(level[ok].astype(np.int64), weights=None if weight is None else weight[ok], minlength=k)
    counts = counts + 0.5  # smoothing: no level is impossible
    return (counts / counts.sum()).tolist()


def estimate_m(levels: dict[str, np.ndarray], u0: dict[str, list[float]], m0: dict[str, list[float]],
               prior0: float, iterations: int = 25, fix_lambda: bool = False) -> tuple[dict[str, list[float]], float]:
    """Expectation maximisation of m and the match share over the candidate pairs, from m0 and u0 (u0 from random
    pairs). The candidates' u is re-estimated alongside, because their non-matches are not random pairs: blocking
    made them agree more often, and with u held at random pairs' shares EM explained every candidate as a match
    (the match share ran to 1 on FEBRL4)."""
    m = {c: list(v) for c, v in m0.items()}
    u = {c: list(u0[c]) for c in m0}
    lam = prior0
    n = len(levels["name"])
    for _ in range(iterations):
        logit = np.full(n, math.log(lam / (1 - lam)))
        for c in m:
            w = np.log(np.asarray(m[c]) / np.asarray(u[c]))
            lv = levels[c]
            ok = lv >= 0
            logit[ok] += w[lv[ok]]
        p = 1 / (1 + np.exp(-np.clip(logit, -50, 50)))
        if not fix_lambda:
            lam = float(np.clip(p.mean(), 1e-6, 1 - 1e-6))
        m = {c: _shares(levels[c], len(LEVELS[c]), p) for c in m}
        u = {c: _shares(levels[c], len(LEVELS[c]), 1 - p) for c in m}
    return m, lam


def one_typo_apart(a: str, b: str) -> bool:
    """Two document numbers one keying slip apart: one character changed, added or dropped, or two neighbours
    swapped (Damerau-Levenshtein 1), as when a number is copied by hand from a passport."""
    return a != b and DamerauLevenshtein.distance(a, b, score_cutoff=1) <= 1


def document_level(da: dict[str, set[str]], db: dict[str, set[str]]) -> int:
    """Documents of the kinds both records hold: 0 one number shared, 1 one number a typo apart, 2 all different,
    MISSING when they hold no kind in common."""
    kinds = da.keys() & db.keys()
    if not kinds:
        return MISSING
    if any(da[kind] & db[kind] for kind in kinds):
        return 0
    if any(one_typo_apart(x, y) for kind in kinds for x in da[kind] for y in db[kind]):
        return 1
    return 2


def documents_conflict(da: dict[str, set[str]] | None, db: dict[str, set[str]] | None) -> bool:
    """Different documents of one kind: neither shared nor a typo apart (two people, not one person twice)."""
    if not da or not db:
        return False
    return any(db.get(kind) and not any(x == y or one_typo_apart(x, y) for x in values for y in db[kind])
               for kind, values in da.items())


def weights(model: dict) -> dict[str, np.ndarray]:
    """log2 weight per level of each comparison: set in the model, or log2(m/u) of estimated probabilities. A model
    saved before a comparison gained levels weighs the new levels 0 (set) or not that comparison (estimated)."""
    if "m" in model:
        return {c: np.log2(np.asarray(model["m"][c]) / np.asarray(model["u"][c])) for c in COMPARISONS
                if c in model["m"] and len(model["m"][c]) == len(LEVELS[c])}
    return {c: np.asarray([model["weights"][c].get(label, 0.0) for label in LEVELS[c]], dtype=float)
            for c in COMPARISONS if c in model["weights"]}


def prior(model: dict) -> float:
    return math.log2(model["lambda"] / (1 - model["lambda"])) if "m" in model else model["prior"]


def agency_adjustment(levels: dict[str, np.ndarray], model: dict) -> np.ndarray:
    """Weight for the agency pair's repeat rate (agency_pair_rates), scaled and clipped by the model."""
    cfg = model.get("agency_pairs")
    if not cfg or "agency_pair" not in levels:
        return np.zeros(len(levels["name"]))
    return np.clip(cfg["weight"] * levels["agency_pair"], cfg["min"], cfg["max"])


def tf_adjustments(levels: dict[str, np.ndarray], model: dict) -> tuple[np.ndarray, np.ndarray]:
    """(name, phone) weight adjustments: a name or phone held by more than `expected` records loses
    weight * log2(count / expected), clipped (common names and hostel or hub phones are weaker evidence). Not
    the name where the two records share an account one person holds (`_key_holders`): how many strangers bear
    the name says nothing of two records paid into, or out of, one man's account under it."""
    tf = model["tf"]
    name_lv = levels["name"]
    strong = (name_lv >= 0) & (name_lv <= LEVELS["name"].index(tf["name_applies_to"]))
    one_holder = (levels["account"] == LEVELS["account"].index("shared")) & (levels["account_count"] <= 1)
    excess = np.maximum(levels["name_count"] / tf["name_expected"], 1.0)
    penalty = np.minimum(tf["name_weight"] * np.log2(excess), tf["max_name_penalty"])
    name_adj = np.where(strong & ~one_holder, -penalty, 0.0)
    return name_adj, _shared_key_penalty(levels, "phone", tf)


def _shared_key_penalty(levels: dict[str, np.ndarray], kind: str, tf: dict) -> np.ndarray:
    """Where two records share a `kind` key held by more than `<kind>_expected` (records or names): minus
    `<kind>_weight` * log2(count / expected), at most `max_<kind>_penalty`; 0 elsewhere."""
    excess = np.maximum(levels[kind + "_count"] / tf[f"{kind}_expected"], 1.0)
    penalty = np.minimum(tf[f"{kind}_weight"] * np.log2(excess), tf[f"max_{kind}_penalty"])
    agrees = (levels[kind] >= 0) & (levels[kind] < len(LEVELS[kind]) - 1)  # shared, or similar (addresses)
    return np.where(agrees, -penalty, 0.0)


def hub_adjustments(levels: dict[str, np.ndarray], model: dict) -> dict[str, np.ndarray]:
    """Per shared-key comparison (account, address): a key held by more than `<kind>_expected` distinct names
    loses `<kind>_weight` * log2(names / expected), at most `max_<kind>_penalty` (hostels, hubs, collectors)."""
    tf = model["tf"]
    out = {}
    for kind in ("account", "address"):
        if kind in levels and f"{kind}_expected" in tf:
            out[kind] = _shared_key_penalty(levels, kind, tf)
    return out


def capped_scores(t: PersonTable, i: np.ndarray, j: np.ndarray, model: dict, cap: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weight, capped, name level) per pair, names compared only where they could matter: a pair whose weight
    would stay below `cap` even with an exact, common-name-free name agreement gets that upper bound as its
    weight (capped True, name level MISSING) without its names being compared, the costly part of scoring."""
    levels = compare(t, i, j, names=False)
    # the best case: an exact name, which the population adjustment would not weaken
    weight = score(levels, model) - population_adjustment(levels, model) + float(weights(model)["name"].max())
    capped = weight < cap
    keep = np.flatnonzero(~capped)
    if len(keep):
        named = name_levels(t, i[keep], j[keep])
        for key, values in named.items():
            levels[key][keep] = values
        weight[keep] = score({k: v[keep] for k, v in levels.items()}, model)
    return weight, capped, levels["name"]


def score(levels: dict[str, np.ndarray], model: dict) -> np.ndarray:
    """Match weight per pair: prior plus each comparison's level weight plus term-frequency adjustments."""
    total = _level_sum(levels, model, start=prior(model))
    name_adj, phone_adj = tf_adjustments(levels, model)
    for adj in hub_adjustments(levels, model).values():
        total += adj
    return total + name_adj + phone_adj + agency_adjustment(levels, model) + population_adjustment(levels, model)


# Comparisons whose negative levels lack support rather than contradict: records seen years apart (a money handler
# paid over three years) may still be one person.
NOT_AGAINST = ("seen",)


def against(levels: dict[str, np.ndarray], model: dict) -> np.ndarray:
    """The evidence against a match per pair: the sum of its comparisons' negative level weights, less NOT_AGAINST's.
    No prior and no frequency adjustment: a common name shared is weak evidence for a match, not evidence against
    one."""
    return _level_sum(levels, model, negative_only=True)


def _level_sum(levels: dict[str, np.ndarray], model: dict, start: float = 0.0, negative_only: bool = False
               ) -> np.ndarray:
    """Per pair, `start` plus its comparisons' level weights (the negative ones only, less NOT_AGAINST's); a missing
    level adds 0."""
    total = np.full(len(levels["name"]), start)
    for c, w in weights(model).items():
        if negative_only:
            if c in NOT_AGAINST:
                continue
            w = np.minimum(w, 0.0)
        total += np.append(w, 0.0)[levels[c]]  # MISSING (-1) reads the 0 appended
    return total


def population_adjustment(levels: dict[str, np.ndarray], model: dict) -> np.ndarray:
    """Minus `weight` * log2(records / the model's `records`) for pairs whose names do not agree well enough for
    the common-name TF (which already weakens a name as the population grows): in a store ten times larger, ten
    times as many strangers share a birth date, a week of sightings or a nationality, so the same evidence
    without a name behind it is that much weaker. Never a bonus in a smaller store; none with estimated weights,
    whose match share is the store's own."""
    cfg = model.get("population")
    if not cfg or "m" in model or "records" not in levels:
        return np.zeros(len(levels["name"]))
    bits = cfg["weight"] * np.log2(np.maximum(levels["records"] / cfg["records"], 1.0))
    name = levels["name"]
    weak = (name < 0) | (name > LEVELS["name"].index(model["tf"]["name_applies_to"]))
    return np.where(weak, -bits, 0.0)
