"""Web sessions: log in with a user name and password (cookie `tessera_session`), log out; brute force limited."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tessera.access import audit, identity, sessions
from tessera.api.deps import PREFIX, SESSION_COOKIE, Problem, csrf_ok, store_of
from tessera.api.login_limit import LoginLimiter

router = APIRouter(prefix=PREFIX, tags=["session"])

_CREDENTIALS = {"type": "object", "required": ["username", "password"],
                "properties": {"username": {"type": "string", "minLength": 1, "maxLength": 128},
                               "password": {"type": "string", "minLength": 1, "maxLength": 1024}}}
_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": _CREDENTIALS},
    "application/x-www-form-urlencoded": {"schema": _CREDENTIALS}}}}


def install(app) -> None:
    app.state.login_limiter = LoginLimiter()


def _limiter(request: Request) -> LoginLimiter:
    app = request.app
    if not hasattr(app.state, "login_limiter"):
        app.state.login_limiter = LoginLimiter()
    return app.state.login_limiter


async def _credentials(request: Request) -> tuple[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            data: Any = {k: form.get(k) for k in ("username", "password")}
        else:
            data = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Problem(422, "Unprocessable Content", "the body must be JSON or a form with username and password")
    if not isinstance(data, dict):
        raise Problem(422, "Unprocessable Content", "the body must be an object with username and password")
    name, password = data.get("username"), data.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name.strip() or not password:
        raise Problem(422, "Unprocessable Content", "username and password are required strings")
    if len(name) > 128 or len(password) > 1024:
        raise Problem(422, "Unprocessable Content", "username or password too long")
    return name.strip(), password


@router.post("/session", summary="Log in: a session cookie for the web app (JSON or form: username, password)",
             openapi_extra=_BODY, responses={401: {"description": "wrong user name or password"},
                                             429: {"description": "too many failed logins; see Retry-After"}})
async def login(request: Request) -> JSONResponse:
    if request.headers.get("origin") and not csrf_ok(request):
        raise Problem(403, "Forbidden", "log in from this server's own pages")
    name, password = await _credentials(request)
    return await run_in_threadpool(_login, request, name, password)  # argon2 and the store block


def _login(request: Request, name: str, password: str) -> JSONResponse:
    client = request.client.host if request.client else "unknown"
    keys = (f"user:{name.lower()}", f"addr:{client}")
    limiter = _limiter(request)
    store = store_of(request)
    wait = limiter.retry_after(*keys)
    if wait:
        with store.engine.begin() as connection:
            audit.record(connection, name, "session.refused", [f"user:{name}"], query=f"client {client}",
                         purpose="too many failed logins")
        raise Problem(429, "Too Many Requests", f"too many failed logins; try again in {wait} s",
                      headers={"Retry-After": str(wait)})
    with store.engine.connect() as connection:
        user = identity.verify_password(connection, name, password)
    if user is None:
        limiter.failed(*keys)
        with store.engine.begin() as connection:
            audit.record(connection, name, "session.failed", [f"user:{name}"], query=f"client {client}")
        raise Problem(401, "Unauthorized", "wrong user name or password")
    limiter.succeeded(keys[0])
    with store.engine.begin() as connection:
        token = sessions.create_session(connection, user.name)
    body = dict(name=user.name, agency=user.agency, clearance=user.clearance, roles=list(user.roles),
                idle_timeout_seconds=int(sessions.idle_timeout().total_seconds()))
    response = JSONResponse(body)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(sessions.lifetime().total_seconds()), path="/",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.delete("/session", status_code=204, summary="Log out: end the session of the cookie and clear it")
def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        if not csrf_ok(request):
            raise Problem(403, "Forbidden", "log out with the header X-Requested-With: tessera or from this origin")
        with store_of(request).engine.begin() as connection:
            sessions.end_session(connection, token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
