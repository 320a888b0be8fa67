"""What every API route shares: problem+json errors, the store, the authenticated user and the audit call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from tessera.access import audit, identity
from tessera.access.policy import User
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


def store_of(request: Request) -> Store:
    return request.app.state.store


def current_user(request: Request) -> User:
    """The user of the bearer token; 401 problem+json when it is missing, unknown, expired or revoked."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="tessera"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "an Authorization: Bearer token is required", headers=challenge)
    with store_of(request).engine.connect() as connection:
        try:
            return identity.authenticate_token(connection, token.strip())
        except identity.TokenRefused as exc:
            raise Problem(401, "Unauthorized", str(exc),
                          headers={"WWW-Authenticate": 'Bearer realm="tessera", error="invalid_token"'}) from None


UserDep = Annotated[User, Depends(current_user)]


def record_audit(store: Store, user: User, action: str, entities, query: str | None,
                 purpose: str | None = None) -> None:
    """One audit entry, in its own transaction."""
    with store.engine.begin() as connection:
        audit.record(connection, user.name, action, entities, query=query, purpose=purpose)
