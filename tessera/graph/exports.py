"""Subgraphs of a GraphIndex as networkx graphs, written to GraphML and GEXF for Gephi."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import networkx as nx

from tessera.graph.index import EdgeFilter, GraphIndex


def to_networkx(ix: GraphIndex, entities: Iterable[str] | None = None, flt: EdgeFilter | None = None,
                node_attrs: dict[str, dict] | None = None) -> nx.MultiGraph:
    """The subgraph induced by `entities` (all if None): one edge per link record, keyed by type.

    Payments keep their direction in `from_entity`/`to_entity` (GEXF reserves `type`); values are plain str/int/float
    (no None) so GraphML and GEXF writers accept them.
    """
    nodes = [ix.node(e) for e in (entities if entities is not None else ix._ids)]
    inside = set(nodes)
    G = nx.MultiGraph()
    for n in nodes:
        eid = ix.id_of(n)
        attrs = {"label": eid}
        attrs.update({k: _plain(v) for k, v in (node_attrs or {}).get(eid, {}).items()})
        G.add_node(eid, **attrs)
    for u in nodes:
        for w in ix.graph.iterNeighbors(u):
            if w not in inside or w < u:
                continue
            strength = ix.strength(u, w)
            for r in ix.pair_rows(u, w):
                if not ix.row_ok(r, flt):
                    continue
                link = ix.link(r)
                key = link.type if link.type != "payment" else f"payment:{link.source}>{link.target}:{link.currency}"
                G.add_edge(ix.id_of(u), ix.id_of(w), key=key, link_type=link.type, from_entity=link.source,
                           to_entity=link.target, directed=link.directed,
                           first=link.first.isoformat() if link.first else "",
                           last=link.last.isoformat() if link.last else "", count=link.count,
                           amount=float(link.amount or 0.0), currency=link.currency or "",
                           grading=link.grading or "", statements=";".join(_shown(link.statements, flt)),
                           weight=float(strength))
    return G


def _shown(statements, flt: EdgeFilter | None) -> list[str]:
    """The statement ids a viewer may see (all without an access predicate)."""
    if flt is None or flt.visible is None:
        return list(statements)
    return [s for s in statements if flt.visible(s)]


def _plain(value):
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def write_graphml(G: nx.Graph, path: str | Path) -> Path:
    """Write a graph to GraphML."""
    path = Path(path)
    nx.write_graphml(G, path)
    return path


def write_gexf(G: nx.Graph, path: str | Path) -> Path:
    """Write a graph to GEXF 1.2 (what Gephi reads natively)."""
    path = Path(path)
    nx.write_gexf(G, path)
    return path
