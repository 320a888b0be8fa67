import random

import networkit as nk
import networkx as nx
import numpy as np
import pytest

from tessera.graph import paths
from tessera.graph.index import LINK_TYPES, Edge, EdgeFilter, GraphIndex
from tessera.graph.paths import PathGraph
from tessera.graph.queries import shortest_path


def dijkstra_length(ix: GraphIndex, s: int, t: int) -> float:
    """The reference: networkit's plain Dijkstra on the kept 1 / strength graph."""
    d = nk.distance.Dijkstra(ix.distance_graph(), s, False, False, t)
    d.run()
    x = d.distance(t)
    return np.inf if x > 1e300 else x


def check_strongest_path(ix: GraphIndex, a: str, b: str) -> None:
    """shortest_path from a to b (when both are in the graph) is as long as Dijkstra's, and is a real path."""
    if a not in ix or b not in ix:
        return
    want = dijkstra_length(ix, ix.node(a), ix.node(b))
    got = shortest_path(ix, a, b)
    if not np.isfinite(want):
        assert got is None
        return
    assert got.length == pytest.approx(want, rel=1e-9)
    assert got.nodes[0] == a and got.nodes[-1] == b
    steps = list(zip(got.nodes, got.nodes[1:]))
    assert sum(1.0 / ix.strength(ix.node(x), ix.node(y)) for x, y in steps) == pytest.approx(want, rel=1e-9)


def random_links(rnd: random.Random, people: int, links: int) -> list[Edge]:
    out = []
    for _ in range(links):
        a, b = rnd.sample(range(people), 2)
        out.append(Edge(f"p{a}", f"p{b}", rnd.choice(LINK_TYPES), count=rnd.randint(1, 30),
                        grading=rnd.choice([None, "1A", "2B", "3C", "B24"])))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_strongest_paths_match_dijkstra_as_batches_land(seed, monkeypatch):
    monkeypatch.setattr(paths, "BATCH", 1 + seed * 3)  # rounds of one node (plain Dijkstra) up to several
    rnd = random.Random(seed)
    ix = GraphIndex()
    ix.add_edges(random_links(rnd, 60, 90))
    ix.path_graph()
    for batch in range(4):  # later batches add and strengthen links kept beside the rows, then merged into them
        ix.add_edges(random_links(rnd, 70, 25))
        for _ in range(40):
            a, b = rnd.sample(range(70), 2)
            check_strongest_path(ix, f"p{a}", f"p{b}")


def test_links_kept_beside_the_rows_are_merged_into_them():
    pg = PathGraph(4, np.array([0, 1]), np.array([1, 2]), np.array([1.0, 1.0]))
    assert pg.strongest_path(0, 3) is None
    pg.update(np.array([2]), np.array([3]), np.array([5.0]))  # one new link is more than 5% of the rows: merged
    assert pg.num_links == 6 and not pg._extra
    assert pg.strongest_path(0, 3) == (7.0, [0, 1, 2, 3])
    pg.update(np.array([0]), np.array([1]), np.array([0.5]))  # shortened: the shorter entry wins after the merge
    assert pg.num_links == 6
    assert pg.strongest_path(0, 3) == (6.5, [0, 1, 2, 3])
    pg.update(np.array([0, 4]), np.array([4, 3]), np.array([1.0, 1.0]))  # a new node
    assert pg.strongest_path(0, 3) == (2.0, [0, 4, 3])
    assert pg.strongest_path(0, 3, banned=np.array([(0 << 32) | 4])) == (6.5, [0, 1, 2, 3])


def test_a_filtered_strongest_path_avoids_links_that_fail_the_filter():
    ix = GraphIndex()
    ix.add_edges([
        Edge("a", "b", "call", count=50, grading="1A", statements=["s1"]),
        Edge("b", "z", "association", count=50, grading="1A", statements=["secret"]),
        Edge("a", "c", "call", count=2, statements=["s2"]), Edge("c", "z", "call", count=2, statements=["s3"]),
    ])
    assert shortest_path(ix, "a", "z").nodes == ["a", "b", "z"]
    calls = EdgeFilter(types=frozenset({"call"}))
    assert shortest_path(ix, "a", "z", flt=calls).nodes == ["a", "c", "z"]
    assert shortest_path(ix, "a", "z", flt=EdgeFilter(visible=lambda st: st != "secret")).nodes == ["a", "c", "z"]
    assert shortest_path(ix, "a", "z", flt=EdgeFilter(visible=lambda st: False)) is None


@pytest.mark.parametrize("seed", range(3))
def test_strongest_paths_match_dijkstra_on_a_larger_graph(seed):
    # wide frontiers: rounds of many nodes before the searches meet
    rnd = random.Random(100 + seed)
    ix = GraphIndex()
    ix.add_edges(random_links(rnd, 3000, 12000))
    for _ in range(60):
        a, b = rnd.sample(range(3000), 2)
        check_strongest_path(ix, f"p{a}", f"p{b}")


def reference_lengths(n: int, links: dict[tuple[int, int], float], s: int) -> dict[int, float]:
    """Plain Dijkstra from s over the shortest entry of each link (networkx)."""
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_weighted_edges_from((a, b, w) for (a, b), w in links.items())
    return nx.single_source_dijkstra_path_length(g, s)


@pytest.mark.parametrize("tail", [0, 64])
@pytest.mark.parametrize("seed", range(4))
def test_strongest_paths_stay_shortest_as_links_shorten_and_some_are_banned(seed, tail, monkeypatch):
    # A node's shortest link bounds what the other search still needs; links that shorten (and new nodes) must move
    # that bound, or a path through them is cut off. Equal lengths (ties) are common on purpose.
    monkeypatch.setattr(paths, "TAIL", tail)
    monkeypatch.setattr(paths, "BATCH", 1 + seed * 5)
    rng = np.random.default_rng(seed)
    n = 150
    links: dict[tuple[int, int], float] = {}
    for _ in range(400):
        a, b = sorted(rng.choice(n, 2, replace=False).tolist())
        links[a, b] = float(rng.choice([0.2, 0.5, 1.0, 2.0, 8.0]))
    keys = list(links)
    pg = PathGraph(n, np.array([k[0] for k in keys]), np.array([k[1] for k in keys]), np.array(list(links.values())))
    for batch in range(4):
        if batch:  # some links get shorter, some are new, a few reach new nodes
            new = [tuple(sorted(rng.choice(n + 5 * batch, 2, replace=False).tolist())) for _ in range(15)]
            new += [keys[i] for i in rng.choice(len(keys), 15, replace=False)]
            ws = []
            for k in new:
                links[k] = min(links.get(k, np.inf), float(rng.choice([0.05, 0.3, 1.0])))
                ws.append(links[k])
            pg.update(np.array([k[0] for k in new]), np.array([k[1] for k in new]), np.array(ws))
            n = pg.n
        for _ in range(25):
            s, t = rng.choice(n, 2, replace=False).tolist()
            banned = [keys[i] for i in rng.choice(len(keys), 20, replace=False)] if rng.random() < 0.5 else []
            allowed = {k: w for k, w in links.items() if k not in set(banned)}
            want = reference_lengths(n, allowed, s).get(t)
            got = pg.strongest_path(s, t, np.array([(a << 32) | b for a, b in banned], np.int64) if banned else None)
            if want is None:
                assert got is None
                continue
            length, nodes = got
            assert length == pytest.approx(want, rel=1e-12)
            assert nodes[0] == s and nodes[-1] == t
            steps = [tuple(sorted(x)) for x in zip(nodes, nodes[1:])]
            assert not set(steps) & set(banned)
            assert sum(allowed[k] for k in steps) == pytest.approx(want, rel=1e-12)
