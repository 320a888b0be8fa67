"""Benchmark the graph engine (GraphIndex on networkit) against igraph and rustworkx on one synthetic network."""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import platform
import subprocess
import time
from pathlib import Path

import networkit as nk
import numpy as np
from rich.console import Console
from rich.table import Table

from tessera.graph.index import LINK_TYPES, Edge, EdgeBatch, GraphIndex
from tessera.graph.queries import communities, neighbourhood, shortest_path

RESULTS = Path(__file__).parent / "results" / "graph.json"
TARGETS = {"two_hop_p95_ms": 1.0, "path_p95_ms": 5.0, "communities_s": 40.0, "add_10k_s": 1.0}
METRICS = [
    ("build_s", "build (s)"), ("path_graph_s", "path lengths in rows (s)"), ("two_hop_p50_ms", "2-hop median (ms)"),
    ("two_hop_p95_ms", "2-hop p95 (ms)"), ("two_hop_typed_p95_ms", "2-hop p95 with link types (ms)"),
    ("path_p50_ms", "strongest path median (ms)"), ("path_p95_ms", "strongest path p95 (ms)"),
    ("path_nk_p50_ms", "same, networkit BidirectionalDijkstra median (ms)"),
    ("path_nk_p95_ms", "same, networkit BidirectionalDijkstra p95 (ms)"),
    ("search_p50_ms", "PathGraph search alone median (ms)"), ("search_p95_ms", "PathGraph search alone p95 (ms)"),
    ("search_base_p50_ms", "same, --base code median (ms)"), ("search_base_p95_ms", "same, --base code p95 (ms)"),
    ("search_links", "links read a search (mean)"), ("search_base_links", "same, --base code"),
    ("search_steps", "NumPy steps a search (mean)"), ("search_base_steps", "same, --base code"),
    ("hop_path_p50_ms", "fewest-hops path median (ms)"),
    ("hop_path_p95_ms", "fewest-hops path p95 (ms)"), ("path_samples", "shortest path samples"),
    ("components_s", "components (s)"), ("pagerank_s", "PageRank (s)"), ("communities_s", "communities (s)"),
    ("communities_n", "communities found"), ("modularity", "modularity"), ("add_1_us", "add one edge (µs)"),
    ("add_10k_s", "add 10k edges (s)"),
]


def synth(n: int, m: int, seed: int = 42) -> dict:
    """A network of planted groups (~100 members; 80% of links inside a group) with typed, dated links."""
    rng = np.random.default_rng(seed)
    group = 100
    u = rng.integers(0, n, m)
    inside = rng.random(m) < 0.8
    base = (u // group) * group
    v = np.where(inside, np.minimum(base + rng.integers(0, group, m), n - 1), rng.integers(0, n, m))
    v = np.where(u == v, (v + 1) % n, v)
    t = rng.integers(0, len(LINK_TYPES), m)
    first = rng.integers(18262, 20454, m).astype(np.int32)  # 2020..2025
    return {"u": u, "v": v, "type": t, "first": first, "last": first + rng.integers(0, 60, m).astype(np.int32),
            "count": rng.integers(1, 6, m), "amount": np.round(rng.random(m) * 5000, 2)}


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def sample_ms(fn, items, budget_s: float) -> list[float]:
    """Time fn over items (ms each), stopping once the time budget is spent."""
    out, spent = [], 0.0
    for it in items:
        t0 = time.perf_counter()
        fn(*it) if isinstance(it, tuple) else fn(it)
        dt = time.perf_counter() - t0
        out.append(dt * 1000)
        spent += dt
        if spent > budget_s:
            break
    return out


def search_side_by_side(ix: GraphIndex, pairs, base: Path | None, budget: float) -> dict:
    """PathGraph.strongest_path alone on node numbers, and the same search from the paths.py of another checkout
    (`base`) on the same lengths, pair by pair in alternating order (before and after in one run)."""
    pg = ix.path_graph()
    runs = {"search": lambda s, t: pg.strongest_path(s, t)}
    if base is not None:
        spec = importlib.util.spec_from_file_location("base_paths", base / "tessera" / "graph" / "paths.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        old = mod.PathGraph(ix.num_nodes, *ix._pair_lengths(None))
        runs["search_base"] = lambda s, t: old.strongest_path(s, t)
    ms: dict[str, list[float]] = {k: [] for k in runs}
    spent, differ = 0.0, 0
    for i, (a, b) in enumerate(pairs):
        s, t = ix.node(f"E{a:07d}"), ix.node(f"E{b:07d}")
        found = {}
        for k in (list(runs) if i % 2 == 0 else list(runs)[::-1]):
            t0 = time.perf_counter()
            found[k] = runs[k](s, t)
            dt = time.perf_counter() - t0
            ms[k].append(dt * 1000)
            spent += dt
        if "search_base" in found and (found["search"] is None) != (found["search_base"] is None):
            differ += 1
        elif "search_base" in found and found["search"] is not None:
            differ += abs(found["search"][0] - found["search_base"][0]) > 1e-9 * found["search_base"][0]
        if spent > budget:
            break
    r = {}
    for k, v in ms.items():
        r[f"{k}_p50_ms"], r[f"{k}_p95_ms"] = pct(v, 50), pct(v, 95)
    graphs = {"search": pg, "search_base": old} if base is not None else {"search": pg}
    for k, g in graphs.items():  # the work, which does not depend on the machine: one more pass, counted
        seen = [0, 0]
        read = g.neighbours

        def counted(*args, read=read, seen=seen):
            out = read(*args)
            seen[0] += 1
            seen[1] += len(out[0])
            return out

        g.neighbours = counted
        done = 0
        for a, b in pairs[: len(ms[k])]:
            runs[k](ix.node(f"E{a:07d}"), ix.node(f"E{b:07d}"))
            done += 1
        del g.neighbours
        r[f"{k}_steps"], r[f"{k}_links"] = seen[0] / max(done, 1), seen[1] / max(done, 1)
    if base is not None:
        r["search_base_lengths_differ"] = differ
    return r


def bench_tessera(d: dict, n: int, probes, pairs, extra, budget: float, log, base: Path | None = None) -> dict:
    ids = [f"E{i:07d}" for i in range(n)]
    m = len(d["u"])
    cur = np.array(["GBP", "EUR", "USD"], dtype=object)[np.arange(m) % 3]
    grades = np.array(["1A", "2B", "3C", None], dtype=object)[np.arange(m) % 4]
    batch = EdgeBatch(source=[ids[i] for i in d["u"]], target=[ids[i] for i in d["v"]], type=d["type"],
                      first=d["first"], last=d["last"], count=d["count"], amount=d["amount"],
                      currency=list(cur), grading=list(grades), statements=[[f"st{i}"] for i in range(m)])
    ix = GraphIndex()
    ix.add_nodes(ids)
    r = {}
    _, r["build_s"] = timed(ix.add_edges, batch)
    del batch
    gc.collect()
    log(f"tessera: built {ix.num_nodes} nodes, {ix.num_pairs} pairs, {ix.num_links} link records in {r['build_s']:.1f}s")
    _, r["path_graph_s"] = timed(ix.path_graph)
    _, r["distance_graph_s"] = timed(ix.distance_graph)
    hop = sample_ms(lambda p: neighbourhood(ix, ids[p], hops=2, with_types=False), probes, budget)
    r["two_hop_p50_ms"], r["two_hop_p95_ms"] = pct(hop, 50), pct(hop, 95)
    r["two_hop_nodes_mean"] = float(np.mean([len(neighbourhood(ix, ids[p], hops=2, with_types=False).nodes)
                                             for p in probes[:50]]))
    typed = sample_ms(lambda p: neighbourhood(ix, ids[p], hops=2), probes, budget)
    r["two_hop_typed_p95_ms"] = pct(typed, 95)
    sp = sample_ms(lambda a, b: shortest_path(ix, ids[a], ids[b]), pairs, budget)
    r["path_p50_ms"], r["path_p95_ms"], r["path_samples"] = pct(sp, 50), pct(sp, 95), len(sp)
    dg = ix.distance_graph()

    def networkit_path(a, b):  # what shortest_path ran before: networkit's BidirectionalDijkstra, same lengths
        bd = nk.distance.BidirectionalDijkstra(dg, ix.node(ids[a]), ix.node(ids[b]))
        bd.run()
        return bd.getPath()

    nkp = sample_ms(networkit_path, pairs, budget)
    r["path_nk_p50_ms"], r["path_nk_p95_ms"] = pct(nkp, 50), pct(nkp, 95)
    r.update(search_side_by_side(ix, pairs, base, budget))
    hp = sample_ms(lambda a, b: shortest_path(ix, ids[a], ids[b], weighted=False), pairs, budget)
    r["hop_path_p50_ms"], r["hop_path_p95_ms"] = pct(hp, 50), pct(hp, 95)
    _, r["components_s"] = timed(lambda: nk.components.ConnectedComponents(ix.graph).run())
    _, r["pagerank_s"] = timed(lambda: nk.centrality.PageRank(ix.graph, tol=1e-9).run())
    comms, r["communities_s"] = timed(communities, ix)
    r["communities_n"] = len(comms)
    part = nk.community.ParallelLeiden(ix.graph)
    part.run()
    r["modularity"] = nk.community.Modularity().getQuality(part.getPartition(), ix.graph)
    del comms
    e = [Edge(ids[a], ids[b], "call", first="2026-01-01", statements=["new"]) for a, b in extra[:1]]
    _, t1 = timed(ix.add_edges, e)
    r["add_1_us"] = t1 * 1e6
    xb = EdgeBatch(source=[ids[a] for a, _ in extra], target=[ids[b] for _, b in extra],
                   type=[LINK_TYPES[i % len(LINK_TYPES)] for i in range(len(extra))],
                   statements=[["x"]] * len(extra))
    _, r["add_10k_s"] = timed(ix.add_edges, xb)
    return r


def bench_igraph(d, n, probes, pairs, extra, budget, log) -> dict:
    import igraph as ig
    r = {}
    w = d["count"].astype(float)

    def build():
        g = ig.Graph(n=n, edges=np.column_stack([d["u"], d["v"]]).tolist())
        g.es["weight"] = (1.0 / w).tolist()
        return g

    g, r["build_s"] = timed(build)
    log(f"igraph: built in {r['build_s']:.1f}s")
    hop = sample_ms(lambda p: g.neighborhood(int(p), order=2), probes, budget)
    r["two_hop_p50_ms"], r["two_hop_p95_ms"] = pct(hop, 50), pct(hop, 95)
    sp = sample_ms(lambda a, b: g.get_shortest_path(int(a), int(b), weights="weight"), pairs, budget)
    r["path_p50_ms"], r["path_p95_ms"], r["path_samples"] = pct(sp, 50), pct(sp, 95), len(sp)
    _, r["components_s"] = timed(g.connected_components)
    _, r["pagerank_s"] = timed(g.pagerank)
    c, r["communities_s"] = timed(g.community_leiden, objective_function="modularity", n_iterations=3)
    r["communities_n"], r["modularity"] = len(c), g.modularity(c.membership)
    _, t1 = timed(g.add_edges, [tuple(map(int, extra[0]))])
    r["add_1_us"] = t1 * 1e6
    _, r["add_10k_s"] = timed(g.add_edges, [(int(a), int(b)) for a, b in extra])
    return r


def bench_rustworkx(d, n, probes, pairs, extra, budget, log) -> dict:
    import rustworkx as rx
    r = {}
    w = (1.0 / d["count"]).tolist()

    def build():
        g = rx.PyGraph(multigraph=False)
        g.add_nodes_from(range(n))
        g.add_edges_from(list(zip(d["u"].tolist(), d["v"].tolist(), w)))
        return g

    g, r["build_s"] = timed(build)
    log(f"rustworkx: built in {r['build_s']:.1f}s")

    def two_hop(p):
        first = set(g.neighbors(int(p)))
        out = set(first)
        for x in first:
            out.update(g.neighbors(x))
        return out

    hop = sample_ms(two_hop, probes, budget)
    r["two_hop_p50_ms"], r["two_hop_p95_ms"] = pct(hop, 50), pct(hop, 95)
    sp = sample_ms(lambda a, b: rx.dijkstra_shortest_paths(g, int(a), target=int(b), weight_fn=float),
                   pairs, budget)
    r["path_p50_ms"], r["path_p95_ms"], r["path_samples"] = pct(sp, 50), pct(sp, 95), len(sp)
    _, r["components_s"] = timed(rx.connected_components, g)
    dg = g.to_directed()
    _, r["pagerank_s"] = timed(rx.pagerank, dg, tol=1e-12)
    del dg
    _, t1 = timed(g.add_edge, int(extra[0][0]), int(extra[0][1]), 1.0)
    r["add_1_us"] = t1 * 1e6
    _, r["add_10k_s"] = timed(g.add_edges_from, [(int(a), int(b), 1.0) for a, b in extra])
    return r


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, int):
        return f"{v:,}"
    if v != v:
        return "—"
    return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=5_000_000)
    ap.add_argument("--probes", type=int, default=200, help="queries timed per measure")
    ap.add_argument("--budget", type=float, default=30.0, help="seconds at most per timed query series")
    ap.add_argument("--libs", default="tessera,igraph,rustworkx")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--base", type=Path, help="a checkout of earlier code (git worktree add DIR COMMIT): its path "
                    "search is timed beside this one's on the same lengths and pairs")
    a = ap.parse_args(argv)
    con = Console(width=150)
    log = con.log
    rng = np.random.default_rng(7)
    d = synth(a.nodes, a.edges)
    probes = rng.integers(0, a.nodes, a.probes).tolist()
    pairs = [tuple(x) for x in rng.integers(0, a.nodes, (a.probes, 2)).tolist() if x[0] != x[1]]
    extra = rng.integers(0, a.nodes, (10_000, 2))
    extra[:, 1] = np.where(extra[:, 0] == extra[:, 1], (extra[:, 1] + 1) % a.nodes, extra[:, 1])
    runners = {"tessera": bench_tessera, "igraph": bench_igraph, "rustworkx": bench_rustworkx}
    results, versions = {}, {}
    for name in a.libs.split(","):
        mod = {"tessera": "networkit"}.get(name, name)
        try:
            versions[name] = __import__(mod).__version__
        except ImportError:
            log(f"{name}: not installed, skipped")
            continue
        log(f"{name} {versions[name]}: running")
        kw = {"base": a.base} if name == "tessera" else {}
        results[name] = runners[name](d, a.nodes, probes, pairs, extra, a.budget, log, **kw)
        gc.collect()
    table = Table(title=f"Graph engines: {a.nodes:,} nodes, {a.edges:,} edges")
    table.add_column("measure")
    for name in results:
        label = "tessera GraphIndex (networkit)" if name == "tessera" else name
        table.add_column(f"{label} {versions[name]}", justify="right")
    table.add_column("target", justify="right")
    for key, label in METRICS:
        table.add_row(label, *[fmt(results[nm].get(key)) for nm in results], fmt(TARGETS.get(key)))
    con.print(table)
    verdict = {k: (results["tessera"].get(k, float("inf")) <= v) for k, v in TARGETS.items()} if "tessera" in results else {}
    con.print("targets met: " + ", ".join(f"{k}={'yes' if ok else 'NO'}" for k, ok in verdict.items()))
    out = {"nodes": a.nodes, "edges": a.edges, "probes": a.probes, "machine": platform.platform(),
           "versions": versions, "results": results, "targets": TARGETS, "targets_met": verdict,
           "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if a.base is not None:
        head = subprocess.run(["git", "-C", str(a.base), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True)
        out["base"] = head.stdout.strip() or str(a.base)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2))
    log(f"wrote {a.out}")
    return out


if __name__ == "__main__":
    main()
