"""`tessera graph ...`: neighbours, paths, networks, money and exports over the link graph built from the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tessera.cli_common import (EXIT_DENIED, EXIT_NOT_FOUND, EXIT_USAGE, DbOption, JsonOption, emit_json, fail,
                                open_store, out, purpose_of, record_cli_audit)
from tessera.graph.index import LINK_TYPES, EdgeFilter

AsOption = Annotated[str | None, typer.Option("--as", help="Show only links resting on a statement this user may see")]
TypeOption = Annotated[list[str] | None, typer.Option("--type", help=f"Link types to follow: {', '.join(LINK_TYPES)}")]

SinceOption = Annotated[str | None, typer.Option("--since", help="Only links/events on or after this date")]
UntilOption = Annotated[str | None, typer.Option("--until", help="Only links/events on or before this date")]
GradeOption = Annotated[str | None, typer.Option("--min-grade", help="Only links graded at least this (e.g. 2B)")]
PurposeOption = Annotated[str | None, typer.Option("--purpose", help="Why: recorded in the audit log (with --as)")]

graph_app = typer.Typer(name="graph", no_args_is_help=True, help="Link analysis over canonical entities.")


class Reader:
    """Who reads the graph (a user with --as, else the operator) and why: each command's audit entry."""

    def __init__(self, store, as_user: str | None, purpose: str | None):
        self.store, self.as_user, self.purpose = store, as_user, purpose

    def audit(self, action: str, entities, query: str | None) -> None:
        record_cli_audit(self.store, action, sorted(set(entities))[:500], query, self.as_user, self.purpose)


def _setup(db, as_user, types, as_json, since=None, until=None, min_grade=None, purpose=None):
    from tessera.graph.build import all_statements, build, statement_visibility
    from tessera.graph.index import to_day
    from tessera.model.markings import Grading, MarkingError

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
        purpose = purpose_of(user, purpose, as_json)
        visible = statement_visibility(store, user, all_statements(ix))
    for d in (since, until):
        try:
            to_day(d)
        except ValueError:
            fail(f"not a date: {d!r} (use YYYY-MM-DD)", EXIT_USAGE, as_json)
    try:
        Grading.parse(min_grade)
    except MarkingError:
        fail(f"not a grading: {min_grade!r} (e.g. 2B or B2)", EXIT_USAGE, as_json)
    flt = EdgeFilter(types=frozenset(types) if types else None, start=since, end=until, min_grade=min_grade,
                     visible=visible)
    return Reader(store, as_user, purpose), ix, (None if flt.empty else flt)


def _subjects(ix, flt, target: str, as_json: bool) -> tuple[list[str], list[str], str]:
    """A network number (as `tessera graph networks` lists them) or an entity id -> (members, passengers, label)."""
    from tessera.graph.queries import communities

    if target.isdigit():  # numbered as `networks` lists them without type, time or grade filters
        base = EdgeFilter(visible=flt.visible) if flt is not None else None
        found = communities(ix, None if base is None or base.empty else base)
        k = int(target)
        if k >= len(found):
            fail(f"no network {k} (there are {len(found)})", EXIT_NOT_FOUND, as_json)
        return found[k].members, found[k].passengers, f"network {k}"
    _need(ix, target, as_json)
    return [target], [], target


def _need(ix, entity, as_json):
    if entity not in ix:
        fail(f"no entity {entity!r} in the graph", EXIT_NOT_FOUND, as_json)


@graph_app.command("neighbours")
def neighbours(entity: str, hops: Annotated[int, typer.Option("--hops")] = 2, type: TypeOption = None,
               since: SinceOption = None, until: UntilOption = None, min_grade: GradeOption = None,
               as_user: AsOption = None, purpose: PurposeOption = None, db: DbOption = None, json: JsonOption = False) -> None:
    """Entities within --hops links of ENTITY."""
    from tessera.graph.queries import neighbourhood

    reader, ix, flt = _setup(db, as_user, type, json, since, until, min_grade, purpose)
    _need(ix, entity, json)
    nb = neighbourhood(ix, entity, hops, flt)
    reader.audit("graph.neighbourhood", [n.id for n in nb.nodes], entity)
    data = {"centre": nb.centre, "nodes": [vars(n) for n in nb.nodes], "edges": [vars(e) for e in nb.edges]}
    if json:
        return emit_json(data)
    out.print(f"{len(nb.nodes)} entities, {len(nb.edges)} linked pairs around {entity}")
    for e in nb.edges:
        out.print(f"  {e.a} -- {e.b}  {','.join(e.types)}  strength {e.strength:.2f}")


@graph_app.command("path")
def path(a: str, b: str, k: Annotated[int, typer.Option("--k", help="Up to K loopless paths")] = 1,
         type: TypeOption = None, since: SinceOption = None, until: UntilOption = None,
         min_grade: GradeOption = None, as_user: AsOption = None, purpose: PurposeOption = None, db: DbOption = None,
         json: JsonOption = False) -> None:
    """The strongest short chain(s) of links from A to B."""
    from tessera.graph.queries import k_shortest_paths

    reader, ix, flt = _setup(db, as_user, type, json, since, until, min_grade, purpose)
    _need(ix, a, json)
    _need(ix, b, json)
    paths = k_shortest_paths(ix, a, b, max(1, k), flt)
    reader.audit("graph.path", [n for p in paths for n in p.nodes] or [a, b], f"{a} {b}")
    if not paths:
        fail(f"no path from {a} to {b}", EXIT_NOT_FOUND, json)
    if json:
        return emit_json(vars(paths[0]) if k <= 1 else [vars(p) for p in paths])
    for p in paths:
        out.print(f"{p.length:.3f}  " + " -> ".join(p.nodes))


@graph_app.command("networks")
def networks(top: Annotated[int, typer.Option("--top")] = 10, players: Annotated[int, typer.Option("--players")] = 5,
             type: TypeOption = None, since: SinceOption = None, until: UntilOption = None,
             min_grade: GradeOption = None, as_user: AsOption = None, purpose: PurposeOption = None, db: DbOption = None,
             json: JsonOption = False) -> None:
    """Networks, largest first, with their key players (brokerage, PageRank, money) and inferred roles."""
    from tessera.graph.queries import communities, key_players, network_graph

    reader, ix, flt = _setup(db, as_user, type, json, since, until, min_grade, purpose)
    g, _ = network_graph(ix, flt)
    data = []
    for c in communities(ix, flt)[:top]:
        kp = key_players(ix, c.members, players, flt, graph=g)
        data.append({"id": c.id, "size": c.size, "key_players": [vars(p) for p in kp], "members": c.members,
                     "passengers": len(c.passengers)})
    reader.audit("graph.networks", [p["id"] for c in data for p in c["key_players"]], f"top {top}")
    if json:
        return emit_json(data)
    for c in data:
        kp = ", ".join(f"{p['id']} ({p['role']})" for p in c["key_players"])
        out.print(f"network {c['id']}: {c['size']} members, {c['passengers']} passengers; key players {kp}")


@graph_app.command("money")
def money(entity: str, direction: Annotated[str, typer.Option("--direction", help="down or up")] = "down",
          hops: Annotated[int, typer.Option("--hops")] = 3, since: SinceOption = None, until: UntilOption = None,
          min_grade: GradeOption = None, as_user: AsOption = None, purpose: PurposeOption = None, db: DbOption = None,
          json: JsonOption = False) -> None:
    """Follow payments out of (down) or into (up) ENTITY."""
    from tessera.graph.queries import follow_money, totals

    if direction not in ("down", "up", "downstream", "upstream"):
        fail("--direction is down or up", EXIT_USAGE, json)
    reader, ix, flt = _setup(db, as_user, None, json, since, until, min_grade, purpose)
    _need(ix, entity, json)
    flows = follow_money(ix, entity, "upstream" if direction.startswith("up") else "downstream", hops, flt)
    reader.audit("graph.money", [entity] + [x for f in flows for x in (f.source, f.target)], entity)
    if json:
        return emit_json({"flows": [vars(f) for f in flows], "totals": totals(flows)})
    for f in flows:
        out.print(f"hop {f.hop}: {f.source} -> {f.target}  {f.amount:,.2f} {f.currency or ''} ({f.count})")


@graph_app.command("export")
def export(format: Annotated[str, typer.Option("--format", help="graphml or gexf")] = "graphml",
           to: Annotated[Path, typer.Option("--out")] = Path("graph.graphml"),
           entity: Annotated[list[str] | None, typer.Option("--entity", help="Export only these entities")] = None,
           type: TypeOption = None, as_user: AsOption = None, purpose: PurposeOption = None, db: DbOption = None, json: JsonOption = False) -> None:
    """Write the graph (or the subgraph of --entity) as GraphML or GEXF."""
    from tessera.graph.exports import to_networkx, write_gexf, write_graphml

    if format not in ("graphml", "gexf"):
        fail("--format is graphml or gexf", EXIT_USAGE, json)
    reader, ix, flt = _setup(db, as_user, type, json, purpose=purpose)
    for e in entity or []:
        _need(ix, e, json)
    G = to_networkx(ix, entity or None, flt)
    reader.audit("graph.export", list(G.nodes), f"{format} export")
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

    reader, ix, flt = _setup(db, None, type, json)
    result = evaluate_networks(reader.store, ix, truth, flt, top)
    if json:
        return emit_json(result)
    for k, v in result.items():
        if k != "per_network":
            out.print(f"{k}: {v}")


@graph_app.command("routes")
def routes_cmd(target: Annotated[str, typer.Argument(help="A network number (from `networks`) or an entity id")],
               type: TypeOption = None, since: SinceOption = None, until: UntilOption = None,
               min_grade: GradeOption = None, limit: Annotated[int, typer.Option("--limit")] = 500,
               as_user: AsOption = None, purpose: PurposeOption = None, db: DbOption = None, json: JsonOption = False) -> None:
    """A network's (or an entity's) crossings, interceptions, arrests and payments with places, in time order."""
    from tessera.graph.queries import routes

    reader, ix, flt = _setup(db, as_user, type, json, since, until, min_grade, purpose)
    members, passengers, label = _subjects(ix, flt, target, json)
    stops = routes(ix, members + passengers, flt, limit=limit)
    reader.audit("graph.routes", members, label)
    if json:
        return emit_json({"subject": label, "stops": [vars(s) for s in stops]})
    out.print(f"{label}: {len(stops)} stops")
    for s in stops:
        where = ", ".join(x for x in (s.place, s.country) if x) or "-"
        extra = f" {s.amount:,.2f} {s.currency or ''}" if s.amount is not None else f" {len(s.entities)} involved"
        out.print(f"  {s.date or '????-??-??'}  {s.kind:<12} {where}{extra}", highlight=False)


@graph_app.command("timeline")
def timeline_cmd(target: Annotated[str, typer.Argument(help="A network number (from `networks`) or an entity id")],
                 type: TypeOption = None, since: SinceOption = None, until: UntilOption = None,
                 min_grade: GradeOption = None, limit: Annotated[int, typer.Option("--limit")] = 500,
                 as_user: AsOption = None, purpose: PurposeOption = None, db: DbOption = None, json: JsonOption = False) -> None:
    """The links of an entity, or among a network's members, in time order."""
    from tessera.graph.queries import network_timeline, timeline

    reader, ix, flt = _setup(db, as_user, type, json, since, until, min_grade, purpose)
    members, _, label = _subjects(ix, flt, target, json)
    reader.audit("graph.timeline", members, label)
    items = network_timeline(ix, members, flt, limit) if target.isdigit() else timeline(ix, target, flt)[:limit]
    rows = [{"first": e.first, "last": e.last, "type": e.type, "entity": e.entity or target, "other": e.other,
             "count": e.link.count, "amount": e.link.amount, "currency": e.link.currency,
             "grading": e.link.grading} for e in items]
    if json:
        return emit_json({"subject": label, "items": rows})
    out.print(f"{label}: {len(rows)} links")
    for r in rows:
        out.print(f"  {r['first'] or '????-??-??'}  {r['type']:<18} {r['entity']} -- {r['other']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(graph_app, name="graph")
