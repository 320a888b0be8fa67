"""Core API routes: the caller's identity, search across scripts and identifiers, entity profiles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from tessera.api import search as searching
from tessera.api import search_index
from tessera.api.deps import (PREFIX, Problem, PurposeDep, UserDep, audit_item, record_audit, record_audits, store_of,
                              with_note)

router = APIRouter(prefix=PREFIX)


@router.get("/me", summary="The caller's identity and clearance")
def me(request: Request, user: UserDep) -> dict:
    return dict(name=user.name, agency=user.agency, country=user.country, clearance=user.clearance,
                nationality=user.citizenship, roles=list(user.roles))


@router.get("/search", summary="Search names across scripts and identifiers; pointers to what the caller cannot see")
def search(request: Request, user: UserDep,
           q: Annotated[str, Query(min_length=1, max_length=500, description="a name or an identifier")],
           limit: Annotated[int, Query(ge=1, le=200)] = 20,
           offset: Annotated[int, Query(ge=0)] = 0, purpose: PurposeDep = None) -> dict:
    store = store_of(request)
    with store.engine.connect() as connection:
        result = searching.search(connection, user, q, limit, offset)
    entries = []
    for pointer in result["pointers"]:
        cid = pointer.pop("canonical_id")
        entries.append(audit_item(user, "search.pointer", [cid, f"agency:{pointer['agency']}"], q,
                                  purpose=with_note(purpose, f"pointer {pointer['reference']} shown to {user.agency}")))
    entries.append(audit_item(user, "search", [r["id"] for r in result["results"]], q, purpose))
    record_audits(store, entries)
    search_index.refresh_soon(store)  # batches landed since the index last caught up: key them in the background
    return result


@router.get("/entities/{entity_id}", summary="Every value the caller may see of an entity, with provenance")
def entity(request: Request, user: UserDep, entity_id: str, purpose: PurposeDep = None) -> dict:
    store = store_of(request)
    with store.engine.connect() as connection:
        found = searching.profile(connection, user, entity_id)
    if found is None:
        record_audit(store, user, "entity.view", [], entity_id, purpose=with_note(purpose, "not found"))
        raise Problem(404, "Not Found", f"no entity {entity_id!r}")
    record_audit(store, user, "entity.view", [found["id"]], entity_id, purpose)
    return found
