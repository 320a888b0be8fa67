"""Core API routes: the caller's identity, search across scripts and identifiers, entity profiles.

Search and profile are the hot paths, so they are `async def` and read on the event loop: each is a few
indexed queries of a millisecond or so, cheaper run in place than handed to a worker thread and back. What
may take longer goes to a worker thread: a search when many statements are not yet in the search-key index
(it would scan them) or when the index gives it many candidates (a common name part alone), and the writes --
notices to the owners of what a search met, and the audit entries, which are committed (group commit) before
the response is sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from tessera.api import search as searching
from tessera.api import search_index
from tessera.api.deps import PREFIX, Problem, PurposeDep, UserDep, audit_item, record_audits, store_of, with_note

router = APIRouter(prefix=PREFIX)

INLINE_TAIL = 2_000  # a search scanning more statements past the index than this runs in a worker thread
INLINE_ROWS = 1_000  # ... and so does one given more candidate statements than this by the index


@router.get("/me", summary="The caller's identity and clearance")
def me(request: Request, user: UserDep) -> dict:
    return dict(name=user.name, agency=user.agency, country=user.country, clearance=user.clearance,
                nationality=user.citizenship, roles=list(user.roles))


def _search(store, user, q: str, limit: int, offset: int, max_tail: int | None = None,
            max_rows: int | None = None) -> dict:
    with store.engine.connect() as connection:
        return searching.search(connection, user, q, limit, offset, max_tail, max_rows)


def _told_and_audited(store, user, notices: list, entries: list[dict]) -> None:
    searching.tell_owners(store.engine, user, notices)
    record_audits(store, entries)


@router.get("/search", summary="Search names across scripts and identifiers; pointers to what the caller cannot see")
async def search(request: Request, user: UserDep,
                 q: Annotated[str, Query(min_length=1, max_length=500, description="a name or an identifier")],
                 limit: Annotated[int, Query(ge=1, le=200)] = 20,
                 offset: Annotated[int, Query(ge=0)] = 0, purpose: PurposeDep = None) -> dict:
    store = store_of(request)
    try:
        result = _search(store, user, q, limit, offset, max_tail=INLINE_TAIL, max_rows=INLINE_ROWS)
    except searching.Heavy:
        result = await run_in_threadpool(_search, store, user, q, limit, offset)
    entries = []
    for pointer in result["pointers"]:
        cid = pointer.pop("canonical_id")
        entries.append(audit_item(user, "search.pointer", [cid, f"agency:{pointer['agency']}"], q,
                                  purpose=with_note(purpose, f"pointer {pointer['reference']} shown to {user.agency}")))
    entries.append(audit_item(user, "search", [r["id"] for r in result["results"]], q, purpose))
    await run_in_threadpool(_told_and_audited, store, user, result.pop("notices"), entries)
    search_index.refresh_soon(store)  # batches landed since the index last caught up: key them in the background
    return result


@router.get("/entities/{entity_id}", summary="Every value the caller may see of an entity, with provenance")
async def entity(request: Request, user: UserDep, entity_id: str, purpose: PurposeDep = None) -> dict:
    store = store_of(request)
    with store.engine.connect() as connection:
        found = searching.profile(connection, user, entity_id)
    if found is None:
        await run_in_threadpool(record_audits, store, [audit_item(user, "entity.view", [], entity_id,
                                                                  with_note(purpose, "not found"))])
        raise Problem(404, "Not Found", f"no entity {entity_id!r}")
    await run_in_threadpool(record_audits, store, [audit_item(user, "entity.view", [found["id"]], entity_id, purpose)])
    return found
