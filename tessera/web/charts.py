"""The analysis pages (link chart, map, timeline, networks, money flow, situation, ingest) and the JSON they draw.

Pages are served by `router` (HTML, session required). The JSON under /api/v1/charts is what the pages' scripts
read: every route goes through the access layer (a link resting only on statements the viewer may not see does
not exist for them; labels come only from visible values) and is audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tessera.api.deps import PREFIX, DayQuery, Problem, PurposeDep, UserDep, record_audit, store_of, with_note
from tessera.graph.index import LINK_TYPES
from tessera.web import chart_data as data
from tessera.web.pages import PageUser, render

router = APIRouter()
api = APIRouter(prefix=f"{PREFIX}/charts", tags=["charts"])

TypesQuery = Annotated[list[str] | None, Query(description=f"link types: {', '.join(LINK_TYPES)}")]


# pages
def _page(request: Request, user, template: str, title: str, **context) -> Response:
    return render(request, template, user, title=title, link_types=LINK_TYPES, **context)


@router.get("/chart", response_class=HTMLResponse, include_in_schema=False)
def chart_page(request: Request, user: PageUser, entity: str = "", hops: str = "2", supernode: str = "50",
               start: str = "", end: str = "", types: TypesQuery = None) -> Response:
    """The link chart, its form as the query gives it (a shared link, or the form sent before the script ran,
    draws what was asked for); what the form would not accept falls back to its default."""
    return _page(request, user, "chart.html", "Link chart", entity=entity,
                 hops=hops if hops in ("1", "2", "3") else "2",
                 supernode=supernode if supernode.isdigit() and 1 <= int(supernode) <= 5000 else "50",
                 start=start, end=end, types=[t for t in types or [] if t in LINK_TYPES])


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
def map_page(request: Request, user: PageUser, entity: str = "", network: str = "") -> Response:
    return _page(request, user, "map.html", "Map", entity=entity, network=network)


@router.get("/timeline", response_class=HTMLResponse, include_in_schema=False)
def timeline_page(request: Request, user: PageUser, entity: str = "", network: str = "") -> Response:
    return _page(request, user, "timeline.html", "Timeline", entity=entity, network=network)


@router.get("/networks", response_class=HTMLResponse, include_in_schema=False)
def networks_page(request: Request, user: PageUser) -> Response:
    return _page(request, user, "networks.html", "Networks")


@router.get("/money", response_class=HTMLResponse, include_in_schema=False)
def money_page(request: Request, user: PageUser, entity: str = "", network: str = "") -> Response:
    return _page(request, user, "money.html", "Money flow", entity=entity, network=network)


@router.get("/situation", response_class=HTMLResponse, include_in_schema=False)
def situation_page(request: Request, user: PageUser) -> Response:
    return _page(request, user, "situation.html", "Situation")


@router.get("/ingest", response_class=HTMLResponse, include_in_schema=False)
def ingest_page(request: Request, user: PageUser) -> Response:
    return _page(request, user, "ingest.html", "Ingest")


# JSON
def _setup(request: Request, user, types=None, start=None, end=None):
    store = store_of(request)
    cache = data.cache_of(request.app)
    ix = cache.graph(store)
    try:
        flt = data.edge_filter(cache.visibility(store, ix, user), types, start, end)
    except ValueError as err:
        raise Problem(422, "Unprocessable Content", str(err)) from None
    return store, cache, ix, flt


def _need(ix, *entities: str) -> None:
    for e in entities:
        if e not in ix:
            raise Problem(404, "Not Found", f"no entity {e!r} in the link graph")


@api.get("/graph/neighbourhood", summary="Entities within some links of one entity, supernodes summarised")
def neighbourhood(request: Request, user: UserDep, entity: str, hops: Annotated[int, Query(ge=1, le=3)] = 1,
                  types: TypesQuery = None, start: DayQuery = None, end: DayQuery = None,
                  supernode: Annotated[int, Query(ge=1, le=5000)] = 50, purpose: PurposeDep = None) -> dict:
    store, _, ix, flt = _setup(request, user, types, start, end)
    _need(ix, entity)
    with store.engine.connect() as conn:
        out = data.neighbourhood(conn, user, ix, entity, hops, flt, supernode)
    if out is None:
        record_audit(store, user, "chart.neighbourhood", [], entity, purpose=with_note(purpose, "not found"))
        raise Problem(404, "Not Found", f"no entity {entity!r} in the link graph")
    record_audit(store, user, "chart.neighbourhood", [n["id"] for n in out["nodes"]], entity, purpose=purpose)
    return out


@api.get("/graph/expand", summary="One page of a (super)node's neighbours, strongest link first")
def expand(request: Request, user: UserDep, entity: str, page: Annotated[int, Query(ge=0)] = 0,
           page_size: Annotated[int, Query(ge=1, le=500)] = 50, types: TypesQuery = None,
           start: DayQuery = None, end: DayQuery = None, purpose: PurposeDep = None) -> dict:
    store, _, ix, flt = _setup(request, user, types, start, end)
    _need(ix, entity)
    with store.engine.connect() as conn:
        out = data.expand_page(conn, user, ix, entity, page, page_size, flt)
    record_audit(store, user, "chart.expand", [entity] + [n["id"] for n in out["nodes"]], entity, purpose=purpose)
    return out


@api.get("/graph/path", summary="The strongest short chain of links between two entities")
def path(request: Request, user: UserDep, a: str, b: str, types: TypesQuery = None,
         start: DayQuery = None, end: DayQuery = None, purpose: PurposeDep = None) -> dict:
    store, _, ix, flt = _setup(request, user, types, start, end)
    _need(ix, a, b)
    with store.engine.connect() as conn:
        out = data.path(conn, user, ix, a, b, flt)
    if out is None:
        raise Problem(404, "Not Found", f"no path from {a} to {b} through links you may see")
    record_audit(store, user, "chart.path", [n["id"] for n in out["nodes"]], f"{a} {b}", purpose=purpose)
    return out


@api.get("/networks", summary="Networks (communities) largest first, with their key players")
def networks(request: Request, user: UserDep, top: Annotated[int, Query(ge=1, le=100)] = 10,
             players: Annotated[int, Query(ge=1, le=50)] = 5, types: TypesQuery = None,
             start: DayQuery = None, end: DayQuery = None, purpose: PurposeDep = None) -> dict:
    store, cache, ix, flt = _setup(request, user, types, start, end)
    with store.engine.connect() as conn:
        out = data.networks(cache, conn, user, ix, flt, top, players)
    record_audit(store, user, "chart.networks", [p["id"] for n in out["networks"] for p in n["key_players"]], None,
                 purpose=purpose)
    return out


def _members(request, user, cache, ix, flt, entity: str | None, network: int | None) -> list[str] | None:
    if entity:
        _need(ix, entity)
        return [entity]
    if network is not None:
        members = data.network_members(cache, user, ix, flt, network)
        if members is None:
            raise Problem(404, "Not Found", f"no network {network}")
        return members
    return None


@api.get("/money", summary="Payments out of or into an entity, or inside a network, summed per direction")
def money(request: Request, user: UserDep, entity: str | None = None, network: int | None = None,
          direction: Annotated[str, Query(pattern="^(downstream|upstream)$")] = "downstream",
          hops: Annotated[int, Query(ge=1, le=6)] = 3, start: DayQuery = None, end: DayQuery = None,
          purpose: PurposeDep = None) -> dict:
    store, cache, ix, flt = _setup(request, user, None, start, end)
    if not entity and network is None:
        raise Problem(422, "Unprocessable Content", "give an entity or a network")
    members = _members(request, user, cache, ix, flt, entity, network)
    with store.engine.connect() as conn:
        out = data.money(conn, user, ix, flt, entity=entity, members=None if entity else members,
                         direction=direction, hops=hops)
    record_audit(store, user, "chart.money", list(out["entities"]), entity or f"network {network}", purpose=purpose)
    return out


@api.get("/timeline", summary="Links and events of an entity or a network in time order")
def timeline(request: Request, user: UserDep, entity: str | None = None, network: int | None = None,
             types: TypesQuery = None, start: DayQuery = None, end: DayQuery = None, purpose: PurposeDep = None) -> dict:
    store, cache, ix, flt = _setup(request, user, types, start, end)
    members = _members(request, user, cache, ix, flt, entity, network)
    if members is None:
        raise Problem(422, "Unprocessable Content", "give an entity or a network")
    with store.engine.connect() as conn:
        out = data.link_timeline(conn, user, ix, flt, members)
        evs = data.events(conn, user, set(members), start, end)
    out["events"] = evs["events"]
    out["marking"] = data.higher(out["marking"], evs["marking"])
    record_audit(store, user, "chart.timeline", members[:500], entity or f"network {network}", purpose=purpose)
    return out


@api.get("/events", summary="Crossings, interceptions and arrests the caller may see, placed on the map")
def events(request: Request, user: UserDep, entity: str | None = None, network: int | None = None,
           start: DayQuery = None, end: DayQuery = None, limit: Annotated[int, Query(ge=1, le=20000)] = 5000,
           purpose: PurposeDep = None) -> dict:
    store = store_of(request)
    involving = None
    if entity or network is not None:
        _, cache, ix, flt = _setup(request, user)
        involving = set(_members(request, user, cache, ix, flt, entity, network))
    with store.engine.connect() as conn:
        out = data.events(conn, user, involving, start, end, limit)
    out["routes"] = data.routes(out) if involving is not None else []
    record_audit(store, user, "chart.events", [e["id"] for e in out["events"][:500]],
                 entity or (f"network {network}" if network is not None else None), purpose=purpose)
    return out


@api.get("/situation", summary="Small-boat crossings by day, week, month and year; quarters; year to date")
def situation(request: Request, user: UserDep) -> dict:
    store = store_of(request)
    out = data.situation(store)
    record_audit(store, user, "chart.situation", [], None)
    return out


@api.get("/mappings", summary="Mappings of the caller's agency's earlier batches, newest first, to reuse on upload")
def mappings(request: Request, user: UserDep, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict:
    store = store_of(request)
    with store.engine.connect() as conn:
        items = data.agency_mappings(conn, user.agency, limit)
    record_audit(store, user, "chart.mappings", [f"agency:{user.agency}"], None)
    return {"items": items, "agency": user.agency}


def install(app) -> None:
    """The JSON routes are included here so they sit under /api/v1 beside the API's own."""
    app.include_router(api)

