"""What every API route shares: problem+json errors, the store, the authenticated user and the audit call.

A caller authenticates with `Authorization: Bearer <API token>` or with the web app's session cookie
`tessera_session` (see routes_session). CSRF rule for the cookie: a request that changes state (any method
but GET, HEAD, OPTIONS) and is authenticated by the cookie alone must either carry the header
`X-Requested-With: tessera` (which a cross-site form cannot set and a cross-site fetch cannot send without a
CORS preflight this API never grants) or come from the same origin — its `Origin` header (or, without one,
its `Referer`) names this server's scheme, host and port. Otherwise it is refused with 403. The cookie is
also SameSite=Strict, so browsers do not send it on cross-site requests at all; the rule is the second lock.
Bearer-token requests need neither: browsers never attach them by themselves.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AfterValidator

from tessera.access import audit, identity, purpose as purposes, sessions
from tessera.access.policy import User
from tessera.model.markings import Grading, MarkingError
from tessera.store.store import Store

PREFIX = "/api/v1"
PROBLEM = "application/problem+json"
SESSION_COOKIE = "tessera_session"
CSRF_HEADER, CSRF_VALUE = "x-requested-with", "tessera"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _real_day(text: str | None) -> str | None:
    if text is not None:
        date.fromisoformat(text)  # ValueError -> 422: "2025-02-30" has the shape but is no day
    return text


def _readable_grading(text: str | None) -> str | None:
    if text is not None and text.strip():
        try:
            Grading.parse(text)
        except MarkingError as exc:
            raise ValueError(str(exc)) from None
    return text


DayQuery = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD"),
                     AfterValidator(_real_day)]
GradeQuery = Annotated[str | None, Query(max_length=8, description="minimum grading, e.g. 2B (3x5x2) or B2"),
                       AfterValidator(_readable_grading)]


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


def store_of(request: Request) -> Store:
    return request.app.state.store


def _origin_of(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), f"{(parts.hostname or '').lower()}:{port}"


def same_origin(request: Request) -> bool:
    """True when the request's Origin (or, lacking one, its Referer) is this server's own origin."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed or claimed == "null":
        return False
    host = request.headers.get("host")
    if not host:
        return False
    return _origin_of(claimed) == _origin_of(f"{request.url.scheme}://{host}")


def csrf_ok(request: Request) -> bool:
    """The CSRF rule for cookie-authenticated requests (see the module docstring)."""
    if request.method.upper() in SAFE_METHODS:
        return True
    return request.headers.get(CSRF_HEADER, "").strip().lower() == CSRF_VALUE or same_origin(request)


def _refused(detail: str, error: bool = True) -> Problem:
    challenge = 'Bearer realm="tessera", error="invalid_token"' if error else 'Bearer realm="tessera"'
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


def current_user(request: Request) -> User:
    """The user of the bearer token or of the session cookie; 401 problem+json when there is none, it is
    unknown, expired, revoked or ended; 403 when a cookie-authenticated change breaks the CSRF rule."""
    header = request.headers.get("authorization", "")
    cookie = request.cookies.get(SESSION_COOKIE)
    store = store_of(request)
    if header or not cookie:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _refused("an Authorization: Bearer token or a session cookie is required", error=False)
        with store.engine.connect() as connection:
            try:
                return identity.authenticate_token(connection, token.strip())
            except identity.TokenRefused as exc:
                raise _refused(str(exc)) from None
    with store.engine.begin() as connection:
        try:
            user = sessions.user_for_session(connection, cookie)
        except identity.TokenRefused as exc:
            raise _refused(str(exc)) from None
    if not csrf_ok(request):
        raise Problem(403, "Forbidden", "a request made with the session cookie that changes state needs the "
                      f"header X-Requested-With: {CSRF_VALUE} or a same-origin Origin header")
    return user


async def authenticated_user(request: Request) -> User:
    """current_user as a route dependency. A bearer token is checked here on the event loop (one indexed read,
    no worker thread); a session cookie, whose check may write (the idle timer), in a worker thread."""
    if request.headers.get("authorization") or not request.cookies.get(SESSION_COOKIE):
        return current_user(request)
    return await run_in_threadpool(current_user, request)


UserDep = Annotated[User, Depends(authenticated_user)]

PURPOSE_HEADER = "X-Tessera-Purpose"
PurposeHeader = Annotated[str | None, Header(alias=PURPOSE_HEADER, max_length=purposes.MAX_PURPOSE,
                                             description="why the caller looks: recorded in the audit log; "
                                                         "required for the roles purpose.yml names")]


def check_purpose(user: User, text: str | None) -> str | None:
    """The stated purpose, or 422 problem+json when the user's role requires one and none is given."""
    try:
        return purposes.stated_purpose(user, text)
    except purposes.PurposeRequired as exc:
        raise Problem(422, "Unprocessable Content", str(exc)) from None


async def stated_purpose(user: UserDep, header: PurposeHeader = None,
                   purpose: Annotated[str | None, Query(max_length=purposes.MAX_PURPOSE,
                                                        description=f"as the {PURPOSE_HEADER} header")] = None
                   ) -> str | None:
    return check_purpose(user, header or purpose)  # no I/O (the rules are read once): no worker thread needed


PurposeDep = Annotated[str | None, Depends(stated_purpose)]


def with_note(purpose: str | None, note: str | None) -> str | None:
    """The audit entry's purpose field: the stated purpose and the route's own note (e.g. "not found")."""
    return "; ".join(p for p in (purpose, note) if p) or None


def record_audit(store: Store, user: User, action: str, entities, query: str | None,
                 purpose: str | None = None) -> None:
    """One audit entry, committed before this returns (so before the response is sent); entries of
    concurrent requests share a transaction (group commit, see tessera.access.audit)."""
    record_audits(store, [audit_item(user, action, entities, query, purpose)])


def audit_item(user: User, action: str, entities, query: str | None, purpose: str | None = None) -> dict:
    return dict(user=user.name, action=action, entities=list(entities), query=query, purpose=purpose)


def record_audits(store: Store, items: list[dict]) -> None:
    """Several audit entries (from audit_item), in order, committed together before this returns."""
    audit.appender(store.engine).append(items)


LimitQuery = Annotated[int, Query(ge=1, le=1000, description="at most this many items")]
OffsetQuery = Annotated[int, Query(ge=0, le=10_000_000, description="skip this many items")]
SmallId = Annotated[int, Path(ge=0, le=2**31 - 1)]  # a row id of a 32-bit INTEGER column


def page(request: Request, items: list, total: int, limit: int, offset: int, **extra) -> dict:
    """A page of a list: its items, the total, and links to the next and previous pages (null at the ends)."""

    def link(at: int) -> str:
        return str(request.url.include_query_params(limit=limit, offset=at))

    following = link(offset + limit) if offset + limit < total else None
    previous = link(max(offset - limit, 0)) if offset > 0 else None
    return dict(extra, total=total, limit=limit, offset=offset, items=items, next=following, previous=previous)


def require_role(user: User, *roles: str) -> None:
    if not set(roles) & set(user.roles):
        raise Problem(403, "Forbidden", f"this needs the role {' or '.join(roles)}")
