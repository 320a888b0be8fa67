"""The HTTP app: one store, problem+json error handlers, and the route modules listed in ROUTERS."""

from __future__ import annotations

import importlib

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tessera.api.deps import PREFIX, Problem, problem_response
from tessera.store.store import Store, resolve_url

# Each module defines `router` (a fastapi.APIRouter); one that also defines `install(app)` is called after
# its router is included (static files, startup tasks). Add one line per module.
ROUTERS = [
    "tessera.api.routes_core",
    "tessera.api.routes_graph",
    "tessera.api.routes_alerts",
    "tessera.api.routes_resolve",
    "tessera.api.routes_session",
    "tessera.api.routes_situation",
    "tessera.api.routes_audit",
    "tessera.api.routes_export",
    "tessera.api.routes_ingest",
    "tessera.web.pages",
    "tessera.web.charts",
]


# The connection pool, sized to the server: sync routes run in anyio's worker threads (40 by default) and a
# request holds at most two connections at once (its read, and a write of its own such as an audit entry or a
# deconfliction notice). 20 stay open; more are opened on demand up to that bound, so a request never waits
# for a connection (SQLAlchemy's default of 5 + 10 made requests queue, and time out after 30 s, under load);
# one more for the reads done on the event loop itself (bearer tokens, see deps.authenticated_user).
# LIFO: the most recently used connection is handed out first, so the few a steady load needs stay warm
# (each SQLite connection has its own page cache).
API_THREADS = 40
POOL_OPTIONS = dict(pool_size=20, max_overflow=2 * API_THREADS + 1 - 20, pool_use_lifo=True)


def open_store(store_url: str | None = None) -> Store:
    """The store as the API opens it: with the pool above (not for in-memory SQLite, which has one connection)."""
    url = resolve_url(store_url)
    memory = url.startswith("sqlite") and (":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite:/"))
    return Store.open(url) if memory else Store.open(url, **POOL_OPTIONS)


def create_app(store_url: str | None = None, store: Store | None = None) -> FastAPI:
    """The API app over one store (opened and migrated here unless given)."""
    app = FastAPI(title="Tessera API", version="1", openapi_url=f"{PREFIX}/openapi.json", docs_url=f"{PREFIX}/docs",
                  redoc_url=None)
    app.state.store = store or open_store(store_url)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(exc.status, exc.title, exc.detail, exc.type, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        titles = {404: "Not Found", 405: "Method Not Allowed", 401: "Unauthorized", 403: "Forbidden"}
        return problem_response(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail),
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return problem_response(422, "Unprocessable Content", detail)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        return problem_response(500, "Internal Server Error", "the server could not answer this request")

    for name in ROUTERS:
        module = importlib.import_module(name)
        app.include_router(module.router)
        if hasattr(module, "install"):
            module.install(app)
    return app
