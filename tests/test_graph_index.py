"""The graph index: pairs aggregate, attributes keep per type, batches add incrementally, hidden statements hide links."""

import pytest

from tessera.graph.index import Edge, EdgeBatch, EdgeFilter, GraphIndex, strength_of
from tessera.graph.queries import neighbourhood, shortest_path


def test_parallel_links_aggregate_into_one_pair_with_per_type_attributes():
    ix = GraphIndex()
    ix.add_edges([
        Edge("p:ali", "p:bora", "call", first="2024-03-01", grading="2B", statements=["s1"]),
        Edge("p:bora", "p:ali", "call", first="2024-01-10", last="2024-02-01", count=4, grading="1A",
             statements=["s2"]),
        Edge("p:ali", "p:bora", "family", statements=["s3"]),
    ])
    assert ix.num_nodes == 2 and ix.num_pairs == 1 and ix.num_links == 2
    links = {ix.link(r).type: ix.link(r) for r in ix.pair_rows(ix.node("p:ali"), ix.node("p:bora"))}
    call = links["call"]
    assert call.count == 5
    assert str(call.first) == "2024-01-10" and str(call.last) == "2024-03-01"
    assert call.grading == "1A"  # the best grading wins
    assert sorted(call.statements) == ["s1", "s2"]
    expected = strength_of(5, "1A", "call") + strength_of(1, None, "family")
    assert ix.strength(ix.node("p:ali"), ix.node("p:bora")) == pytest.approx(expected)


def test_incremental_batches_update_topology_and_path_weights_without_rebuild():
    ix = GraphIndex()
    ix.add_edges([Edge("a", "b", "call"), Edge("b", "c", "call")])
    d = ix.distance_graph()
    before = shortest_path(ix, "a", "c")
    assert before.nodes == ["a", "b", "c"]
    ix.add_edges(EdgeBatch(source=["a"], target=["c"], type=["association"]))
    assert d is ix.distance_graph() and d.numberOfEdges() == 3
    assert shortest_path(ix, "a", "c").nodes == ["a", "c"]
    ix.add_edges([Edge("a", "b", "call", count=50, grading="1A"), Edge("b", "c", "call", count=50, grading="1A")])
    assert shortest_path(ix, "a", "c").nodes == ["a", "b", "c"]  # much stronger route now


def test_payments_keep_direction_and_currency_apart():
    ix = GraphIndex()
    ix.add_edges([
        Edge("x", "y", "payment", amount=100, currency="GBP"),
        Edge("x", "y", "payment", amount=50, currency="gbp"),
        Edge("y", "x", "payment", amount=7, currency="GBP"),
        Edge("x", "y", "payment", amount=10, currency="EUR"),
    ])
    got = sorted((l.source, l.target, l.currency, l.amount, l.count)
                 for l in map(ix.link, ix.pair_rows(ix.node("x"), ix.node("y"))))
    assert got == [("x", "y", "EUR", 10.0, 1), ("x", "y", "GBP", 150.0, 2), ("y", "x", "GBP", 7.0, 1)]
    assert ix.type_degree(ix.node("x")) == {"payment": 1}


def test_unknown_link_type_is_refused_by_name():
    ix = GraphIndex()
    with pytest.raises(ValueError, match="telepathy"):
        ix.add_edges([Edge("a", "b", "telepathy")])


def test_a_link_resting_on_any_invisible_statement_is_hidden():
    ix = GraphIndex()
    ix.add_edges([
        Edge("a", "b", "call", statements=["secret-1"]),
        Edge("b", "c", "call", statements=["open-1", "open-2"]),
        Edge("a", "c", "association", statements=["secret-3"]),
        Edge("a", "d", "phone_use", statements=["open-3", "secret-4"]),  # the other holder's phone is hidden
    ])
    visible = EdgeFilter(visible=lambda sid: sid.startswith("open"))
    mask = ix.visible_edges(visible.visible)
    assert mask.sum() == 1
    hood = neighbourhood(ix, "c", hops=2, flt=visible)
    assert {n.id for n in hood.nodes} == {"c", "b"}
    assert [(e.a, e.b) for e in hood.edges] == [("c", "b")]
    assert neighbourhood(ix, "c", hops=2).edges and len(neighbourhood(ix, "c", hops=2).nodes) == 4
    assert shortest_path(ix, "a", "c", flt=visible) is None
    assert shortest_path(ix, "a", "c") is not None
