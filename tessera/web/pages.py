"""The web app's frame and its own pages: login, search, entity profile, alerts, watchlist, review; /static here.

Other page modules (tessera.web.charts) reuse `PageUser` (a signed-in user, or a redirect to /login) and
`render(request, template, user, **context)`; their templates extend "base.html".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, or_, select
from starlette.routing import Match

from tessera.access.policy import User, visible_clause
from tessera.api.deps import Problem, UserDep, current_user, record_audit, store_of
from tessera.api.search import pointer_reference
from tessera.model.markings import Marking, classifications, highest
from tessera.store import tables

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))

# The header's navigation: (path, label). A link shows only when a page is served at its path, so pages
# that another module has not mounted yet do not appear as dead links.
NAV = [
    ("/search", "Search"),
    ("/chart", "Link chart"),
    ("/map", "Map"),
    ("/timeline", "Timeline"),
    ("/networks", "Networks"),
    ("/money", "Money flow"),
    ("/situation", "Situation"),
    ("/ingest", "Ingest"),
    ("/alerts", "Alerts"),
    ("/watchlist", "Watchlist"),
    ("/review", "Review"),
]
REVIEW_PAGE = 20  # pairs the review page asks for at a time (?limit= between 1 and REVIEW_PAGE_MAX)
REVIEW_PAGE_MAX = 100  # 200 record ids, as many as /web/markings answers for at once

router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    """A page was asked for without a live session: answered with a redirect to /login."""

    def __init__(self, next_url: str):
        super().__init__(next_url)
        self.next_url = next_url


def page_user(request: Request) -> User:
    """The signed-in user of a page request (session cookie, or bearer token); LoginRequired otherwise."""
    try:
        return current_user(request)
    except Problem:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target) from None


PageUser = Annotated[User, Depends(page_user)]


def _served(app: FastAPI, path: str) -> bool:
    scope = dict(type="http", path=path, method="GET", root_path="", path_params={}, headers=[], query_string=b"")
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


def _nav(request: Request) -> list[tuple[str, str]]:
    cached = getattr(request.app.state, "web_nav", None)
    if cached is None:
        cached = request.app.state.web_nav = [(p, label) for p, label in NAV if _served(request.app, p)]
    return cached


def render(request: Request, template: str, user: User | None, status_code: int = 200, **context) -> HTMLResponse:
    """A page from `template` (which extends base.html) with the frame's context: user, navigation, markings."""
    base = dict(user=user, nav=_nav(request) if user else [], current=request.url.path,
                classifications_json=json.dumps(classifications()), lowest=classifications()[0])
    response = templates.TemplateResponse(request, template, base | context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _safe_next(value: str | None) -> str:
    """Only a local path may be a redirect target after login (no //host, no scheme)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/search"
    return value


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return RedirectResponse("/search", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", None, next=_safe_next(next), title="Sign in")


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, user: PageUser, q: str = "") -> Response:
    return render(request, "search.html", user, q=q, title="Search")


@router.get("/entities/{entity_id}", response_class=HTMLResponse)
def entity_page(request: Request, user: PageUser, entity_id: str) -> Response:
    return render(request, "entity.html", user, entity_id=entity_id, title="Entity profile")


@router.get("/web/markings", summary="Highest marking of what the caller may see of each entity (for banners)")
def markings_of(request: Request, user: UserDep, id: Annotated[list[str], Query()]) -> dict:
    """canonical or source id -> the highest classification and the caveats of the values the caller may see."""
    s, e = tables.statements, tables.entities
    canon = func.coalesce(e.c.canonical_id, e.c.id)
    wanted = sorted(set(id))[:200]
    found: dict[str, list[Marking]] = {i: [] for i in wanted}
    query = (select(e.c.id, e.c.canonical_id, s.c.classification, s.c.caveat).distinct()
             .select_from(s.join(e, e.c.id == s.c.entity_id))
             .where(or_(e.c.id.in_(wanted), e.c.canonical_id.in_(wanted), canon.in_(wanted)))
             .where(visible_clause(user)))
    with store_of(request).engine.connect() as connection:
        for eid, cid, classification, caveat in connection.execute(query):
            for key in {eid, cid} & found.keys():
                found[key].append(Marking(classification, caveat))
    return {i: dict(classification=top.classification, caveat=top.caveat)
            for i, ms in found.items() if ms for top in [highest(ms)]}


@router.get("/web/pointers", summary="Pointers to the records of an entity the caller may not see (no content)")
def pointers_of(request: Request, user: UserDep, entity: Annotated[str, Query(min_length=1, max_length=96)]) -> dict:
    """For a canonical entity the caller may see: each agency, with an open hit policy, holding a member record
    of which the caller may see nothing — its contact point and the entity's opaque reference, never content."""
    s, e, a = tables.statements, tables.entities, tables.agencies
    canon = func.coalesce(e.c.canonical_id, e.c.id)
    store = store_of(request)
    with store.engine.connect() as connection:
        row = connection.execute(select(canon).where(or_(e.c.id == entity, e.c.canonical_id == entity)).limit(1)).first()
        members = [] if row is None else list(connection.execute(
            select(e.c.id).where(or_(e.c.canonical_id == row[0], e.c.id == row[0]))).scalars())
        seen = set(connection.execute(select(s.c.entity_id).distinct().where(s.c.entity_id.in_(members))
                                      .where(visible_clause(user))).scalars()) if members else set()
        if not seen:
            raise Problem(404, "Not Found", f"no entity {entity!r}")
        hidden = sorted(set(members) - seen)
        owners = connection.execute(
            select(s.c.agency, a.c.contact, a.c.hit_policy).distinct()
            .select_from(s.outerjoin(a, a.c.code == s.c.agency)).where(s.c.entity_id.in_(hidden))).all() if hidden else []
    cid = row[0]
    out = [dict(agency=agency, contact=contact, reference=pointer_reference(cid))
           for agency, contact, policy in sorted(owners, key=lambda o: o[0]) if (policy or "open") == "open"]
    for pointer in out:
        record_audit(store, user, "entity.pointer", [cid, f"agency:{pointer['agency']}"], entity,
                     purpose=f"pointer {pointer['reference']} shown to {user.agency}")
    return dict(id=cid, pointers=out)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, user: PageUser) -> Response:
    return render(request, "alerts.html", user, title="Alerts")


@router.get("/watchlist", response_class=HTMLResponse)
def watchlist_page(request: Request, user: PageUser) -> Response:
    return render(request, "watchlist.html", user, title="Watchlist")


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request, user: PageUser, limit: int = REVIEW_PAGE) -> Response:
    """The pairs the resolver was least sure of (GET /api/v1/review), each judged same or not the same in place."""
    return render(request, "review.html", user, title="Review", page_size=min(max(limit, 1), REVIEW_PAGE_MAX))


def install(app: FastAPI) -> None:
    """Serve /static and send page requests without a session to /login."""
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired):
        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)
