"""Exports a network to GraphML and GEXF that read back with the same nodes, links and attributes."""

import networkx as nx
import pytest

from tessera.graph.exports import to_networkx, write_gexf, write_graphml
from tessera.graph.index import Edge, GraphIndex


@pytest.fixture
def ix():
    ix = GraphIndex()
    ix.add_edges([
        Edge("a", "b", "call", first="2024-01-02", count=3, grading="1A", statements=["s1", "s2"]),
        Edge("a", "b", "payment", amount=250.5, currency="GBP", statements=["s3"]),
        Edge("b", "c", "family"),
        Edge("c", "d", "association"),
    ])
    return ix


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_subgraph_round_trips(ix, tmp_path, fmt):
    G = to_networkx(ix, ["a", "b", "c"], node_attrs={"a": {"schema": "Person", "name": "Ali"}})
    path = tmp_path / f"net.{fmt}"
    if fmt == "graphml":
        write_graphml(G, path)
        back = nx.read_graphml(path, force_multigraph=True)
    else:
        write_gexf(G, path)
        back = nx.read_gexf(path)
    assert set(back.nodes) == {"a", "b", "c"}
    assert back.number_of_edges() == 3
    edges = {d["link_type"]: d for _, _, d in back.edges(data=True)}
    assert set(edges) == {"call", "payment", "family"}
    assert edges["call"]["count"] == 3 and edges["call"]["first"] == "2024-01-02"
    assert edges["call"]["grading"] == "1A" and edges["call"]["statements"] == "s1;s2"
    pay = edges["payment"]
    assert pay["amount"] == 250.5 and pay["currency"] == "GBP"
    assert (pay["from_entity"], pay["to_entity"]) == ("a", "b")
    assert float(edges["call"]["weight"]) > 0
    assert back.nodes["a"]["schema"] == "Person"
