"""GraphML and GEXF of the visible subgraph: entities are nodes, entity-typed values are edges.

Built from the statements the requester may see (``selection.select_for``), not from the graph
index, so that markings hold: each node and edge carries the highest marking of the values behind
it (``marking``, ``classification``, ``caveat``) and their gradings; the graph itself carries the
overall marking, the requester and the generation time as graph attributes. An edge to an entity
outside the export (not visible, or outside the requested scope) ends at a bare node with only its
id (``stub`` = true) — the id is itself part of a visible value.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from tessera.export.selection import Selection, audited, manifest_path, select_for, write_manifest
from tessera.graph.exports import write_gexf, write_graphml
from tessera.model.markings import highest
from tessera.store.store import Store

KINDS = ("graphml", "gexf")


def _marks(statements) -> dict:
    m = highest([s.marking for s in statements])
    return dict(marking=str(m), classification=m.classification, caveat=m.caveat or "",
                grading="; ".join(dict.fromkeys(s.grading for s in statements if s.grading)),
                agencies="; ".join(dict.fromkeys(s.agency for s in statements)))


def to_graph(selection: Selection) -> nx.MultiDiGraph:
    G = nx.MultiDiGraph()
    G.graph.update(marking=str(selection.marking), requested_by=selection.requester.name,
                   for_agency=selection.for_agency or "",
                   generated_at=selection.generated_at.isoformat(timespec="seconds"))
    for e in selection.nodes():
        G.add_node(e.id, label=e.caption, schema=e.schema, stub=False, **_marks(e.statements))
    for i, link in enumerate(selection.links()):
        for end in (link.source, link.target):
            if end not in G:
                G.add_node(end, label=end, schema="", stub=True, marking="", classification="", caveat="",
                           grading="", agencies="")
        G.add_edge(link.source, link.target, key=f"{link.type}:{i}", link_type=link.type, via=link.via or "",
                   date=link.date, statements=";".join(str(s.id) for s in link.statements), **_marks(link.statements))
    return G


def export_graph(store: Store, user: str, out: Path | str, kind: str = "graphml",
                 entity_ids: list[str] | None = None, purpose: str | None = None,
                 for_agency: str | None = None) -> dict:
    """Write the visible subgraph as GraphML or GEXF; audited, with a manifest beside it."""
    if kind not in KINDS:
        raise ValueError(f"graph format {kind!r}: expected one of {', '.join(KINDS)}")
    selection = select_for(store, user, entity_ids, for_agency)
    with audited(store, selection, kind, out, purpose) as summary:
        G = to_graph(selection)
        (write_graphml if kind == "graphml" else write_gexf)(G, out)
        summary["nodes"], summary["edges"] = G.number_of_nodes(), G.number_of_edges()
        summary["manifest"] = str(write_manifest(summary, manifest_path(out)))
    return summary
