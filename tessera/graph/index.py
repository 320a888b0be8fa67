"""In-memory link graph over canonical entities: networkit topology plus columnar link attributes."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import chain
from typing import Callable, Iterable, Sequence

import networkit as nk
import numpy as np

from tessera.graph.paths import PathGraph
from tessera.model.markings import Grading

LINK_TYPES = (
    "call", "payment", "association", "family", "membership", "ownership", "vehicle_use",
    "phone_use", "arrested_together", "crossed_together", "shared_identifier",
)
TYPE_CODE = {name: i for i, name in enumerate(LINK_TYPES)}
PAYMENT = TYPE_CODE["payment"]
NO_FIRST = np.iinfo(np.int32).max  # sentinel: no first date
NO_LAST = np.iinfo(np.int32).min  # sentinel: no last date
UNGRADED_SCORE = 0.5  # strength of a link nobody graded
# How much one record of each link type says about two entities working together: a payment, call or membership
# between them means far more than sitting in the same boat or sharing a hostel address.
TYPE_WEIGHT = {"call": 1.0, "payment": 1.5, "association": 0.6, "family": 0.6, "membership": 2.0, "ownership": 1.0,
               "vehicle_use": 1.0, "phone_use": 1.5, "arrested_together": 0.4, "crossed_together": 0.05,
               "shared_identifier": 0.4}
_TYPE_WEIGHT = np.array([TYPE_WEIGHT[t] for t in LINK_TYPES], dtype=np.float64)
PASSENGER = 1  # node flag: carried on a crossing (a client of a network, not a member)

_SOURCE_SCORE = {"3x5x2": {"1": 1.0, "2": 0.6, "3": 0.3},
                 "5x5x5": {"A": 1.0, "B": 0.8, "C": 0.6, "D": 0.3, "E": 0.5}}
_INTEL_SCORE = {"3x5x2": {"A": 1.0, "B": 0.8, "C": 0.6, "D": 0.4, "E": 0.1},
                "5x5x5": {"1": 1.0, "2": 0.8, "3": 0.8, "4": 0.4, "5": 0.1}}


@lru_cache(maxsize=1024)
def grade_score(code: str | None) -> float:
    """Score a grading code in (0, 1]: reliable source and direct knowledge score highest; 0 for none."""
    g = Grading.parse(code)
    if g is None:
        return 0.0
    return _SOURCE_SCORE[g.scheme][g.source] * _INTEL_SCORE[g.scheme][g.intelligence]


def to_day(value) -> int | None:
    """Days since 1970-01-01 for a date, ISO string or datetime64; None for nothing."""
    if value is None or value == "":
        return None
    d = np.datetime64(value, "D")
    return None if np.isnat(d) else int(d.astype(np.int64))


def from_day(day: int) -> date | None:
    """The date of a day number, None for the sentinels."""
    if day in (NO_FIRST, NO_LAST):
        return None
    return np.datetime64(int(day), "D").astype(date)


@dataclass
class Edge:
    """One observed link between two canonical entities, as a later step derives it from statements."""

    source: str
    target: str
    type: str
    first: date | str | None = None
    last: date | str | None = None
    count: int = 1
    amount: float | None = None
    currency: str | None = None
    grading: str | None = None
    statements: Sequence[str] = ()


@dataclass
class EdgeBatch:
    """Links in columns (for bulk loads): ids, type names or codes, day numbers, counts, amounts."""

    source: Sequence[str]
    target: Sequence[str]
    type: Sequence | np.ndarray
    first: np.ndarray | None = None  # int days, NO_FIRST for none
    last: np.ndarray | None = None  # int days, NO_LAST for none
    count: np.ndarray | None = None
    amount: np.ndarray | None = None
    currency: Sequence[str | None] | None = None
    grading: Sequence[str | None] | None = None
    statements: Sequence[Sequence[str]] | None = None

    @classmethod
    def from_edges(cls, edges: Iterable[Edge]) -> EdgeBatch:
        """Turn Edge records into columns."""
        edges = list(edges)
        firsts = [to_day(e.first) for e in edges]
        lasts = [to_day(e.last) for e in edges]
        first = np.array([NO_FIRST if f is None else f for f in firsts], dtype=np.int32)
        last = np.array([(NO_LAST if f is None else f) if l is None else l for f, l in zip(firsts, lasts)],
                        dtype=np.int32)
        return cls(
            source=[e.source for e in edges], target=[e.target for e in edges],
            type=[e.type for e in edges], first=first, last=last,
            count=np.array([e.count for e in edges], dtype=np.int64),
            amount=np.array([e.amount or 0.0 for e in edges], dtype=np.float64),
            currency=[e.currency for e in edges], grading=[e.grading for e in edges],
            statements=[list(e.statements) for e in edges],
        )


@dataclass
class GraphEvent:
    """Something that happened at a time and place to several entities: a crossing, interception, arrest, stop."""

    id: str
    kind: str  # crossing, interception, arrest, event
    name: str | None = None
    date: date | str | None = None
    place: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    involved: list[str] = field(default_factory=list)
    involved_statements: list[list[str]] = field(default_factory=list)  # per involved entity
    statements: list[str] = field(default_factory=list)  # the event's own (date, place, name)
    grading: str | None = None

    @property
    def day(self) -> int | None:
        return to_day(self.date)

    def all_statements(self) -> list[str]:
        return list(self.statements) + [x for xs in self.involved_statements for x in xs]


@dataclass(frozen=True)
class EdgeFilter:
    """Which links count: link types, a time window (days or dates), a minimum grading, a statement predicate."""

    types: frozenset[str] | None = None
    start: date | str | None = None
    end: date | str | None = None
    min_grade: str | None = None
    visible: Callable[[str], bool] | None = None  # a link shows if any statement it rests on is visible

    @property
    def empty(self) -> bool:
        return not (self.types or self.start or self.end or self.min_grade or self.visible)


@dataclass
class Link:
    """The attributes of one link record (one type, direction and currency between a pair)."""

    source: str
    target: str
    type: str
    first: date | None
    last: date | None
    count: int
    amount: float | None
    currency: str | None
    grading: str | None
    statements: list[str] = field(default_factory=list)

    @property
    def directed(self) -> bool:
        return self.type == "payment"


class _Columns:
    """Growable NumPy columns, one row per link record."""

    SPEC = {"src": np.int64, "dst": np.int64, "type": np.int8, "first": np.int32, "last": np.int32,
            "count": np.int64, "amount": np.float64, "currency": np.int16, "grade": np.int16,
            "score": np.float32, "next": np.int64}

    def __init__(self):
        self.n = 0
        self.cols = {k: np.zeros(16, dtype=t) for k, t in self.SPEC.items()}

    def grow(self, extra: int) -> slice:
        need = self.n + extra
        cap = len(self.cols["src"])
        if need > cap:
            cap = max(need + need // 4 + 1024, cap * 2)  # headroom: a bulk load is not copied on the next add
            for k, a in self.cols.items():
                b = np.zeros(cap, dtype=a.dtype)
                b[: self.n] = a[: self.n]
                self.cols[k] = b
        s = slice(self.n, need)
        self.n = need
        return s

    def __getitem__(self, key: str) -> np.ndarray:
        return self.cols[key][: self.n]


def _contrib(count, score, typ):
    """Strength one link record adds to its pair: type weight times grading times (1 + log count)."""
    eff = np.where(score > 0, score, UNGRADED_SCORE)
    return _TYPE_WEIGHT[np.asarray(typ, dtype=np.int64)] * eff * (1.0 + np.log(np.maximum(count, 1)))


class GraphIndex:
    """Canonical ids mapped to networkit nodes; one weighted undirected edge per linked pair."""

    def __init__(self):
        self.graph = nk.Graph(0, weighted=True)  # weight = link strength (stronger = heavier)
        self._dist: nk.Graph | None = None  # same topology, weight = 1 / strength, for paths
        self._paths: PathGraph | None = None  # the same lengths in rows, for strongest paths
        self.lock = threading.RLock()
        self._ids: list[str] = []
        self._node: dict[str, int] = {}
        self._rows = _Columns()
        self._rowkey: dict[int, int] = {}  # (pair, type, direction, currency) -> row
        self._pairhead: dict[int, int] = {}  # pair -> first row of its linked list
        self._stmts: list[list[str]] = []
        self._currencies: list[str | None] = [None]
        self._currency_code: dict[str | None, int] = {None: 0}
        self._grades: list[str | None] = [None]
        self._grade_code: dict[str | None, int] = {None: 0, "": 0}
        self._type_degree = np.zeros((0, len(LINK_TYPES)), dtype=np.int32)
        self._flags = np.zeros(0, dtype=np.uint8)
        self._schema: dict[int, str] = {}
        self.events: list[GraphEvent] = []
        self._event_of: dict[str, int] = {}
        self._node_events: dict[int, list[int]] = {}

    # ids
    def node(self, entity: str) -> int:
        """The node number of a canonical id (KeyError if unknown)."""
        return self._node[entity]

    def id_of(self, node: int) -> str:
        return self._ids[node]

    def __contains__(self, entity: str) -> bool:
        return entity in self._node

    def add_nodes(self, entities: Iterable[str]) -> np.ndarray:
        """Intern canonical ids (new ones become nodes); returns their node numbers."""
        node, ids = self._node, self._ids
        out = []
        for e in entities:
            n = node.get(e)
            if n is None:
                n = node[e] = len(ids)
                ids.append(e)
            out.append(n)
        missing = len(ids) - self.graph.numberOfNodes()
        if missing > 0:
            self.graph.addNodes(missing)
            if self._dist is not None:
                self._dist.addNodes(missing)
            if self._paths is not None:
                self._paths.grow(len(ids))
            grown = np.zeros((len(ids), len(LINK_TYPES)), dtype=np.int32)
            grown[: len(self._type_degree)] = self._type_degree
            self._type_degree = grown
            flags = np.zeros(len(ids), dtype=np.uint8)
            flags[: len(self._flags)] = self._flags
            self._flags = flags
        return np.array(out, dtype=np.int64)

    def set_schema(self, schemas: dict[str, str]) -> None:
        """Record what each canonical entity is (Person, Vehicle, Organization, ...)."""
        nodes = self.add_nodes(schemas)
        for n, sch in zip(nodes.tolist(), schemas.values()):
            self._schema[n] = sch

    def schema(self, node: int) -> str | None:
        return self._schema.get(node)

    def mark(self, entities: Iterable[str], flag: int = PASSENGER) -> None:
        """Set a node flag (PASSENGER: carried on a crossing) on entities."""
        nodes = self.add_nodes(entities)
        self._flags[nodes] |= flag

    def flags(self) -> np.ndarray:
        """The flag byte of every node."""
        return self._flags[: self.num_nodes]

    def is_passenger(self, node: int) -> bool:
        return bool(self._flags[node] & PASSENGER)

    # events
    def add_events(self, events: Iterable[GraphEvent]) -> int:
        """Add (or extend, by id) events; entities carried on crossings or intercepted are marked passengers."""
        added = 0
        with self.lock:
            for ev in events:
                i = self._event_of.get(ev.id)
                if i is None:
                    i = self._event_of[ev.id] = len(self.events)
                    self.events.append(GraphEvent(ev.id, ev.kind, ev.name, ev.date, ev.place, ev.country, ev.lat,
                                                  ev.lon, [], [], list(ev.statements), ev.grading))
                    added += 1
                else:
                    old = self.events[i]
                    old.statements.extend(ev.statements)
                    old.date = old.date or ev.date
                    old.place, old.country = old.place or ev.place, old.country or ev.country
                    old.lat = old.lat if old.lat is not None else ev.lat
                    old.lon = old.lon if old.lon is not None else ev.lon
                target = self.events[i]
                stm = ev.involved_statements or [[] for _ in ev.involved]
                for who, st in zip(ev.involved, stm):
                    if who in target.involved:
                        target.involved_statements[target.involved.index(who)].extend(st)
                        continue
                    target.involved.append(who)
                    target.involved_statements.append(list(st))
                    n = int(self.add_nodes([who])[0])
                    self._node_events.setdefault(n, []).append(i)
                    if ev.kind in ("crossing", "interception"):
                        self._flags[n] |= PASSENGER
        return added

    def events_of(self, node: int) -> list[GraphEvent]:
        """Events an entity took part in."""
        return [self.events[i] for i in self._node_events.get(node, ())]

    @property
    def num_nodes(self) -> int:
        return len(self._ids)

    @property
    def num_pairs(self) -> int:
        return self.graph.numberOfEdges()

    @property
    def num_links(self) -> int:
        return self._rows.n

    # building
    def _intern(self, table: list, codes: dict, value) -> int:
        c = codes.get(value)
        if c is None:
            c = codes[value] = len(table)
            table.append(value)
        return c

    def add_edges(self, batch: EdgeBatch | Iterable[Edge]) -> int:
        """Add links incrementally (no rebuild); returns how many new pairs appeared."""
        if not isinstance(batch, EdgeBatch):
            batch = EdgeBatch.from_edges(batch)
        n = len(batch.source)
        if n == 0:
            return 0
        with self.lock:
            return self._add(batch, n)

    def _add(self, b: EdgeBatch, n: int) -> int:
        u = self.add_nodes(b.source)
        v = self.add_nodes(b.target)
        if np.any(u == v):
            raise ValueError("a link needs two different entities")
        t = np.asarray(b.type)
        if t.dtype.kind in "US" or t.dtype == object:
            try:
                t = np.array([TYPE_CODE[x] for x in t], dtype=np.int64)
            except KeyError as err:
                raise ValueError(f"unknown link type {err.args[0]!r}; known: {', '.join(LINK_TYPES)}") from None
        t = t.astype(np.int64)
        first = np.full(n, NO_FIRST, np.int32) if b.first is None else np.asarray(b.first, np.int32)
        last = np.where(first == NO_FIRST, NO_LAST, first) if b.last is None else np.asarray(b.last, np.int32)
        last = np.where(last == NO_LAST, np.where(first == NO_FIRST, NO_LAST, first), last)
        count = np.ones(n, np.int64) if b.count is None else np.asarray(b.count, np.int64)
        amount = np.zeros(n) if b.amount is None else np.nan_to_num(np.asarray(b.amount, np.float64))
        cur = np.zeros(n, np.int64) if b.currency is None else np.array(
            [self._intern(self._currencies, self._currency_code, c and c.upper()) for c in b.currency], np.int64)
        if b.grading is None:
            grade = np.zeros(n, np.int64)
        else:
            grade = np.array([self._grade(g) for g in b.grading], np.int64)
        score = np.array([grade_score(g) for g in self._grades], np.float32)[grade]
        stm = b.statements if b.statements is not None else [()] * n

        payment = t == PAYMENT
        cur = np.where(payment, cur, 0)
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        src = np.where(payment, u, lo)
        dst = np.where(payment, v, hi)
        pk = (lo << 32) | hi
        sub = (t << 17) | ((payment & (u > v)).astype(np.int64) << 16) | cur
        order = np.lexsort((-score, sub, pk))
        pk_s, sub_s = pk[order], sub[order]
        starts = np.flatnonzero(np.r_[True, (pk_s[1:] != pk_s[:-1]) | (sub_s[1:] != sub_s[:-1])])
        ends = np.r_[starts[1:], n]
        g_first_idx = order[starts]  # best-graded record of each group
        g_count = np.add.reduceat(count[order], starts)
        g_first = np.minimum.reduceat(first[order], starts)
        g_last = np.maximum.reduceat(last[order], starts)
        g_amount = np.add.reduceat(amount[order], starts)
        g_pk, g_sub = pk_s[starts], sub_s[starts]
        if len(starts) == n:  # every record its own group (a first load): no statements to join
            g_stm = [list(stm[i]) for i in order.tolist()]
        else:
            g_stm = [list(chain.from_iterable(stm[i] for i in order[s:e])) for s, e in zip(starts, ends)]

        rows = self._rows
        rowkey, pairhead = self._rowkey, self._pairhead
        keys = [(p << 24) | s for p, s in zip(g_pk.tolist(), g_sub.tolist())]
        row_of = np.array([rowkey.get(k, -1) for k in keys], dtype=np.int64)
        old = row_of >= 0
        # update records that exist already
        if old.any():
            r, gi = row_of[old], np.flatnonzero(old)
            before = _contrib(rows["count"][r], rows["score"][r], rows["type"][r])
            rows["count"][r] += g_count[gi]
            rows["first"][r] = np.minimum(rows["first"][r], g_first[gi])
            rows["last"][r] = np.maximum(rows["last"][r], g_last[gi])
            rows["amount"][r] += g_amount[gi]
            better = score[g_first_idx[gi]] > rows["score"][r]
            rows["grade"][r[better]] = grade[g_first_idx[gi[better]]]
            rows["score"][r[better]] = score[g_first_idx[gi[better]]]
            delta_old = _contrib(rows["count"][r], rows["score"][r], rows["type"][r]) - before
            for rr, g in zip(r.tolist(), gi.tolist()):
                self._stmts[rr].extend(g_stm[g])
        else:
            r = np.zeros(0, np.int64)
            delta_old = np.zeros(0)
        # create new records
        gi = np.flatnonzero(~old)
        new_pairs = []
        if len(gi):
            s = rows.grow(len(gi))
            fi = g_first_idx[gi]
            rows["src"][s], rows["dst"][s], rows["type"][s] = src[fi], dst[fi], t[fi]
            rows["first"][s], rows["last"][s] = g_first[gi], g_last[gi]
            rows["count"][s], rows["amount"][s] = g_count[gi], g_amount[gi]
            rows["currency"][s], rows["grade"][s], rows["score"][s] = cur[fi], grade[fi], score[fi]
            nxt = rows["next"]
            new_rows = np.arange(s.start, s.stop)
            first_of_type = np.ones(len(gi), bool)
            types = rows["type"]
            for j, (g, row, p) in enumerate(zip(gi.tolist(), new_rows.tolist(), g_pk[gi].tolist())):
                rowkey[keys[g]] = row
                head = pairhead.get(p, -1)
                if head < 0:
                    new_pairs.append(p)
                else:
                    x = head
                    while x >= 0:
                        if types[x] == types[row]:
                            first_of_type[j] = False
                            break
                        x = nxt[x]
                nxt[row] = head
                pairhead[p] = row
                self._stmts.append(g_stm[g])
            fr = new_rows[first_of_type]
            np.add.at(self._type_degree, (rows["src"][fr], rows["type"][fr]), 1)
            np.add.at(self._type_degree, (rows["dst"][fr], rows["type"][fr]), 1)
            r = np.r_[r, new_rows]
            delta_old = np.r_[delta_old, _contrib(rows["count"][new_rows], rows["score"][new_rows],
                                                  rows["type"][new_rows])]
        # topology: one weighted edge per pair
        row_pk = (np.minimum(rows["src"][r], rows["dst"][r]) << 32) | np.maximum(rows["src"][r], rows["dst"][r])
        upk, inv = np.unique(row_pk, return_inverse=True)
        delta = np.bincount(inv, weights=delta_old, minlength=len(upk))
        is_new = np.isin(upk, np.array(new_pairs, dtype=np.int64))
        a, c = upk >> 32, upk & 0xFFFFFFFF
        g = self.graph
        if is_new.any():
            g.addEdges((delta[is_new].astype(np.float64), (a[is_new], c[is_new])))
        for x, y, d in zip(a[~is_new].tolist(), c[~is_new].tolist(), delta[~is_new].tolist()):
            g.increaseWeight(x, y, d)
        if self._dist is not None or self._paths is not None:
            length = 1.0 / np.array([g.weight(x, y) for x, y in zip(a.tolist(), c.tolist())], dtype=np.float64)
            if self._paths is not None:
                self._paths.update(a, c, length)
            if self._dist is not None:
                for x, y, ln, new in zip(a.tolist(), c.tolist(), length.tolist(), is_new.tolist()):
                    if new:
                        self._dist.addEdge(x, y, ln)
                    else:
                        self._dist.setWeight(x, y, ln)
        return len(new_pairs)

    def _grade(self, code: str | None) -> int:
        c = self._grade_code.get(code)
        if c is None:
            g = Grading.parse(code)
            c = self._intern(self._grades, self._grade_code, g.code if g else None)
            self._grade_code[code] = c
        return c

    # reading
    def distance_graph(self) -> nk.Graph:
        """The topology weighted by 1/strength (built on first use, then kept up to date)."""
        with self.lock:
            if self._dist is None:
                d = nk.Graph(self.graph.numberOfNodes(), weighted=True)
                e = np.array(list(self.graph.iterEdgesWeights()), dtype=np.float64).reshape(-1, 3)
                if len(e):
                    d.addEdges((1.0 / e[:, 2], (e[:, 0].astype(np.int64), e[:, 1].astype(np.int64))))
                self._dist = d
            return self._dist

    def path_graph(self, flt: EdgeFilter | None = None) -> PathGraph:
        """Link lengths (1 / strength) for strongest paths: without a filter one kept up to date (built on first
        use); with one, a new one over the passing links only, their strength re-summed."""
        with self.lock:
            if flt is not None and not flt.empty:
                return PathGraph(self.num_nodes, *self._pair_lengths(self.row_mask(flt)))
            if self._paths is None:
                self._paths = PathGraph(self.num_nodes, *self._pair_lengths(None))
            return self._paths

    def _pair_lengths(self, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Linked pairs (a < b) and 1 / their strength, summed over the link records in `mask` (all if None)."""
        c = self._rows
        src, dst = c["src"], c["dst"]
        contrib = _contrib(c["count"], c["score"], c["type"])
        if mask is not None:
            src, dst, contrib = src[mask], dst[mask], contrib[mask]
        key = (np.minimum(src, dst) << 32) | np.maximum(src, dst)
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
        strength = np.add.reduceat(contrib[order], starts) if len(key) else np.zeros(0)
        pairs = key[starts]
        return pairs >> 32, pairs & 0xFFFFFFFF, 1.0 / strength

    def neighbours(self, node: int) -> list[int]:
        return list(self.graph.iterNeighbors(node))

    def degree(self, node: int) -> int:
        return self.graph.degree(node)

    def strength(self, u: int, v: int) -> float:
        return self.graph.weight(u, v)

    def type_degree(self, node: int) -> dict[str, int]:
        """Distinct neighbours of a node by link type."""
        row = self._type_degree[node]
        return {LINK_TYPES[i]: int(c) for i, c in enumerate(row) if c}

    def pair_rows(self, u: int, v: int) -> list[int]:
        """The link records between two nodes."""
        x = self._pairhead.get((min(u, v) << 32) | max(u, v), -1)
        nxt, out = self._rows.cols["next"], []
        while x >= 0:
            out.append(x)
            x = int(nxt[x])
        return out

    def link(self, row: int) -> Link:
        """The attributes of one link record."""
        c = self._rows
        amount_known = c["type"][row] == PAYMENT
        return Link(
            source=self._ids[int(c["src"][row])], target=self._ids[int(c["dst"][row])],
            type=LINK_TYPES[int(c["type"][row])], first=from_day(int(c["first"][row])),
            last=from_day(int(c["last"][row])), count=int(c["count"][row]),
            amount=float(c["amount"][row]) if amount_known else None,
            currency=self._currencies[int(c["currency"][row])], grading=self._grades[int(c["grade"][row])],
            statements=list(self._stmts[row]),
        )

    def row(self, name: str) -> np.ndarray:
        """One attribute column over all link records (src, dst, type, first, last, count, amount, ...)."""
        return self._rows[name]

    def currency_code(self, currency: str | None) -> int | None:
        return self._currency_code.get(currency and currency.upper())

    def currency_name(self, code: int) -> str | None:
        return self._currencies[code]

    def statements(self, row: int) -> list[str]:
        return self._stmts[row]

    # filtering
    def visible_edges(self, visible: Callable[[str], bool]) -> np.ndarray:
        """Per link record: does every statement it rests on pass the predicate (deny wins: a shared phone
        whose other holder's statement is hidden, or a payment whose beneficiary is hidden, is no link)."""
        return np.fromiter((all(map(visible, s)) for s in self._stmts), dtype=bool, count=self._rows.n)

    def row_mask(self, flt: EdgeFilter | None) -> np.ndarray:
        """Per link record: does it pass the filter (vectorised over all records)."""
        c = self._rows
        mask = np.ones(c.n, dtype=bool)
        if flt is None or flt.empty:
            return mask
        if flt.types:
            mask &= np.isin(c["type"], [TYPE_CODE[x] for x in flt.types])
        if flt.start is not None:
            mask &= c["last"] >= to_day(flt.start)
        if flt.end is not None:
            mask &= c["first"] <= to_day(flt.end)
        if flt.min_grade:
            mask &= c["score"] >= grade_score(flt.min_grade) - 1e-9
        if flt.visible is not None:
            mask &= self.visible_edges(flt.visible)
        return mask

    def row_ok(self, row: int, flt: EdgeFilter | None) -> bool:
        """Does one link record pass the filter."""
        if flt is None or flt.empty:
            return True
        c = self._rows.cols
        if flt.types and LINK_TYPES[c["type"][row]] not in flt.types:
            return False
        if flt.start is not None and c["last"][row] < to_day(flt.start):
            return False
        if flt.end is not None and c["first"][row] > to_day(flt.end):
            return False
        if flt.min_grade and c["score"][row] < grade_score(flt.min_grade) - 1e-9:
            return False
        if flt.visible is not None and not all(map(flt.visible, self._stmts[row])):
            return False
        return True

    def pair_ok(self, u: int, v: int, flt: EdgeFilter | None) -> bool:
        """Does any link record between the pair pass the filter."""
        if flt is None or flt.empty:
            return True
        return any(self.row_ok(r, flt) for r in self.pair_rows(u, v))

    def pair_strength(self, u: int, v: int, flt: EdgeFilter | None = None) -> float:
        """Strength of a pair counting only the link records that pass the filter."""
        if flt is None or flt.empty:
            return self.graph.weight(u, v)
        rows = [r for r in self.pair_rows(u, v) if self.row_ok(r, flt)]
        if not rows:
            return 0.0
        c = self._rows
        return float(_contrib(c["count"][rows], c["score"][rows], c["type"][rows]).sum())

    def filtered_graph(self, flt: EdgeFilter | None, distance: bool = False) -> nk.Graph:
        """A topology holding only pairs with a passing link (same node numbers); strength re-summed."""
        if flt is None or flt.empty:
            return self.distance_graph() if distance else self.graph
        c = self._rows
        m = self.row_mask(flt)
        lo = np.minimum(c["src"][m], c["dst"][m])
        hi = np.maximum(c["src"][m], c["dst"][m])
        upk, inv = np.unique((lo << 32) | hi, return_inverse=True)
        w = np.bincount(inv, weights=_contrib(c["count"][m], c["score"][m], c["type"][m]), minlength=len(upk))
        g = nk.Graph(self.num_nodes, weighted=True)
        if len(upk):
            g.addEdges(((1.0 / w) if distance else w, (upk >> 32, upk & 0xFFFFFFFF)))
        return g


def strength_of(count: int, grading: str | None, type: str = "call") -> float:
    """Strength a single link record of this count, grading and type gives its pair."""
    return float(_contrib(np.array([count]), np.array([grade_score(grading)]), np.array([TYPE_CODE[type]]))[0])


__all__ = ["GraphIndex", "Edge", "EdgeBatch", "EdgeFilter", "GraphEvent", "Link", "LINK_TYPES", "PASSENGER",
           "TYPE_WEIGHT", "grade_score", "strength_of"]
