"""`tessera graph ...`: neighbours, paths, networks, money and exports over the link graph built from the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tessera.cli_common import (EXIT_DENIED, EXIT_NOT_FOUND, EXIT_USAGE, DbOption, JsonOption, emit_json, fail,
                                open_store, out)
from tessera.graph.index import LINK_TYPES, EdgeFilter

AsOption = Annotated[str | None, typer.Option("--as", help="Show only links resting on a statement this user may see")]
TypeOption = Annotated[list[str] | None, typer.Option("--type", help=f"Link types to follow: {', '.join(LINK_TYPES)}")]

graph_app = typer.Typer(name="graph", no_args_is_help=True, help="Link analysis over canonical entities.")


def _setup(db, as_user, types, as_json):
    from tessera.graph.build import all_statements, build, statement_visibility

    store = open_store(db)
    ix = build(store)
    bad = [t for t in types or [] if t not in LINK_TYPES]
    if bad:
        fail(f"unknown link type {bad[0]!r}; known: {', '.join(LINK_TYPES)}", EXIT_USAGE, as_json)
    visible = None
    if as_user:
        from tessera.access.identity import NotFound, get_user

        try:
            with store.engine.connect() as conn:
                user = get_user(conn, as_user)
        except NotFound as err:
            fail(str(err), EXIT_DENIED, as_json)
        visible = statement_visibility(store, user, all_statements(ix))
    flt = EdgeFilter(types=frozenset(types) if types else None, visible=visible)
    return store, ix, (None if flt.empty else flt)


def _need(ix, entity, as_json):
    if entity not in ix:
        fail(f"no entity {entity!r} in the graph", EXIT_NOT_FOUND, as_json)


@graph_app.command("neighbours")
def neighbours(entity: str, hops: Annotated[int, typer.Option("--hops")] = 2, type: TypeOption = None,
               as_user: AsOption = None, db: DbOption = None, json: JsonOption = False) -> None:
    """Entities within --hops links of ENTITY."""
    from tessera.graph.queries import neighbourhood

    _, ix, flt = _setup(db, as_user, type, json)
    _need(ix, entity, json)
    nb = neighbourhood(ix, entity, hops, flt)
    data = {"centre": nb.centre, "nodes": [vars(n) for n in nb.nodes], "edges": [vars(e) for e in nb.edges]}
    if json:
        return emit_json(data)
    out.print(f"{len(nb.nodes)} entities, {len(nb.edges)} linked pairs around {entity}")
    for e in nb.edges:
        out.print(f"  {e.a} -- {e.b}  {','.join(e.types)}  strength {e.strength:.2f}")


@graph_app.command("path")
def path(a: str, b: str, type: TypeOption = None, as_user: AsOption = None, db: DbOption = None,
         json: JsonOption = False) -> None:
    """The strongest short chain of links from A to B."""
    from tessera.graph.queries import shortest_path

    _, ix, flt = _setup(db, as_user, type, json)
    _need(ix, a, json)
    _need(ix, b, json)
    p = shortest_path(ix, a, b, flt)
    if p is None:
        fail(f"no path from {a} to {b}", EXIT_NOT_FOUND, json)
    if json:
        return emit_json(vars(p))
    out.print(" -> ".join(p.nodes) if hasattr(p, "nodes") else str(p))


@graph_app.command("networks")
def networks(top: Annotated[int, typer.Option("--top")] = 10, players: Annotated[int, typer.Option("--players")] = 5,
             type: TypeOption = None, as_user: AsOption = None, db: DbOption = None, json: JsonOption = False) -> None:
    """Networks, largest first, with their key players (brokerage, PageRank, money) and inferred roles."""
    from tessera.graph.queries import communities, key_players, network_graph

    _, ix, flt = _setup(db, as_user, type, json)
    g, _ = network_graph(ix, flt)
    data = []
    for c in communities(ix, flt)[:top]:
        kp = key_players(ix, c.members, players, flt, graph=g)
        data.append({"id": c.id, "size": c.size, "key_players": [vars(p) for p in kp], "members": c.members,
                     "passengers": len(c.passengers)})
    if json:
        return emit_json(data)
    for c in data:
        kp = ", ".join(f"{p['id']} ({p['role']})" for p in c["key_players"])
        out.print(f"network {c['id']}: {c['size']} members, {c['passengers']} passengers; key players {kp}")


@graph_app.command("money")
def money(entity: str, direction: Annotated[str, typer.Option("--direction", help="down or up")] = "down",
          hops: Annotated[int, typer.Option("--hops")] = 3, as_user: AsOption = None, db: DbOption = None,
          json: JsonOption = False) -> None:
    """Follow payments out of (down) or into (up) ENTITY."""
    from tessera.graph.queries import follow_money, totals

    if direction not in ("down", "up", "downstream", "upstream"):
        fail("--direction is down or up", EXIT_USAGE, json)
    _, ix, flt = _setup(db, as_user, None, json)
    _need(ix, entity, json)
    flows = follow_money(ix, entity, "upstream" if direction.startswith("up") else "downstream", hops, flt)
    if json:
        return emit_json({"flows": [vars(f) for f in flows], "totals": totals(flows)})
    for f in flows:
        out.print(f"hop {f.hop}: {f.source} -> {f.target}  {f.amount:,.2f} {f.currency or ''} ({f.count})")


@graph_app.command("export")
def export(format: Annotated[str, typer.Option("--format", help="graphml or gexf")] = "graphml",
           to: Annotated[Path, typer.Option("--out")] = Path("graph.graphml"),
           entity: Annotated[list[str] | None, typer.Option("--entity", help="Export only these entities")] = None,
           type: TypeOption = None, as_user: AsOption = None, db: DbOption = None, json: JsonOption = False) -> None:
    """Write the graph (or the subgraph of --entity) as GraphML or GEXF."""
    from tessera.graph.exports import to_networkx, write_gexf, write_graphml

    if format not in ("graphml", "gexf"):
        fail("--format is graphml or gexf", EXIT_USAGE, json)
    _, ix, flt = _setup(db, as_user, type, json)
    for e in entity or []:
        _need(ix, e, json)
    G = to_networkx(ix, entity or None, flt)
    written = (write_graphml if format == "graphml" else write_gexf)(G, to)
    data = {"out": str(written), "nodes": G.number_of_nodes(), "edges": G.number_of_edges()}
    if json:
        return emit_json(data)
    out.print(f"wrote {data['nodes']} nodes, {data['edges']} links to {written}")


@graph_app.command("evaluate")
def evaluate(truth: Annotated[Path, typer.Option("--truth", help="World directory (or its truth/)")],
             top: Annotated[int, typer.Option("--top")] = 5, type: TypeOption = None,
             db: DbOption = None, json: JsonOption = False) -> None:
    """Network recovery against the truth: ARI of communities vs networks, organisers among key players."""
    from tessera.graph.evaluate import evaluate_networks

    store, ix, flt = _setup(db, None, type, json)
    result = evaluate_networks(store, ix, truth, flt, top)
    if json:
        return emit_json(result)
    for k, v in result.items():
        if k != "per_network":
            out.print(f"{k}: {v}")


def register(app: typer.Typer) -> None:
    app.add_typer(graph_app, name="graph")
