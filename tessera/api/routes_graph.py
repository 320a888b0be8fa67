"""Graph API routes: neighbourhoods, paths, networks, money, routes, timelines and exports, seen through access."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response

from tessera.api.deps import (PREFIX, DayQuery, GradeQuery, Problem, PurposeDep, UserDep, record_audit, store_of,
                              with_note)
from tessera.graph import queries as q
from tessera.graph.cache import GraphCache, viewer_key
from tessera.graph.index import LINK_TYPES, EdgeFilter, GraphIndex

router = APIRouter(prefix=f"{PREFIX}/graph", tags=["graph"])

TypesQuery = Annotated[list[str] | None, Query(alias="type", description=f"link types: {', '.join(LINK_TYPES)}")]
MAX_EXPORT = 5000  # entities in one export


def install(app: FastAPI) -> None:
    app.state.graph_cache = GraphCache()


class _View:
    """One request's graph, the viewer's filter, and the checks every route shares."""

    def __init__(self, request: Request, user, types, since, until, min_grade, purpose: str | None):
        self.store, self.purpose = store_of(request), purpose
        cache: GraphCache = getattr(request.app.state, "graph_cache", None) or _install_late(request.app)
        self.cache, self.user = cache, user
        self.ix: GraphIndex = cache.graph(self.store)
        bad = [t for t in types or [] if t not in LINK_TYPES]
        if bad:
            raise Problem(422, "Unprocessable Content", f"unknown link type {bad[0]!r}; known: {', '.join(LINK_TYPES)}")
        self.visible = cache.visibility(self.store, self.ix, user)
        self.flt = EdgeFilter(types=frozenset(types) if types else None, start=since, end=until,
                              min_grade=min_grade, visible=self.visible)
        self.base = EdgeFilter(visible=self.visible)  # what networks are found on: all the viewer may see

    def entity(self, entity: str, action: str) -> str:
        """The entity if the viewer may see some link or event of it; otherwise 404, audited as not found."""
        ix = self.ix
        if entity in ix:
            u = ix.node(entity)
            if any(ix.pair_ok(u, w, self.base) for w in ix.graph.iterNeighbors(u)):
                return entity
            if any(q.event_view(ix, ev, self.base) is not None for ev in ix.events_of(u)):
                return entity
        self.audit(action, [], entity, note="not found")
        raise Problem(404, "Not Found", f"no entity {entity!r} in the graph")

    def networks(self) -> list[q.Community]:
        key = ("networks", viewer_key(self.user))
        with self.cache.lock:
            found = self.cache.memo.get(key)
        if found is None:
            found = q.communities(self.ix, self.base)
            with self.cache.lock:
                self.cache.memo[key] = found
        return found

    def network(self, n: int, action: str) -> q.Community:
        found = self.networks()
        if not 0 <= n < len(found):
            self.audit(action, [], f"network {n}", note="not found")
            raise Problem(404, "Not Found", f"no network {n} (there are {len(found)})")
        return found[n]

    def audit(self, action: str, entities, query: str | None, note: str | None = None) -> None:
        """An audit entry with the caller's stated purpose and the route's note."""
        record_audit(self.store, self.user, action, sorted(set(entities)), query, with_note(self.purpose, note))


def _install_late(app: FastAPI) -> GraphCache:
    install(app)
    return app.state.graph_cache


def _query(request: Request) -> str:
    return f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path


def _plain(obj: Any) -> Any:
    return asdict(obj) if hasattr(obj, "__dataclass_fields__") else obj


@router.get("/neighbourhood/{entity}", summary="Entities within k hops; supernodes summarised (page them with /expand)")
def neighbourhood(request: Request, user: UserDep, entity: str,
                  hops: Annotated[int, Query(ge=1, le=4)] = 2,
                  supernode: Annotated[int, Query(ge=1, le=5000)] = q.SUPERNODE,
                  type: TypesQuery = None, since: DayQuery = None, until: DayQuery = None,
                  min_grade: GradeQuery = None, purpose: PurposeDep = None) -> dict:
    v = _View(request, user, type, since, until, min_grade, purpose)
    v.entity(entity, "graph.neighbourhood")
    nb = q.neighbourhood(v.ix, entity, hops, v.flt, supernode)
    v.audit("graph.neighbourhood", [n.id for n in nb.nodes], _query(request))
    return {"centre": nb.centre, "nodes": [_plain(n) for n in nb.nodes], "edges": [_plain(e) for e in nb.edges]}


@router.get("/expand/{entity}", summary="One page of an entity's neighbours, strongest link first")
def expand(request: Request, user: UserDep, entity: str,
           page: Annotated[int, Query(ge=0)] = 0, page_size: Annotated[int, Query(ge=1, le=500)] = 50,
           type: TypesQuery = None, since: DayQuery = None, until: DayQuery = None,
           min_grade: GradeQuery = None, purpose: PurposeDep = None) -> dict:
    v = _View(request, user, type, since, until, min_grade, purpose)
    v.entity(entity, "graph.expand")
    p = q.expand(v.ix, entity, page, page_size, v.flt)
    v.audit("graph.expand", [entity] + [e.b for e in p.items], _query(request))
    return {"entity": entity, "page": p.page, "page_size": p.page_size, "total": p.total, "pages": p.pages,
            "items": [_plain(e) for e in p.items]}


@router.get("/path", summary="The strongest path, or the k strongest loopless paths, between two entities")
def path(request: Request, user: UserDep,
         a: Annotated[str, Query(min_length=1)], b: Annotated[str, Query(min_length=1)],
         k: Annotated[int, Query(ge=1, le=10)] = 1,
         type: TypesQuery = None, since: DayQuery = None, until: DayQuery = None,
         min_grade: GradeQuery = None, purpose: PurposeDep = None) -> dict:
    v = _View(request, user, type, since, until, min_grade, purpose)
    v.entity(a, "graph.path")
    v.entity(b, "graph.path")
    paths = q.k_shortest_paths(v.ix, a, b, k, v.flt)
    v.audit("graph.path", [n for p in paths for n in p.nodes] or [a, b], _query(request))
    return {"a": a, "b": b, "paths": [_plain(p) for p in paths]}


def _network_out(v: _View, c: q.Community, players: int, members: bool) -> dict:
    g, _ = q.network_graph(v.ix, v.base)
    kp = q.key_players(v.ix, c.members, players, v.base, graph=g)
    out = {"id": c.id, "size": c.size, "passengers": len(c.passengers), "key_players": [_plain(p) for p in kp]}
    if members:
        roles = {p.id: p.role for p in q.key_players(v.ix, c.members, len(c.members), v.base, graph=g,
                                                       people_only=False)}
        out["members"] = [{"id": m, "role": roles.get(m, "member")} for m in c.members]
    return out


@router.get("/networks", summary="Networks, largest first, with size and key players (brokerage, PageRank, money)")
def networks(request: Request, user: UserDep,
             offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=100)] = 20,
             players: Annotated[int, Query(ge=1, le=50)] = 5, purpose: PurposeDep = None) -> dict:
    v = _View(request, user, None, None, None, None, purpose)
    found = v.networks()
    out = [_network_out(v, c, players, members=False) for c in found[offset:offset + limit]]
    v.audit("graph.networks", [p["id"] for n in out for p in n["key_players"]], _query(request))
    return {"total": len(found), "offset": offset, "networks": out}


@router.get("/networks/{network}", summary="One network: members with inferred roles, key players")
def network(request: Request, user: UserDep, network: int,
            players: Annotated[int, Query(ge=1, le=50)] = 5, purpose: PurposeDep = None) -> dict:
    v = _View(request, user, None, None, None, None, purpose)
    c = v.network(network, "graph.network")
    out = _network_out(v, c, players, members=True)
    v.audit("graph.network", c.members, _query(request))
    return out


def _subjects(v: _View, network: int | None, entity: str | None, action: str) -> tuple[list[str], str]:
    if (network is None) == (entity is None):
        raise Problem(422, "Unprocessable Content", "give exactly one of network or entity")
    if network is not None:
        c = v.network(network, action)
        return c.members + c.passengers, f"network {network}"
    return [v.entity(entity, action)], entity


@router.get("/routes", summary="A network's or an entity's crossings, interceptions, arrests and payments in time order")
def routes(request: Request, user: UserDep, network: int | None = None, entity: str | None = None,
           limit: Annotated[int, Query(ge=1, le=5000)] = 500,
           type: TypesQuery = None, since: DayQuery = None, until: DayQuery = None,
           min_grade: GradeQuery = None, purpose: PurposeDep = None) -> dict:
    v = _View(request, user, type, since, until, min_grade, purpose)
    subjects, label = _subjects(v, network, entity, "graph.routes")
    stops = q.routes(v.ix, subjects, v.flt, limit=limit)
    v.audit("graph.routes", [e for s in stops for e in s.entities], _query(request))
    return {"subject": label, "stops": [_plain(s) for s in stops]}


@router.get("/timeline", summary="The links of an entity, or among a network's members, in time order")
def timeline(request: Request, user: UserDep, network: int | None = None, entity: str | None = None,
             limit: Annotated[int, Query(ge=1, le=5000)] = 500,
             type: TypesQuery = None, since: DayQuery = None, until: DayQuery = None,
             min_grade: GradeQuery = None, purpose: PurposeDep = None) -> dict:
    v = _View(request, user, type, since, until, min_grade, purpose)
    if network is not None and entity is None:
        c = v.network(network, "graph.timeline")
        items, label = q.network_timeline(v.ix, c.members, v.flt, limit), f"network {network}"
    else:
        subjects, label = _subjects(v, network, entity, "graph.timeline")
        items = q.timeline(v.ix, subjects[0], v.flt)[:limit]
    rows = [{"first": e.first, "last": e.last, "type": e.type, "entity": e.entity or label, "other": e.other,
             "count": e.link.count, "amount": e.link.amount, "currency": e.link.currency,
             "grading": e.link.grading} for e in items]
    v.audit("graph.timeline", [r["other"] for r in rows] + [r["entity"] for r in rows if r["entity"] != label],
            _query(request))
    return {"subject": label, "items": rows}


@router.get("/money/flows", summary="Payments summed per direction and currency, within a network or around an entity")
def money_flows(request: Request, user: UserDep, network: int | None = None, entity: str | None = None,
                limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                since: DayQuery = None, until: DayQuery = None, min_grade: GradeQuery = None,
                purpose: PurposeDep = None) -> dict:
    v = _View(request, user, None, since, until, min_grade, purpose)
    if network is not None and entity is None:
        flows = q.money_flows(v.ix, v.network(network, "graph.money").members, v.flt)
    else:
        _, label = _subjects(v, network, entity, "graph.money")
        flows = [f for f in q.money_flows(v.ix, None, v.flt) if entity in (f.source, f.target)]
    flows = flows[:limit]
    v.audit("graph.money", [x for f in flows for x in (f.source, f.target)], _query(request))
    return {"flows": [_plain(f) for f in flows], "totals": q.totals(flows)}


@router.get("/money/follow/{entity}", summary="Follow payments downstream or upstream n hops, with amounts")
def follow_money(request: Request, user: UserDep, entity: str,
                 direction: Annotated[str, Query(pattern="^(downstream|upstream)$")] = "downstream",
                 hops: Annotated[int, Query(ge=1, le=6)] = 3, currency: str | None = None,
                 since: DayQuery = None, until: DayQuery = None, min_grade: GradeQuery = None,
                 purpose: PurposeDep = None) -> dict:
    v = _View(request, user, None, since, until, min_grade, purpose)
    v.entity(entity, "graph.money")
    flows = q.follow_money(v.ix, entity, direction, hops, v.flt, currency)
    v.audit("graph.money", [entity] + [x for f in flows for x in (f.source, f.target)], _query(request))
    return {"entity": entity, "direction": direction, "flows": [_plain(f) for f in flows], "totals": q.totals(flows)}


@router.get("/export", summary="A subgraph (a network, or listed entities) as GraphML or GEXF for Gephi")
def export(request: Request, user: UserDep, format: Annotated[str, Query(pattern="^(graphml|gexf)$")] = "graphml",
           network: int | None = None, entity: Annotated[list[str] | None, Query()] = None,
           type: TypesQuery = None, since: DayQuery = None, until: DayQuery = None,
           min_grade: GradeQuery = None, purpose: PurposeDep = None) -> Response:
    from tessera.graph.exports import to_networkx, write_gexf, write_graphml

    v = _View(request, user, type, since, until, min_grade, purpose)
    if network is not None:
        wanted = v.network(network, "graph.export").members
    elif entity:
        wanted = [v.entity(e, "graph.export") for e in entity]
    else:
        raise Problem(422, "Unprocessable Content", "give a network or at least one entity")
    if len(wanted) > MAX_EXPORT:
        raise Problem(413, "Content Too Large", f"at most {MAX_EXPORT} entities in one export")
    G = to_networkx(v.ix, wanted, v.flt)
    with tempfile.TemporaryDirectory() as tmp:
        path = FilePath(tmp) / f"graph.{format}"
        (write_graphml if format == "graphml" else write_gexf)(G, path)
        body = path.read_bytes()
    v.audit("graph.export", list(G.nodes), _query(request), note=f"{format} export")
    media = "application/graphml+xml" if format == "graphml" else "application/gexf+xml"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="tessera-graph.{format}"'})
