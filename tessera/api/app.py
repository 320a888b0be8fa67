"""The HTTP API under /api/v1: bearer tokens, problem+json errors, search, profiles and the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tessera.access import audit, identity
from tessera.access.policy import User
from tessera.api import search as searching
from tessera.store.store import Store

PREFIX = "/api/v1"
PROBLEM = "application/problem+json"


class Problem(Exception):
    """An error answered as RFC 9457 problem details."""

    def __init__(self, status: int, title: str, detail: str | None = None, type_: str = "about:blank",
                 headers: dict | None = None):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.type, self.headers = status, title, detail, type_, headers


def problem_response(status: int, title: str, detail: str | None = None, type_: str = "about:blank",
                     headers: dict | None = None, **extra) -> JSONResponse:
    body = dict(type=type_, title=title, status=status, detail=detail, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _store(request: Request) -> Store:
    return request.app.state.store


def current_user(request: Request) -> User:
    """The user of the bearer token; 401 problem+json when it is missing, unknown, expired or revoked."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="tessera"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "an Authorization: Bearer token is required", headers=challenge)
    with _store(request).engine.connect() as connection:
        try:
            return identity.authenticate_token(connection, token.strip())
        except identity.TokenRefused as exc:
            raise Problem(401, "Unauthorized", str(exc),
                          headers={"WWW-Authenticate": 'Bearer realm="tessera", error="invalid_token"'}) from None


UserDep = Annotated[User, Depends(current_user)]
router = APIRouter(prefix=PREFIX)


def _audit(store: Store, user: User, action: str, entities, query: str | None, purpose: str | None = None) -> None:
    with store.engine.begin() as connection:
        audit.record(connection, user.name, action, entities, query=query, purpose=purpose)


@router.get("/me", summary="The caller's identity and clearance")
def me(request: Request, user: UserDep) -> dict:
    return dict(name=user.name, agency=user.agency, country=user.country, clearance=user.clearance,
                nationality=user.citizenship, roles=list(user.roles))


@router.get("/search", summary="Search names across scripts and identifiers; pointers to what the caller cannot see")
def search(request: Request, user: UserDep,
           q: Annotated[str, Query(min_length=1, max_length=500, description="a name or an identifier")],
           limit: Annotated[int, Query(ge=1, le=200)] = 20,
           offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    store = _store(request)
    with store.engine.connect() as connection:
        result = searching.search(connection, user, q, limit, offset)
    pointers = result["pointers"]
    for pointer in pointers:
        cid = pointer.pop("canonical_id")
        _audit(store, user, "search.pointer", [cid, f"agency:{pointer['agency']}"], q,
               purpose=f"pointer {pointer['reference']} shown to {user.agency}")
    _audit(store, user, "search", [r["id"] for r in result["results"]], q)
    return result


@router.get("/entities/{entity_id}", summary="Every value the caller may see of an entity, with provenance")
def entity(request: Request, user: UserDep, entity_id: str) -> dict:
    store = _store(request)
    with store.engine.connect() as connection:
        found = searching.profile(connection, user, entity_id)
    if found is None:
        _audit(store, user, "entity.view", [], entity_id, purpose="not found")
        raise Problem(404, "Not Found", f"no entity {entity_id!r}")
    _audit(store, user, "entity.view", [found["id"]], entity_id)
    return found


def create_app(store_url: str | None = None, store: Store | None = None) -> FastAPI:
    """The API app over one store (opened and migrated here unless given)."""
    app = FastAPI(title="Tessera API", version="1", openapi_url=f"{PREFIX}/openapi.json", docs_url=f"{PREFIX}/docs",
                  redoc_url=None)
    app.state.store = store or Store.open(store_url)

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

    app.include_router(router)
    return app
