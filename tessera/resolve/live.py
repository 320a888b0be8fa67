"""The warm resolver: Person records already resolved, held in memory as one comparison table with its blocking
keys and canonical ids, so that a new batch is scored against them without a pass over the whole store."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, defaultdict
from types import SimpleNamespace

import numpy as np
from sqlalchemy import func, select

from tessera.arrays import firsts, offsets
from tessera.bulk import paused_gc
from tessera.resolve import blocking, compare
from tessera.resolve.context import seen_spans_of
from tessera.resolve.engine import (Clusters, Entity, ResolveResult, assign_canonical, attach_accounts, joinable,
                                    opposed, person_ids, person_statements, person_table, refusals, run_model,
                                    stored_person_table, uses_sightings)
from tessera.resolve.halves import table_helper
from tessera.store import tables
from tessera.store.store import Store, stream_tuples

NEW_CHUNK = 5_000  # entity ids per query when loading new records


class LiveIndex:
    """Every resolved Person record in one comparison table (codes of names, nationalities and agencies kept
    consistent as batches are appended), its blocking keys as sorted 64-bit codes, and its canonical ids.

    Built once from the store after a full `resolve`; `resolve_new` then scores each new batch against it as a
    full run scores those pairs (same keys, same comparisons, the population's name and phone counts, the cluster
    guard and the analysts' judgements), writes the canonical ids and the change feed, and appends the batch.
    Not weighed here: group context, which a full run adds."""

    @paused_gc(freeze=True)
    def __init__(self, store: Store, model: dict | None = None):
        t0 = time.perf_counter()
        self.model = model or run_model(store)
        e = tables.entities
        with store.engine.connect() as conn:
            self.canonical: dict[str, str] = dict(stream_tuples(conn, select(e.c.id, e.c.canonical_id).where(
                e.c.schema == "Person", e.c.canonical_id.is_not(None))))
        self.members: dict[str, set[str]] = defaultdict(set)
        for eid, cid in self.canonical.items():
            self.members[cid].add(eid)
        self.people: dict[str, Entity] = {}  # the records of batches (the indexed ones are streamed, not kept)
        self.seen: dict[str, tuple[int, ...]] = {}  # and when and where each was seen (context.seen_spans')
        self.codes: dict[str, dict[str, int]] = {"norm": {"": compare.NO_NAME}, "phon": {}, "nationality": {},
                                                 "agency": {}}
        with table_helper(store, self.model) as helper:  # a large store's later half built in another process
            statements = helper.statements_before_start(store) if helper else person_statements(store)
            table = stored_person_table(store, self.model, person_ids(store, resolved_only=True), statements, helper)
        self.table = self._coded(table)
        self.names = _NamePeople()
        self.names.keep(*self.names.adding(self.table, len(self.codes["phon"])))
        self.position = {eid: r for r, eid in enumerate(self.table.ids)}
        self.table.key_names = Counter(self.table.key_names or {})
        self.table.agency_pairs = compare.agency_pair_rates(self.table) if self.table.n else np.zeros((1, 1))
        self.keys, self.recs = _sorted_keys(self.table)  # blocking-key codes, sorted, and their records
        self.recent = (np.zeros(0, np.int64), np.zeros(0, np.int64))  # the same for batches not merged in yet
        self.buffers: dict[str, np.ndarray] = {}  # the table's arrays, with room for batches to come
        self.run_id = latest_run(store)  # the index holds the canonical ids while this is still the newest run
        self.seconds = round(time.perf_counter() - t0, 2)

    def _coded(self, table: compare.PersonTable) -> compare.PersonTable:
        """The table with its codes (written and phonetic names, nationality, agency) in the index's numbering."""
        def recode(kind: str, values) -> np.ndarray:
            codes = self.codes[kind]
            return np.fromiter((codes.setdefault(v, len(codes)) for v in values), dtype=np.int64, count=len(values))

        table.norm_id = recode("norm", table.name_norm.tolist())
        table.phon_id = recode("phon", table.name_phon.tolist())
        labels = table.labels
        nationality = [labels["nationality"][c] if c >= 0 else "" for c in table.nationality.tolist()]
        table.nationality = np.where(table.nationality < 0, -1, recode("nationality", nationality))
        table.agency = recode("agency", [labels["agency"][c] for c in table.agency.tolist()])
        return table

    # ---------------------------------------------------------------- new records

    def load_new(self, store: Store, only: list[str] | None = None) -> list[str]:
        """Person records the store holds that were never resolved and the index does not hold (of `only`, if
        given): read them."""
        e, s = tables.entities, tables.statements
        query = select(e.c.id).where(e.c.canonical_id.is_(None), e.c.schema == "Person")
        with store.engine.connect() as conn:
            fresh = [eid for (eid,) in conn.execute(query if only is None else query.where(e.c.id.in_(only)))
                     if eid not in self.position]  # a batch that failed before it was kept is read again
            for k in range(0, len(fresh), NEW_CHUNK):
                chunk = fresh[k:k + NEW_CHUNK]
                for eid in chunk:
                    self.people[eid] = Entity(eid, "Person", None)
                rows = select(s.c.entity_id, s.c.prop, s.c.value, s.c.agency).where(
                    s.c.entity_id.in_(chunk), s.c.prop_type != "entity")
                for eid, prop, value, agency in conn.execute(rows):
                    ent = self.people[eid]
                    ent.props[prop].add(value)
                    ent.agencies.add(agency)
            attach_accounts(conn, {eid: self.people[eid] for eid in fresh}, few=True)
        if fresh and uses_sightings(self.model):
            self.seen.update(zip(fresh, map(tuple, seen_spans_of(store, fresh).T.tolist())))
        return fresh

    def with_batch(self, new_ids: list[str]) -> tuple[compare.PersonTable, tuple[np.ndarray, np.ndarray]]:
        """The index's table with the new records appended (positions from self.table.n on) and its population
        counts including them, and the people per phonetic name code (_NamePeople.adding); the index is unchanged
        until `_keep`."""
        new = self._coded(person_table(self.people, new_ids, self.model))
        unseen = (-1,) * compare.SPAN_ROWS
        new.take_spans(np.array([self.seen.get(eid, unseen) for eid in new_ids], dtype=np.int32)
                       .reshape(-1, compare.SPAN_ROWS).T)
        both = _append(self.table, new, self.buffers)
        totals = self.names.adding(new, len(self.codes["phon"]))
        both.phon_count = _CountByRow(totals[0], both.phon_id)
        both.phone_counts = _Sum(self.table.phone_counts, new.phone_counts)
        k = len(self.codes["agency"])
        pairs = np.zeros((k, k))  # an agency first seen in this batch weighs neutrally
        old = self.table.agency_pairs
        pairs[:old.shape[0], :old.shape[1]] = old
        both.agency_pairs = pairs
        return both, totals

    def candidates(self, both: compare.PersonTable, n_old: int, batch_keys: tuple[np.ndarray, np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (i, j) of `both` sharing a blocking key where j is new (i indexed or new, i < j), sorted, whose
        shared keys' block weights reach the model's floor; a key held by more than the model's max_block
        records, indexed and new together, is skipped, as in a full run. batch_keys: the new records' key codes
        (blocking.key_codes of the records from n_old on, numbered from 0)."""
        max_block = self.model["blocking"]["max_block"]
        codes, new = batch_keys
        new = new + n_old
        segments = [(recs, np.searchsorted(keys, codes, "left"), np.searchsorted(keys, codes, "right"))
                    for keys, recs in ((self.keys, self.recs), self.recent)]
        order = np.argsort(codes, kind="stable")  # the batch's own rows, grouped by key
        starts = np.flatnonzero(firsts(codes[order]))
        group = np.diff(np.r_[starts, len(codes)])
        in_batch = np.empty(len(codes), np.int64)
        in_batch[order] = np.repeat(group, group)
        size = sum(hi - lo for _recs, lo, hi in segments) + in_batch
        kept = size <= max_block
        weight = blocking.block_weight(size, codes < 0)
        rows = np.arange(len(codes))
        found = []  # (indexed or new record, new record, the key row whose block they share)
        for recs, lo, hi in segments:
            n = np.where(kept, hi - lo, 0)
            row = np.repeat(rows, n)
            found.append((recs[lo[row] + offsets(n)], new[row], row))
        n = np.where(kept[order], in_batch[order], 0)  # and every new record of the row's group
        row = np.repeat(order, n)
        found.append((new[order[np.repeat(np.repeat(starts, group), n) + offsets(n)]], new[row], row))
        i, j, row = (np.concatenate(parts) for parts in zip(*found))
        earlier = i < j
        pair, at = np.unique(i[earlier] * both.n + j[earlier], return_inverse=True)
        total = np.bincount(at, weights=weight[row[earlier]], minlength=len(pair))
        pair = pair[total >= blocking.pair_weight_floor(self.model["blocking"], both.n)]
        return pair // both.n, pair % both.n

    def resolve_new(self, store: Store, only: list[str] | None = None) -> ResolveResult:
        """Resolve the records new since the index was built (or last grown; of `only`, if given) against it and
        write their canonical ids, those of clusters they merged, and the change feed, in one transaction."""
        res = ResolveResult()
        t0 = time.perf_counter()
        new_ids = self.load_new(store, only)
        res.new_entities = res.persons = len(new_ids)
        res.seconds["load"] = round(time.perf_counter() - t0, 2)
        if not new_ids:
            return res
        n_old = self.table.n
        try:
            return self._resolve_batch(store, new_ids, n_old, res, t0)
        except BaseException:
            for name in ("ids",) + _LIST_FIELDS:  # the batch was appended to the table's lists in place
                del getattr(self.table, name)[n_old:]
            raise

    def _resolve_batch(self, store: Store, new_ids: list[str], n_old: int, res: ResolveResult,
                       t0: float) -> ResolveResult:
        from tessera.resolve.changes import record_changes
        from tessera.resolve.judgements import active_constraints

        t1 = time.perf_counter()
        both, totals = self.with_batch(new_ids)
        batch_keys = blocking.key_codes(_slice_from(both, n_old))
        i, j = self.candidates(both, n_old, batch_keys)
        levels = compare.compare(both, i, j)
        weight, refused = compare.score(levels, self.model), refusals(both, i, j, self.model)
        res.candidate_pairs = res.pairs_scored = len(i)
        res.seconds["score"] = round(time.perf_counter() - t1, 2)

        # the clusters touched: every member of every cluster a new record was compared with, and the new records
        t2 = time.perf_counter()
        ok = np.flatnonzero((weight >= self.model["threshold"]) & ~refused)
        met = {self.canonical[both.ids[x]] for x in set(i[ok].tolist()) if x < n_old}
        constraints = active_constraints(store)
        fresh = set(new_ids)
        for a, b in constraints.same:  # an analyst's "same" joins a new record to its cluster, scored or not
            for x, y in ((a, b), (b, a)):
                if x in fresh and y in self.canonical:
                    met.add(self.canonical[y])
        involved = [self.position[m] for cid in sorted(met) for m in sorted(self.members[cid])] + \
            list(range(n_old, both.n))
        small = {r: k for k, r in enumerate(involved)}
        ids = [both.ids[r] for r in involved]
        clusters = Clusters(ids, self.model["refuse"])
        at = {eid: k for k, eid in enumerate(ids)}
        clusters.cannot_link([(at[a], at[b]) for a, b in constraints.not_same if a in at and b in at])
        first: dict[str, int] = {}
        for k, eid in enumerate(ids):  # the clusters as they are
            if eid in self.canonical:
                clusters.union(k, first.setdefault(self.canonical[eid], k), guard=False)
        for a, b in constraints.same:
            if a in at and b in at and clusters.union(at[a], at[b], guard=False):
                res.judged_same += 1
        clusters.take_evidence(both, small, involved)
        evidence = compare.against(levels, self.model)
        against = np.flatnonzero(opposed(i, j, weight, evidence, joinable(both.n, i[ok], j[ok]), self.model))
        clusters.oppose(np.array([small[x] for x in i[against].tolist()], dtype=np.int64),
                        np.array([small[x] for x in j[against].tolist()], dtype=np.int64), evidence[against],
                        self.model["threshold"])
        res.pairs_accepted = len(ok)
        for k in ok[np.argsort(-weight[ok], kind="stable")].tolist():
            clusters.union(small[int(i[k])], small[int(j[k])], weight=float(weight[k]))
        res.merges_refused = clusters.refused
        res.refused_by_judgement = clusters.refused_by_judgement
        groups: dict[int, list[int]] = defaultdict(list)
        for k in range(len(ids)):
            groups[clusters.find(k)].append(k)
        before = {eid: self.canonical.get(eid) for eid in ids}
        after = dict(zip(ids, assign_canonical(ids, [before[eid] for eid in ids], list(groups.values()))))
        changes = [(eid, cid) for eid, cid in after.items() if before[eid] != cid]
        res.canonical_changed = len(changes)
        with store.engine.begin() as conn:
            store.set_canonical_ids(conn, changes)
            res.feed = record_changes(conn, before, after, model=self.model)
        self.run_id = res.feed["run_id"]
        self._keep(both, totals, n_old, batch_keys, after, before)
        res.clusters = len(groups)
        res.multi_clusters = sum(1 for g in groups.values() if len(g) > 1)
        res.largest_cluster = max(len(g) for g in groups.values())
        res.seconds["cluster_write"] = round(time.perf_counter() - t2, 2)
        res.seconds["total"] = round(time.perf_counter() - t0, 2)
        return res

    def _keep(self, both: compare.PersonTable, totals: tuple[np.ndarray, np.ndarray], n_old: int,
              batch_keys: tuple[np.ndarray, np.ndarray], after: dict[str, str], before: dict) -> None:
        """Make the batch part of the index: its table rows, keys, counts and canonical ids."""
        codes, recs = batch_keys
        self.recent = _merged(*self.recent, codes, recs + n_old)
        if len(self.recent[0]) * 16 > len(self.keys):  # merged in once they are a sixteenth of the rest
            self.keys, self.recs = _merged(self.keys, self.recs, *self.recent)
            self.recent = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        both.phone_counts = both.phone_counts.merged()
        both.key_names = both.key_names.merged()
        self.names.keep(*totals)
        self.table = both
        self.position.update((eid, n_old + r) for r, eid in enumerate(both.ids[n_old:]))
        for eid, cid in after.items():
            old = before[eid]
            if old is not None:
                self.members[old].discard(eid)
                if not self.members[old]:
                    del self.members[old]
            self.canonical[eid] = cid
            self.members[cid].add(eid)


class _CountByRow:
    """A table's phon_count read through the population's records per phonetic name, for the rows asked for:
    gathering it for every name row of a million records would cost each batch, one record included, O(n)."""

    def __init__(self, totals: np.ndarray, phon_id: np.ndarray):
        self.totals, self.phon_id = totals, phon_id

    def __getitem__(self, rows) -> np.ndarray:
        return self.totals[self.phon_id[rows]]


class _Sum:
    """Counts of a population and of a batch read as one, without copying the population's."""

    def __init__(self, base: Counter, extra: Counter):
        self.base, self.extra = base, extra

    def __getitem__(self, key) -> int:
        return self.base[key] + self.extra[key]

    def get(self, key, default=None):
        if key in self.base or key in self.extra:
            return self.base.get(key, 0) + self.extra.get(key, 0)
        return default

    def merged(self) -> Counter:
        """The batch's counts added into the population's (which this then stands for)."""
        self.base.update(self.extra)
        return self.base


def _merged(keys: np.ndarray, recs: np.ndarray, codes: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted keys with a batch's merged in: the batch sorted, then placed by searchsorted (no full re-sort)."""
    order = np.argsort(codes, kind="stable")
    codes, new = codes[order], new[order]
    at = np.searchsorted(keys, codes, "right")
    return np.insert(keys, at, codes), np.insert(recs, at, new)


def latest_run(store: Store) -> int | None:
    """The newest resolution run's id (every run, full or incremental, writes one)."""
    from tessera.resolve.tables import resolve_runs

    with store.engine.connect() as conn:
        return conn.execute(select(func.max(resolve_runs.c.id))).scalar()


def _sorted_keys(table: compare.PersonTable) -> tuple[np.ndarray, np.ndarray]:
    codes, recs = blocking.key_codes(table)
    order = np.argsort(codes, kind="stable")
    return codes[order], recs[order]


class _NamePeople:
    """People per phonetic name code, as phon_count counts them (compare.name_holder_codes), and the (name, holder)
    pairs counted so far, so that a batch's records add only the pairs that are new."""

    def __init__(self):
        self.totals = np.zeros(0, np.int64)
        self.counted = np.zeros(0, np.int64)  # sorted codes of the pairs counted
        self.recent = np.zeros(0, np.int64)  # the same for batches', merged in once a sixteenth of the rest

    def adding(self, table: compare.PersonTable, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(people per phonetic name code with the table's records counted, the codes of the pairs they add)."""
        codes, first = np.unique(compare.name_holder_codes(table.ids, table.phon_id, table.name_rec, table.accounts,
                                                           table.phones), return_index=True)
        new = ~(_holds(self.counted, codes) | _holds(self.recent, codes))
        totals = np.zeros(size, dtype=np.int64)
        totals[:len(self.totals)] = self.totals
        np.add.at(totals, table.phon_id[first[new]], 1)
        return totals, codes[new]

    def keep(self, totals: np.ndarray, codes: np.ndarray) -> None:
        self.totals = totals
        self.recent = np.union1d(self.recent, codes)
        if len(self.recent) * 16 > len(self.counted):
            self.counted, self.recent = np.union1d(self.counted, self.recent), np.zeros(0, np.int64)


def _holds(sorted_codes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per code, whether the sorted array holds it."""
    if not len(sorted_codes):
        return np.zeros(len(codes), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
    return sorted_codes[at] == codes


_ROW_FIELDS = ("year", "month", "day", "years_lo", "years_hi", "nationality", "gender", "agency", "seen_first",
               "seen_last", "landed", "abroad", "home_first", "home_last")
_LIST_FIELDS = ("phones", "docs", "tokens", "accounts", "addresses")
_NAME_FIELDS = ("name_norm", "name_phon", "name_skel", "norm_id", "phon_id")  # phon_count: _CountByRow


def _append(a: compare.PersonTable, b: compare.PersonTable, buffers: dict[str, np.ndarray]) -> compare.PersonTable:
    """Table a with table b's records after its own (codes must already share one numbering), costing b's size:
    a's lists grow in place (the caller undoes that if the batch fails) and its arrays are views of buffers with
    room to spare, written past a's end (a itself does not change)."""
    out = dataclasses.replace(a)
    n, names = a.n, len(a.name_rec)
    for name in ("ids",) + _LIST_FIELDS:
        getattr(out, name).extend(getattr(b, name))
    for name in _ROW_FIELDS + _NAME_FIELDS + ("name_rec", "first_name"):
        shift = n if name == "name_rec" else names if name == "first_name" else 0
        setattr(out, name, _grown(buffers, name, getattr(a, name), getattr(b, name) + shift if shift else
                                  getattr(b, name)))
    out.key_names = _Sum(a.key_names or {}, Counter(b.key_names or {}))
    return out


def _grown(buffers: dict[str, np.ndarray], name: str, held: np.ndarray, more: np.ndarray) -> np.ndarray:
    """held followed by more, as a view of the named buffer (reallocated, doubled, when it has no room)."""
    buf, end = buffers.get(name), len(held) + len(more)
    if buf is None or held.base is not buf or len(buf) < end:
        buf = np.empty(max(2 * end, 1024), dtype=held.dtype if len(held) else more.dtype)
        buf[:len(held)] = held
        buffers[name] = buf
    buf[len(held):end] = more
    return buf[:end]


def _slice_from(table: compare.PersonTable, lo: int) -> SimpleNamespace:
    """Records lo.. of a table, as much of it as blocking reads, numbered from 0."""
    rows = slice(int(table.first_name[lo]), len(table.name_rec)) if lo < table.n else slice(0, 0)
    return SimpleNamespace(
        n=table.n - lo, name_rec=table.name_rec[rows] - lo, name_phon=table.name_phon[rows],
        name_norm=table.name_norm[rows], name_skel=table.name_skel[rows],
        **{f: getattr(table, f)[lo:] for f in ("tokens", "year", "month", "day", "seen_first", "phones", "docs")},
        accounts=table.accounts[lo:] if table.accounts is not None else None,
        addresses=table.addresses[lo:] if table.addresses is not None else None)
