"""Questions asked of a GraphIndex: neighbourhoods, paths, communities, key players, money, timelines."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import networkit as nk
import numpy as np

from tessera.graph.index import LINK_TYPES, PAYMENT, EdgeFilter, GraphIndex, Link, from_day

SUPERNODE = 200  # a node with more neighbours than this comes back as a summary


@dataclass
class NodeView:
    """A node in a result: its id, hop distance and, for a supernode, counts of its links by type."""

    id: str
    hops: int
    degree: int
    summary: dict[str, int] | None = None

    @property
    def is_summary(self) -> bool:
        return self.summary is not None


@dataclass
class EdgeView:
    """A linked pair in a result, with its strength and the link types that passed the filter."""

    a: str
    b: str
    strength: float
    types: list[str]


@dataclass
class Neighbourhood:
    centre: str
    nodes: list[NodeView]
    edges: list[EdgeView]

    def node(self, entity: str) -> NodeView:
        return next(n for n in self.nodes if n.id == entity)


def _pair_types(ix: GraphIndex, u: int, v: int, flt: EdgeFilter | None) -> list[str]:
    return sorted({LINK_TYPES[int(ix.row("type")[r])] for r in ix.pair_rows(u, v) if ix.row_ok(r, flt)})


def neighbourhood(ix: GraphIndex, entity: str, hops: int = 2, flt: EdgeFilter | None = None,
                  supernode: int = SUPERNODE, with_types: bool = True) -> Neighbourhood:
    """Entities within `hops` links of one entity; nodes over `supernode` neighbours are summarised, not expanded."""
    g = ix.graph
    start = ix.node(entity)
    filtered = flt is not None and not flt.empty
    seen = {start: 0}
    order = [start]
    edges: list[EdgeView] = []
    summaries: dict[int, dict[str, int]] = {}
    frontier = [start]
    for h in range(1, hops + 1):
        nxt = []
        for u in frontier:
            if g.degree(u) > supernode:
                summaries[u] = ix.type_degree(u)
                continue
            for w, wt in g.iterNeighborsWeights(u):
                if filtered and not ix.pair_ok(u, w, flt):
                    continue
                hw = seen.get(w)
                if hw is None:
                    seen[w] = h
                    order.append(w)
                    nxt.append(w)
                elif (hw < seen[u] or (hw == seen[u] and w < u)) and g.degree(w) <= supernode:
                    continue  # pair already reported when w was expanded
                edges.append(EdgeView(ix.id_of(u), ix.id_of(w), wt,
                                      _pair_types(ix, u, w, flt) if with_types else []))
        frontier = nxt
    for u in frontier:
        if g.degree(u) > supernode:
            summaries[u] = ix.type_degree(u)
    nodes = [NodeView(ix.id_of(n), seen[n], g.degree(n), summaries.get(n)) for n in order]
    return Neighbourhood(entity, nodes, edges)


@dataclass
class Page:
    """One page of a node's neighbours, strongest first."""

    entity: str
    page: int
    page_size: int
    total: int
    items: list[EdgeView]

    @property
    def pages(self) -> int:
        return -(-self.total // self.page_size)


def expand(ix: GraphIndex, entity: str, page: int = 0, page_size: int = 50, flt: EdgeFilter | None = None) -> Page:
    """Page through all neighbours of a (super)node, strongest link first, ties by id."""
    u = ix.node(entity)
    nb = [(w, wt) for w, wt in ix.graph.iterNeighborsWeights(u) if ix.pair_ok(u, w, flt)]
    nb.sort(key=lambda x: (-x[1], ix.id_of(x[0])))
    chunk = nb[page * page_size:(page + 1) * page_size]
    items = [EdgeView(entity, ix.id_of(w), wt, _pair_types(ix, u, w, flt)) for w, wt in chunk]
    return Page(entity, page, page_size, len(nb), items)


# paths
@dataclass
class Path:
    """A path between two entities; length sums 1/strength over its links (stronger = shorter)."""

    nodes: list[str]
    length: float


def _path_with_bans(ix: GraphIndex, d: nk.Graph, s: int, t: int, flt: EdgeFilter | None,
                    removed: list, max_rounds: int = 200, weighted: bool = True) -> tuple[list[int], float] | None:
    """Shortest path on `d`; a pair failing the filter is removed (recorded in `removed`) and the search rerun."""
    algo = nk.distance.BidirectionalDijkstra if weighted else nk.distance.BidirectionalBFS
    for _ in range(max_rounds):
        bd = algo(d, s, t)
        bd.run()
        dist = bd.getDistance()
        if not np.isfinite(dist) or dist > 1e300 or dist < 0:
            return None
        path = [s] + list(bd.getPath()) + [t]
        dist = sum(d.weight(x, y) for x, y in zip(path, path[1:]))
        bad = [(a, b) for a, b in zip(path, path[1:]) if not ix.pair_ok(a, b, flt)]
        if not bad:
            return path, dist
        for a, b in bad:
            removed.append((a, b, d.weight(a, b)))
            d.removeEdge(a, b)
    raise RuntimeError("too many filtered links on the way; filter the graph first")


def _restore(d: nk.Graph, removed: list) -> None:
    for a, b, w in reversed(removed):
        d.addEdge(a, b, w)
    removed.clear()


def shortest_path(ix: GraphIndex, a: str, b: str, flt: EdgeFilter | None = None,
                  weighted: bool = True) -> Path | None:
    """The strongest (shortest by 1/strength) path between two entities, or None; weighted=False: fewest hops."""
    s, t = ix.node(a), ix.node(b)
    if s == t:
        return Path([a], 0.0)
    with ix.lock:
        d = ix.distance_graph()
        removed: list = []
        try:
            found = _path_with_bans(ix, d, s, t, flt, removed, weighted=weighted)
        finally:
            _restore(d, removed)
    if found is None:
        return None
    return Path([ix.id_of(n) for n in found[0]], found[1])


def k_shortest_paths(ix: GraphIndex, a: str, b: str, k: int = 3, flt: EdgeFilter | None = None) -> list[Path]:
    """Up to k loopless paths, shortest first (Yen's algorithm over networkit's bidirectional Dijkstra)."""
    s, t = ix.node(a), ix.node(b)
    with ix.lock:
        d = ix.distance_graph()

        def length(p):
            return sum(d.weight(x, y) for x, y in zip(p, p[1:]))

        removed: list = []
        try:
            first = _path_with_bans(ix, d, s, t, flt, removed)
        finally:
            _restore(d, removed)
        if first is None:
            return []
        found = [first[0]]
        candidates: dict[tuple, float] = {}
        while len(found) < k:
            last = found[-1]
            for i in range(len(last) - 1):
                spur, root = last[i], last[: i + 1]
                try:
                    for p in found:
                        if p[: i + 1] == root and d.hasEdge(p[i], p[i + 1]):
                            removed.append((p[i], p[i + 1], d.weight(p[i], p[i + 1])))
                            d.removeEdge(p[i], p[i + 1])
                    for n in root[:-1]:
                        for w in list(d.iterNeighbors(n)):
                            removed.append((n, w, d.weight(n, w)))
                            d.removeEdge(n, w)
                    sp = _path_with_bans(ix, d, spur, t, flt, removed)
                finally:
                    _restore(d, removed)
                if sp is not None:
                    cand = tuple(root[:-1] + sp[0])
                    if cand not in candidates and list(cand) not in found:
                        candidates[cand] = length(cand)
            if not candidates:
                break
            best = min(candidates, key=candidates.get)
            del candidates[best]
            found.append(list(best))
        return [Path([ix.id_of(n) for n in p], length(p)) for p in found]


# communities and key players
@dataclass
class Community:
    id: int
    size: int
    members: list[str]


def communities(ix: GraphIndex, flt: EdgeFilter | None = None, min_size: int = 2,
                algorithm: str = "leiden", seed: int = 1) -> list[Community]:
    """Communities by weighted modularity (networkit ParallelLeiden, or PLM), largest first."""
    g = ix.filtered_graph(flt)
    nk.engineering.setSeed(seed, True)
    algo = nk.community.ParallelLeiden(g) if algorithm == "leiden" else nk.community.PLM(g, refine=True)
    algo.run()
    labels = np.asarray(algo.getPartition().getVector())
    isolated = np.asarray(nk.centrality.DegreeCentrality(g).run().scores()) == 0
    return _groups(ix, labels, isolated, min_size)


def _groups(ix: GraphIndex, labels: np.ndarray, isolated: np.ndarray, min_size: int) -> list[Community]:
    nodes = np.flatnonzero(~isolated)
    lab = labels[nodes]
    order = np.argsort(lab, kind="stable")
    lab_s, nodes_s = lab[order], nodes[order]
    cuts = np.flatnonzero(np.r_[True, lab_s[1:] != lab_s[:-1], True])
    out = []
    for s, e in zip(cuts[:-1], cuts[1:]):
        if e - s >= min_size:
            out.append((int(lab_s[s]), nodes_s[s:e]))
    out.sort(key=lambda x: (-len(x[1]), x[0]))
    return [Community(i, len(m), sorted(ix.id_of(int(n)) for n in m)) for i, (_, m) in enumerate(out)]


@dataclass
class Player:
    id: str
    pagerank: float
    betweenness: float
    degree: int


def key_players(ix: GraphIndex, members: list[str] | None = None, top: int = 10,
                flt: EdgeFilter | None = None, epsilon: float = 0.05) -> list[Player]:
    """Most central entities of a community (or the whole graph): PageRank and approximate betweenness."""
    g = ix.filtered_graph(flt)
    nodes = [ix.node(m) for m in members] if members is not None else list(range(ix.num_nodes))
    sub = nk.graphtools.subgraphFromNodes(g, nodes) if members is not None else g
    pr = nk.centrality.PageRank(sub, tol=1e-9)
    pr.run()
    if sub.numberOfNodes() <= 2000:
        bt = nk.centrality.Betweenness(sub, normalized=True)
    else:
        bt = nk.centrality.ApproxBetweenness(sub, epsilon=epsilon)
    bt.run()
    prs, bts = pr.scores(), bt.scores()
    players = [Player(ix.id_of(n), prs[n], bts[n], sub.degree(n)) for n in nodes]
    players.sort(key=lambda p: (-p.betweenness, -p.pagerank, p.id))
    return players[:top]


# money
@dataclass
class Flow:
    """Payments from one entity to another in one currency, summed."""

    source: str
    target: str
    currency: str | None
    amount: float
    count: int
    first: date | None = None
    last: date | None = None
    hop: int = 0


def _payment_rows(ix: GraphIndex, flt: EdgeFilter | None) -> np.ndarray:
    return np.flatnonzero((ix.row("type") == PAYMENT) & ix.row_mask(flt))


def money_flows(ix: GraphIndex, members: list[str] | None = None, flt: EdgeFilter | None = None) -> list[Flow]:
    """All payments between entities (within `members` if given), summed per direction and currency, largest first."""
    rows = _payment_rows(ix, flt)
    if members is not None:
        keep = np.array([ix.node(m) for m in members if m in ix], dtype=np.int64)
        rows = rows[np.isin(ix.row("src")[rows], keep) & np.isin(ix.row("dst")[rows], keep)]
    flows = [_flow(ix, int(r)) for r in rows]
    flows.sort(key=lambda f: (-f.amount, f.source, f.target))
    return flows


def _flow(ix: GraphIndex, r: int, hop: int = 0) -> Flow:
    return Flow(ix.id_of(int(ix.row("src")[r])), ix.id_of(int(ix.row("dst")[r])),
                ix.currency_name(int(ix.row("currency")[r])), float(ix.row("amount")[r]),
                int(ix.row("count")[r]), from_day(int(ix.row("first")[r])), from_day(int(ix.row("last")[r])), hop)


def follow_money(ix: GraphIndex, entity: str, direction: str = "downstream", hops: int = 3,
                 flt: EdgeFilter | None = None, currency: str | None = None) -> list[Flow]:
    """Payments out of (downstream) or into (upstream) an entity, then onward, up to `hops` steps."""
    if direction not in ("downstream", "upstream"):
        raise ValueError("direction is downstream or upstream")
    down = direction == "downstream"
    start = ix.node(entity)
    seen, frontier, out = {start}, [start], []
    src, dst, typ = ix.row("src"), ix.row("dst"), ix.row("type")
    cur = None if currency is None else ix.currency_code(currency)
    for h in range(1, hops + 1):
        nxt = []
        for u in frontier:
            for w in ix.graph.iterNeighbors(u):
                for r in ix.pair_rows(u, w):
                    if typ[r] != PAYMENT or (src[r] if down else dst[r]) != u or not ix.row_ok(r, flt):
                        continue
                    if cur is not None and ix.row("currency")[r] != cur:
                        continue
                    out.append(_flow(ix, r, h))
                    if w not in seen:
                        seen.add(w)
                        nxt.append(w)
        frontier = nxt
    out.sort(key=lambda f: (f.hop, -f.amount, f.source, f.target))
    return out


def totals(flows: list[Flow]) -> dict[str, float]:
    """Sum of amounts per currency."""
    acc: dict[str, float] = defaultdict(float)
    for f in flows:
        acc[f.currency or ""] += f.amount
    return dict(acc)


# timeline
@dataclass
class Event:
    """One link record of an entity on its timeline."""

    first: date | None
    last: date | None
    other: str
    link: Link = field(repr=False)

    @property
    def type(self) -> str:
        return self.link.type


def timeline(ix: GraphIndex, entity: str, flt: EdgeFilter | None = None) -> list[Event]:
    """An entity's links ordered by first date (undated last), then last date, type and other end."""
    u = ix.node(entity)
    events = []
    for w in ix.graph.iterNeighbors(u):
        for r in ix.pair_rows(u, w):
            if ix.row_ok(r, flt):
                link = ix.link(r)
                events.append(Event(link.first, link.last, ix.id_of(w), link))
    far = date.max
    events.sort(key=lambda e: (e.first or far, e.last or far, e.type, e.other))
    return events
