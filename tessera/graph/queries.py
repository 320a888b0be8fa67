"""Questions asked of a GraphIndex: neighbourhoods, paths, networks, key players, money, routes, timelines."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import networkit as nk
import numpy as np

from tessera.graph.index import (LINK_TYPES, PASSENGER, PAYMENT, EdgeFilter, GraphEvent, GraphIndex, Link, from_day,
                                 grade_score, to_day)

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


def _summary(ix: GraphIndex, u: int, flt: EdgeFilter | None) -> dict[str, int]:
    """Distinct neighbours of a node by link type, counting only links that pass the filter."""
    if flt is None or flt.empty:
        return ix.type_degree(u)
    out: dict[str, int] = defaultdict(int)
    for w in ix.graph.iterNeighbors(u):
        for t in _pair_types(ix, u, w, flt):
            out[t] += 1
    return dict(out)


def neighbourhood(ix: GraphIndex, entity: str, hops: int = 2, flt: EdgeFilter | None = None,
                  supernode: int = SUPERNODE, with_types: bool = True) -> Neighbourhood:
    """Entities within `hops` links of one entity; nodes over `supernode` neighbours are summarised, not expanded.

    With a filter, degrees, summaries and the supernode test count only the links that pass it, so a viewer
    learns nothing from links they may not see."""
    g = ix.graph
    start = ix.node(entity)
    filtered = flt is not None and not flt.empty
    degrees: dict[int, int] = {}

    def degree(u: int) -> int:
        d = degrees.get(u)
        if d is None:
            d = degrees[u] = g.degree(u) if not filtered else sum(
                1 for w in g.iterNeighbors(u) if ix.pair_ok(u, w, flt))
        return d

    seen = {start: 0}
    order = [start]
    edges: list[EdgeView] = []
    summaries: dict[int, dict[str, int]] = {}
    frontier = [start]
    for h in range(1, hops + 1):
        nxt = []
        for u in frontier:
            if degree(u) > supernode:
                summaries[u] = _summary(ix, u, flt)
                continue
            for w, wt in g.iterNeighborsWeights(u):
                if filtered and not ix.pair_ok(u, w, flt):
                    continue
                hw = seen.get(w)
                if hw is None:
                    seen[w] = h
                    order.append(w)
                    nxt.append(w)
                elif (hw < seen[u] or (hw == seen[u] and w < u)) and degree(w) <= supernode:
                    continue  # pair already reported when w was expanded
                edges.append(EdgeView(ix.id_of(u), ix.id_of(w), ix.pair_strength(u, w, flt) if filtered else wt,
                                      _pair_types(ix, u, w, flt) if with_types else []))
        frontier = nxt
    for u in frontier:
        if degree(u) > supernode:
            summaries[u] = _summary(ix, u, flt)
    nodes = [NodeView(ix.id_of(n), seen[n], degree(n), summaries.get(n)) for n in order]
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
    filtered = flt is not None and not flt.empty
    nb = [(w, ix.pair_strength(u, w, flt) if filtered else wt) for w, wt in ix.graph.iterNeighborsWeights(u)
          if ix.pair_ok(u, w, flt)]
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


def _distance_for(ix: GraphIndex, flt: EdgeFilter | None) -> tuple[nk.Graph, EdgeFilter | None]:
    """The graph to search and the filter still to apply on the way: under an access predicate, a graph of the
    visible links only (lengths then owe nothing to links the viewer may not see); otherwise the shared one."""
    if flt is not None and flt.visible is not None:
        return ix.filtered_graph(flt, distance=True), None
    return ix.distance_graph(), flt


def shortest_path(ix: GraphIndex, a: str, b: str, flt: EdgeFilter | None = None,
                  weighted: bool = True) -> Path | None:
    """The strongest (shortest by 1/strength) path between two entities, or None; weighted=False: fewest hops."""
    s, t = ix.node(a), ix.node(b)
    if s == t:
        return Path([a], 0.0)
    with ix.lock:
        if weighted:
            found = _strongest_path(ix, s, t, flt)
        else:
            d, flt = _distance_for(ix, flt)
            removed: list = []
            try:
                found = _path_with_bans(ix, d, s, t, flt, removed, weighted=False)
            finally:
                _restore(d, removed)
    if found is None:
        return None
    return Path([ix.id_of(n) for n in found[0]], found[1])


def _strongest_path(ix: GraphIndex, s: int, t: int, flt: EdgeFilter | None,
                    max_rounds: int = 200) -> tuple[list[int], float] | None:
    """The strongest path on the kept link lengths, searched again without each pair that fails the filter; under
    an access predicate, on the visible links alone (as `_distance_for`)."""
    if flt is not None and flt.visible is not None:
        pg, flt = ix.path_graph(flt), None
    else:
        pg = ix.path_graph()
    banned: set[int] = set()
    for _ in range(max_rounds):
        found = pg.strongest_path(s, t, np.fromiter(banned, np.int64, len(banned)) if banned else None)
        if found is None:
            return None
        length, path = found
        bad = [(min(x, y) << 32) | max(x, y) for x, y in zip(path, path[1:]) if not ix.pair_ok(x, y, flt)]
        if not bad:
            return path, length
        banned.update(bad)
    raise RuntimeError("too many filtered links on the way; filter the graph first")


def k_shortest_paths(ix: GraphIndex, a: str, b: str, k: int = 3, flt: EdgeFilter | None = None) -> list[Path]:
    """Up to k loopless paths, shortest first (Yen's algorithm over networkit's bidirectional Dijkstra)."""
    s, t = ix.node(a), ix.node(b)
    with ix.lock:
        d, flt = _distance_for(ix, flt)

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
PROJECTION = 0.5  # strength two entities get from serving the same passenger (a client paying one, calling another)
PLAYER_SCHEMAS = (None, "Person", "LegalEntity", "Company")  # who can be a key player (None: schema unknown)
PROJECT_LIMIT = 6  # a passenger linked to more entities than this says nothing about who works together
RESOLUTION = 1.0  # modularity resolution
# Boats and vehicles a passenger was found with belong to that crossing, not to the passenger's dealings: tying them
# to whom the passenger paid would tie the network of a first, intercepted attempt to the network of the next.
CROSSING_ASSETS = ("Vessel", "Vehicle")
# A network seen through agency records is a few dense cores (a recruiter's phone circle, an account and its
# holders) tied to each other by a handful of weak links (clients in common, one payment up the chain); modularity
# makes each core a network of its own. A lower resolution keeps them together but, on a large connected graph,
# merges everything whose links are at chance level. Instead a core is folded into another afterwards when most
# of its outside ties lead there (more than FOLD_SHARE) and those ties are a noticeable part of its strength (FOLD_MIN).
FOLD_SHARE = 0.5
ORGANISER_KEEPS = 0.5  # an organiser keeps at least this share of the most money any member of the network keeps
FOLD_MIN = 0.01


@dataclass
class Community:
    """A detected network: its members (passengers excluded) and the passengers it carried or dealt with."""

    id: int
    size: int
    members: list[str]
    passengers: list[str] = field(default_factory=list)


def _edge_arrays(g: nk.Graph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if g.numberOfEdges() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    e = np.array(list(g.iterEdgesWeights()), dtype=np.float64).reshape(-1, 3)
    return e[:, 0].astype(np.int64), e[:, 1].astype(np.int64), e[:, 2]


def network_graph(ix: GraphIndex, flt: EdgeFilter | None = None) -> tuple[nk.Graph, np.ndarray]:
    """The graph networks are found on, and the passenger mask.

    Passengers (entities carried on a crossing or intercepted) are clients, not members: their links are dropped,
    and instead the entities one passenger deals with (pays, calls; at most PROJECT_LIMIT of them, boats and
    vehicles it was found with left out) are tied to each other with a weak link. Without passengers this is the
    filtered graph itself."""
    g = ix.filtered_graph(flt)
    passenger = (ix.flags() & PASSENGER).astype(bool)
    if not passenger.any():
        return g, passenger
    u, v, w = _edge_arrays(g)
    pu, pv = passenger[u], passenger[v]
    core = ~pu & ~pv
    # passenger -> member contacts
    cp = np.r_[u[pu & ~pv], v[pv & ~pu]]
    cm = np.r_[v[pu & ~pv], u[pv & ~pu]]
    cw = np.r_[w[pu & ~pv], w[pv & ~pu]]
    seen, at = np.unique(cm, return_inverse=True)
    asset = np.array([ix.schema(int(x)) in CROSSING_ASSETS for x in seen.tolist()], dtype=bool)[at]
    src, dst, wt = [u[core]], [v[core]], [w[core]]
    pa, pb, pw = _passenger_ties(cp[~asset], cm[~asset], cw[~asset])
    if pa:
        src.append(np.array(pa, np.int64))
        dst.append(np.array(pb, np.int64))
        wt.append(np.array(pw, np.float64))
    a, b, ww = np.concatenate(src), np.concatenate(dst), np.concatenate(wt)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    upk, inv = np.unique((lo << 32) | hi, return_inverse=True)
    agg = np.bincount(inv, weights=ww, minlength=len(upk))
    out = nk.Graph(ix.num_nodes, weighted=True)
    if len(upk):
        out.addEdges((agg, (upk >> 32, upk & 0xFFFFFFFF)))
    return out, passenger


def _passenger_ties(cp: np.ndarray, cm: np.ndarray, cw: np.ndarray) -> tuple[list, list, list]:
    """Pairs of entities one passenger deals with (2..PROJECT_LIMIT of them), each tied weakly."""
    pa, pb, pw = [], [], []
    if not len(cp):
        return pa, pb, pw
    order = np.argsort(cp, kind="stable")
    cp, cm, cw = cp[order], cm[order], cw[order]
    cuts = np.flatnonzero(np.r_[True, cp[1:] != cp[:-1], True])
    for s, e in zip(cuts[:-1], cuts[1:]):
        k = e - s
        if k < 2 or k > PROJECT_LIMIT:
            continue
        for i in range(s, e):
            for j in range(i + 1, e):
                pa.append(cm[i])
                pb.append(cm[j])
                pw.append(PROJECTION * min(cw[i], cw[j]) / (k - 1))
    return pa, pb, pw


def communities(ix: GraphIndex, flt: EdgeFilter | None = None, min_size: int = 2,
                algorithm: str = "leiden", seed: int = 1, resolution: float = RESOLUTION) -> list[Community]:
    """Networks by weighted modularity (networkit ParallelLeiden, or PLM) at `resolution` over member links, with
    weakly tied cores folded into the network they belong to (see `fold`), largest first; passengers are attached
    to the network they deal with most, not counted as members."""
    g, passenger = network_graph(ix, flt)
    nk.engineering.setSeed(seed, True)
    algo = (nk.community.ParallelLeiden(g, gamma=resolution) if algorithm == "leiden"
            else nk.community.PLM(g, refine=True, gamma=resolution))
    algo.run()
    labels = fold(g, np.asarray(algo.getPartition().getVector()))
    isolated = np.asarray(nk.centrality.DegreeCentrality(g).run().scores()) == 0
    found = _groups(ix, labels, isolated, min_size)
    if passenger.any() and found:
        _attach_passengers(ix, flt, found, passenger)
    return found


def fold(g: nk.Graph, labels: np.ndarray, share: float = FOLD_SHARE, least: float = FOLD_MIN,
         rounds: int = 20) -> np.ndarray:
    """Labels after folding each community into the one most of its outside ties lead to, when those ties are more
    than `share` of its outside strength and at least `least` of its total strength and the other is no smaller;
    smaller communities first, a community that receives another is not moved in the same round; repeated until
    stable. Ties spread over many communities (chance links in a large graph) fold nothing."""
    u, v, w = _edge_arrays(g)
    labels = np.asarray(labels).copy()
    for _ in range(rounds):
        _, lab = np.unique(labels, return_inverse=True)
        k = int(lab.max()) + 1 if len(lab) else 0
        a, b = lab[u], lab[v]
        vol = np.bincount(a, weights=w, minlength=k) + np.bincount(b, weights=w, minlength=k)
        x = a != b
        if not x.any():
            break
        ca, cb, cw = np.r_[a[x], b[x]], np.r_[b[x], a[x]], np.r_[w[x], w[x]]
        pairs, inv = np.unique(ca * k + cb, return_inverse=True)
        pw = np.bincount(inv, weights=cw)
        pa, pb = pairs // k, pairs % k
        outside = np.bincount(pa, weights=pw, minlength=k)
        order = np.lexsort((pb, -pw, pa))  # per community, its strongest partner first (ties: lowest label)
        best = order[np.r_[True, pa[order][1:] != pa[order][:-1]]]
        src, dst, bw = pa[best], pb[best], pw[best]
        ok = (bw > share * outside[src]) & (bw >= least * vol[src]) & (vol[src] <= vol[dst])
        if not ok.any():
            break
        target, busy = np.arange(k), set()
        for s_, d_ in sorted(zip(src[ok].tolist(), dst[ok].tolist()), key=lambda t: (vol[t[0]], t[0])):
            if s_ in busy or d_ in busy:
                continue
            target[s_] = d_
            busy.update((s_, d_))
        labels = target[lab]
    return labels


def _attach_passengers(ix: GraphIndex, flt: EdgeFilter | None, found: list[Community], passenger: np.ndarray) -> None:
    g = ix.filtered_graph(flt)
    comm_of = {ix.node(m): c for c in found for m in c.members}
    for p in np.flatnonzero(passenger).tolist():
        best, score = None, 0.0
        for w, wt in g.iterNeighborsWeights(p):
            c = comm_of.get(w)
            if c is not None and wt > score:
                best, score = c, wt
        if best is not None:
            best.passengers.append(ix.id_of(p))
    for c in found:
        c.passengers.sort()


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
    """A member's standing in its network: centralities, money received up the chain, and an inferred role."""

    id: str
    pagerank: float
    betweenness: float
    degree: int
    money: float = 0.0  # net amount received (payments in minus payments out), 0 for those who pass money on
    score: float = 0.0  # the ranking: mean of the three, each scaled to the network's maximum
    role: str = "member"


def _money_rank(ix: GraphIndex, nodes: list[int], flt: EdgeFilter | None) -> dict[int, float]:
    """Net money each member keeps: payments received minus payments made (clients' payments included), for
    those who receive more than they pass on. Money stops with whoever runs the network: handlers take clients'
    fares and pay them up the chain, the organiser receives and does not pay on. Unlike PageRank over payments,
    this does not depend on the chain being resolved into one entity per person (a handler seen as many payees
    still passes the money on; the organiser's receipts are large however they are split). Amounts of different
    currencies are added as they stand."""
    rows = _payment_rows(ix, flt)
    if not len(rows) or not len(nodes):
        return {}
    src, dst, amt = ix.row("src")[rows], ix.row("dst")[rows], ix.row("amount")[rows]
    balance = (np.bincount(dst, weights=amt, minlength=ix.num_nodes)
               - np.bincount(src, weights=amt, minlength=ix.num_nodes))
    return {n: float(balance[n]) for n in nodes if balance[n] > 0}


def infer_roles(ix: GraphIndex, members: list[str], flt: EdgeFilter | None = None) -> dict[str, str]:
    """A role for each member from the kinds of links it has: who takes clients' money, who talks to clients,
    who receives money from those who take it and keeps the most of it, who drives, who holds the boats and
    engines."""
    nodes = [ix.node(m) for m in members]
    inside = set(nodes)
    typ, dst = ix.row("type"), ix.row("dst")
    out: dict[str, str] = {}
    facts: dict[int, dict[str, int]] = {}
    for u in nodes:
        f = defaultdict(int)
        for w in ix.graph.iterNeighbors(u):
            client = ix.is_passenger(w)
            for r in ix.pair_rows(u, w):
                if not ix.row_ok(r, flt):
                    continue
                t = LINK_TYPES[int(typ[r])]
                if t == "payment":
                    incoming = int(dst[r]) == u
                    key = ("paid_by_client" if client else "paid_by_member" if w in inside else "paid_by_other") \
                        if incoming else ("pays_member" if w in inside else "pays_other")
                    f[key] += 1
                elif t == "call" and client:
                    f["calls_client"] += 1
                elif t in ("vehicle_use", "ownership"):
                    sch = ix.schema(w)
                    f["boat" if sch == "Vessel" else "vehicle" if sch == "Vehicle" else "asset"] += 1
        f["arrested"] = sum(1 for ev in ix.events_of(u) if ev.kind == "arrest")
        facts[u] = f
    handlers = {u for u, f in facts.items() if f["paid_by_client"] >= 2}
    kept = _money_rank(ix, nodes, flt)
    most = max(kept.values(), default=0.0)
    for u in nodes:
        f, sch = facts[u], ix.schema(u)
        if sch not in (None, "Person", "LegalEntity"):
            role = sch.lower()
        elif (f["paid_by_member"] and not f["pays_member"] and (u not in handlers or f["paid_by_member"] >= 2)
              and kept.get(u, 0.0) >= ORGANISER_KEEPS * most):
            role = "organiser"
        elif f["paid_by_member"] and not f["pays_member"]:
            role = "money handler"  # takes payments, keeps little of what the network's money comes to
        elif u in handlers:
            role = "money handler"
        elif f["calls_client"] >= 2:
            role = "recruiter"
        elif f["boat"] or (f["vehicle"] and not f["arrested"]):
            role = "logistics"
        elif f["vehicle"] or f["arrested"]:
            role = "driver"
        else:
            role = "member"
        out[ix.id_of(u)] = role
    return out


def _induced(g: nk.Graph, nodes: list[int]) -> nk.Graph:
    """The subgraph `nodes` induce, renumbered 0..len(nodes)-1 in their order."""
    local = {n: i for i, n in enumerate(nodes)}
    sub = nk.Graph(len(nodes), weighted=True)
    for n in nodes:
        for w, wt in g.iterNeighborsWeights(n):
            j = local.get(w)
            if j is not None and n < w:
                sub.addEdge(local[n], j, wt)
    return sub


def _distances(g: nk.Graph) -> nk.Graph:
    """The same graph weighted by 1/strength, so shortest paths (and betweenness) follow strong links."""
    d = nk.Graph(g.numberOfNodes(), weighted=True)
    for u, v, w in g.iterEdgesWeights():
        d.addEdge(u, v, 1.0 / w if w > 0 else 1e9)
    return d


def key_players(ix: GraphIndex, members: list[str] | None = None, top: int = 10,
                flt: EdgeFilter | None = None, epsilon: float = 0.05, graph: nk.Graph | None = None,
                people_only: bool = True) -> list[Player]:
    """Most important members of a network (or the whole graph): PageRank and betweenness (brokerage) on the
    network's own subgraph, and the net money each keeps (payments in minus out); ranked by their scaled mean.
    `graph` is network_graph(ix, flt) when the caller has it already; with `people_only`, accounts, vehicles and
    organisations shape the scores but are not listed."""
    if members is not None:
        g = graph if graph is not None else network_graph(ix, flt)[0]
        nodes = [ix.node(m) for m in members]
        sub = _induced(g, nodes)
        local = {n: i for i, n in enumerate(nodes)}
    else:
        sub = ix.filtered_graph(flt)
        nodes = list(range(ix.num_nodes))
        local = {n: n for n in nodes}
    pr = nk.centrality.PageRank(sub, tol=1e-9)
    pr.run()
    if sub.numberOfNodes() <= 2000:
        bt = nk.centrality.Betweenness(_distances(sub), normalized=True)
    else:
        bt = nk.centrality.ApproxBetweenness(_distances(sub), epsilon=epsilon)
    bt.run()
    prs = {n: x for n, x in zip(nodes, (pr.scores()[local[n]] for n in nodes))}
    bts = {n: x for n, x in zip(nodes, (bt.scores()[local[n]] for n in nodes))}
    money = _money_rank(ix, nodes, flt) if members is not None else {}
    roles = infer_roles(ix, members, flt) if members is not None else {}

    def scaled(values: list[float]) -> np.ndarray:
        a = np.asarray(values, dtype=np.float64)
        top_ = a.max() if len(a) else 0.0
        return a / top_ if top_ > 0 else np.zeros_like(a)

    parts = [scaled([prs[n] for n in nodes]), scaled([bts[n] for n in nodes])]
    if money:
        parts.append(scaled([money.get(n, 0.0) for n in nodes]))
    score = np.mean(parts, axis=0) if nodes else np.zeros(0)
    players = [Player(ix.id_of(n), prs[n], bts[n], sub.degree(local[n]), money.get(n, 0.0), float(sc),
                      roles.get(ix.id_of(n), "member")) for n, sc in zip(nodes, score)]
    if people_only:
        players = [p for p in players if ix.schema(ix.node(p.id)) in PLAYER_SCHEMAS]
    players.sort(key=lambda p: (-p.score, -p.betweenness, -p.pagerank, p.id))
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
    entity: str | None = None  # on a network's timeline: the link's first end

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


# routes and network timelines
EVENT_LINK = {"crossing": "crossed_together", "interception": "crossed_together", "arrest": "arrested_together",
              "event": "association"}


def event_view(ix: GraphIndex, ev: GraphEvent, flt: EdgeFilter | None) -> GraphEvent | None:
    """The event as the filter lets it show: None if its kind, date, grading or statements fail; otherwise only
    the involved entities whose involvement the viewer may see."""
    if flt is None or flt.empty:
        return ev
    if flt.types and EVENT_LINK.get(ev.kind, "association") not in flt.types:
        return None
    day = ev.day
    if flt.start is not None and (day is None or day < to_day(flt.start)):
        return None
    if flt.end is not None and (day is None or day > to_day(flt.end)):
        return None
    if flt.min_grade and grade_score(ev.grading) < grade_score(flt.min_grade) - 1e-9:
        return None
    if flt.visible is None:
        return ev
    keep = [(who, st) for who, st in zip(ev.involved, ev.involved_statements) if any(map(flt.visible, st))]
    own = [x for x in ev.statements if flt.visible(x)]
    if not keep:
        return None
    return GraphEvent(ev.id, ev.kind, ev.name if own else None, ev.date if own else None,
                      ev.place if own else None, ev.country if own else None, ev.lat if own else None,
                      ev.lon if own else None, [w for w, _ in keep], [s for _, s in keep], own, ev.grading)


@dataclass
class Stop:
    """One step of a route: an event (crossing, interception, arrest...) or a payment, with its place if known."""

    date: date | None
    kind: str
    id: str
    place: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    entities: list[str] = field(default_factory=list)  # those of the network (or the entity) taking part
    amount: float | None = None
    currency: str | None = None


def routes(ix: GraphIndex, entities: list[str], flt: EdgeFilter | None = None, with_payments: bool = True,
           limit: int | None = None) -> list[Stop]:
    """The events (and payments among them) of a set of entities — a network's members and passengers, or one
    entity — in time order, undated last. `limit` keeps the first ones (an entity on thousands of crossings)."""
    nodes = {ix.node(e) for e in entities if e in ix}
    seen: set[int] = set()
    stops: list[Stop] = []
    for n in nodes:
        for i in ix._node_events.get(n, ()):
            if i in seen:
                continue
            seen.add(i)
            ev = event_view(ix, ix.events[i], flt)
            if ev is None:
                continue
            who = sorted(w for w in ev.involved if w in ix and ix.node(w) in nodes)
            if not who:
                continue
            d = ev.date if isinstance(ev.date, date) or ev.date is None else from_day(to_day(ev.date))
            stops.append(Stop(d, ev.kind, ev.id, ev.place, ev.country, ev.lat, ev.lon, who))
    if with_payments:
        rows = _payment_rows(ix, flt)
        inside = np.zeros(ix.num_nodes, bool)
        inside[list(nodes)] = True
        rows = rows[inside[ix.row("src")[rows]] | inside[ix.row("dst")[rows]]]
        for r in rows.tolist():
            f = _flow(ix, r)
            stops.append(Stop(f.first, "payment", f"{f.source}>{f.target}", entities=[f.source, f.target],
                              amount=f.amount, currency=f.currency))
    far = date.max
    stops.sort(key=lambda s: (s.date or far, s.kind, s.id))
    return stops[:limit] if limit is not None else stops


def network_timeline(ix: GraphIndex, members: list[str], flt: EdgeFilter | None = None,
                     limit: int | None = None) -> list[Event]:
    """The links among a network's members, each pair once, in time order (undated last)."""
    nodes = [ix.node(m) for m in members if m in ix]
    inside = set(nodes)
    events = []
    for u in nodes:
        for w in ix.graph.iterNeighbors(u):
            if w not in inside or w < u:
                continue
            for r in ix.pair_rows(u, w):
                if ix.row_ok(r, flt):
                    link = ix.link(r)
                    events.append(Event(link.first, link.last, link.target, link, entity=link.source))
    far = date.max
    events.sort(key=lambda e: (e.first or far, e.last or far, e.type, e.entity or "", e.other))
    return events[:limit] if limit is not None else events
