"""Resolution routes: resolving what is new (as jobs), analysts' judgements (make, list, withdraw), explanations
of a pair, the review queue of pairs the resolver was least sure of, the change feed.

What a caller is shown passes through the access policy: a source entity counts as visible to them when
they may see at least one of its statements, a canonical entity when they may see one of its members.
Ids they may not see are never named (they are counted as withheld only when every agency holding them has an
open hit policy, as search points only to those; a silent or closed owner's record is not even counted), another agency's reason for a
judgement is shown only when the caller may see every record it covers, and an id they may not see is
answered like an id that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection, func, or_, select

from tessera.access.policy import User, visible_clause
from tessera.api.deps import (PREFIX, LimitQuery, OffsetQuery, Problem, SmallId, UserDep, record_audit, require_role,
                              store_of)
from tessera.api.resolve_jobs import ResolveJob, ResolveJobs
from tessera.resolve import judgements as jm
from tessera.resolve.changes import NEW, changes_since
from tessera.resolve.review import review_queue
from tessera.store import tables

router = APIRouter(prefix=PREFIX, tags=["resolution"])

WITHDRAW_ROLES = ("supervisor", "admin")
RESOLVE_ROLES = ("supervisor", "admin")
# Never-resolved records (and a twentieth of those resolved) past which POST /resolve runs the engine's bulk
# path: at 100k people a warm batch of 10,000 took 8.3 s and one of 30,000 24.9 s, a `changed` run 11.5-11.9 s
# whatever the backlog (bench/resolve_incremental.py's world, measured with the vectorised warm candidates).
WARM_BACKLOG = 5_000
SCAN_PAGES = 20  # change-feed pages read for one request, however few of them the caller may see


class JudgementIn(BaseModel):
    """A judgement as an analyst makes it."""

    kind: Literal["same", "not-same", "split"]
    a: str = Field(min_length=1, max_length=96, description="source or canonical id (the entity, for a split)")
    b: str | None = Field(default=None, max_length=96, description="source or canonical id (not for a split)")
    reason: str = Field(min_length=1, max_length=2000)
    parts: list[list[str]] | None = Field(default=None, description="split only: members kept together")


def visible_sources(connection: Connection, user: User, ids: list[str]) -> set[str]:
    """The source entity ids among `ids` of which the user may see at least one statement."""
    s = tables.statements
    seen: set[str] = set()
    ids = sorted(set(ids))
    for i in range(0, len(ids), 500):
        query = (select(s.c.entity_id).distinct().where(s.c.entity_id.in_(ids[i:i + 500]))
                 .where(visible_clause(user)))
        seen.update(connection.execute(query).scalars())
    return seen


def visible_ids(connection: Connection, user: User, ids: list[str]) -> set[str]:
    """The ids (source or canonical) among `ids` that the user may see: a canonical one through a member."""
    e = tables.entities
    ids = sorted(set(i for i in ids if i))
    members: dict[str, set[str]] = {i: {i} for i in ids}
    for k in range(0, len(ids), 500):
        chunk = ids[k:k + 500]
        for eid, cid in connection.execute(select(e.c.id, e.c.canonical_id).where(e.c.canonical_id.in_(chunk))):
            members[cid].add(eid)
    seen = visible_sources(connection, user, [m for ms in members.values() for m in ms])
    return {i for i, ms in members.items() if ms & seen}


def disclosable(connection: Connection, ids) -> set[str]:
    """The source entities among `ids` whose existence a viewer who may not see them may learn (counted, never
    named): those held only by agencies with an open hit policy."""
    s, a = tables.statements, tables.agencies
    ids = sorted(set(ids))
    held: dict[str, bool] = {}
    for i in range(0, len(ids), 500):
        query = (select(s.c.entity_id, a.c.hit_policy).distinct().select_from(s.outerjoin(a, a.c.code == s.c.agency))
                 .where(s.c.entity_id.in_(ids[i:i + 500])))
        for eid, policy in connection.execute(query):
            held[eid] = held.get(eid, True) and (policy or "open") == "open"
    return {eid for eid, ok in held.items() if ok}


def shown(connection: Connection, user: User, j: jm.Judgement) -> dict | None:
    """A judgement as this user may see it, or None when it covers nothing they may see, or covers a record
    they may not see whose owner discloses nothing (unless their own agency made it)."""
    covered = set(j.a_members) | set(j.b_members)
    seen = visible_sources(connection, user, list(covered))
    if not seen:
        return None
    hidden = covered - seen
    if hidden and j.agency != user.agency and len(disclosable(connection, hidden)) < len(hidden):
        return None  # showing it would tell of a record whose owner discloses nothing
    named = visible_ids(connection, user, [j.a] + ([j.b] if j.b else []))
    whole = seen == covered
    data = j.as_dict()
    data["a"] = j.a if j.a in named else None
    data["b"] = j.b if j.b in named else None
    data["a_members"] = [m for m in j.a_members if m in seen]
    data["b_members"] = [m for m in j.b_members if m in seen]
    data["groups"] = [[m for m in g if m in seen] for g in j.groups]
    data["withheld_members"] = len(hidden)
    if not whole and j.agency != user.agency:
        data["reason"] = None
        data["reason_withheld"] = True
    return data


def _judgement_problem(error: jm.JudgementError) -> Problem:
    if isinstance(error, jm.JudgementConflict):
        refs = ", ".join(f"#{i}" for i in error.conflicting)
        return Problem(409, "Conflict", f"this judgement contradicts judgement(s) {refs}",
                       type_="/problems/judgement-conflict")
    if isinstance(error, jm.NotFound):
        return Problem(404, "Not Found", str(error))
    return Problem(422, "Unprocessable Content", str(error))


@router.post("/resolve", summary="Resolve the records new since the last run against everything already resolved",
             responses={202: {"description": "the run goes on as a job: follow it at the `status` URL"}})
def resolve_new(request: Request, response: Response, user: UserDep,
                wait: Annotated[float, Query(ge=0, le=600, description="seconds to wait for the run's end")] = 20
                ) -> dict:
    """Resolves as a job (one at a time; a call while a job is still queued joins it) and answers when it ends
    within `wait` seconds (200, with its counts), else at once with the job (202; `status` is its URL).

    The job scores the Person records never resolved against the app's warm resolver (built on first use, and
    again whenever another run has changed the canonical ids since), then writes their canonical ids and the
    change feed. A store never resolved, or a backlog of more than WARM_BACKLOG records and a twentieth of those
    resolved, goes through a full `changed` run instead (every schema, the engine's bulk blocking); the warm
    resolver is then built by the next job. Answers counts only, no record. Needs the supervisor or admin role."""
    require_role(user, *RESOLVE_ROLES)
    store, state = store_of(request), request.app.state
    job, queued = state.resolve_jobs.submit(user.name, lambda job: _resolve_job(state, store, job))
    ended = job.ended.wait(wait)
    # written once the wait is over: an audit write beside the job's would wait on SQLite's write lock
    record_audit(store, user, "resolve", [f"job:{job.id}"], None, purpose=None if queued else "joined a queued job")
    if ended and job.state == "failed":
        raise Problem(500, "Internal Server Error", f"resolution job {job.id} failed: {job.error}")
    if not job.ended.is_set():
        response.status_code = 202
        response.headers["Location"] = f"{PREFIX}/resolve/jobs/{job.id}"
    return _job_view(job)


@router.get("/resolve/jobs/{job_id}", summary="A resolution job's state, progress and counts")
def resolve_job(request: Request, user: UserDep, job_id: str) -> dict:
    require_role(user, *RESOLVE_ROLES)
    job = request.app.state.resolve_jobs.get(job_id)
    record_audit(store_of(request), user, "resolve.status", [f"job:{job_id}"], None,
                 purpose=None if job else "not found")
    if job is None:
        raise Problem(404, "Not Found", f"no resolution job {job_id!r}")
    return _job_view(job)


def install(app) -> None:
    app.state.resolve_jobs = ResolveJobs()


def _job_view(job: ResolveJob) -> dict:
    return job.as_dict() | dict(status=f"{PREFIX}/resolve/jobs/{job.id}")


def _resolve_job(state, store, job: ResolveJob) -> dict:
    """One resolution run (see resolve_new): its counts, the mode it went through and the warm index's build."""
    from tessera.resolve.engine import resolve, run_model
    from tessera.resolve.live import LiveIndex, latest_run

    def progress(message: str) -> None:
        job.progress = message

    index = getattr(state, "warm_resolver", None)
    run = latest_run(store)
    warm = index is not None and index.run_id == run  # no other run has changed the canonical ids since
    if run is None or _backlog(store) > max(WARM_BACKLOG, _resolved(store, index if warm else None) // 20):
        job.mode = "full"
        state.warm_resolver = None
        result = resolve(store, model=run_model(store), changed=True, progress=progress)
        built, index = False, None
    else:
        job.mode = "warm"
        built = not warm
        if built:
            progress("building the warm resolver from the resolved records")
            index = state.warm_resolver = LiveIndex(store)
        progress("scoring the new records against the warm resolver")
        result = index.resolve_new(store)
    out = {k: v for k, v in result.as_dict().items() if k != "feed"}
    out["feed"] = {k: v for k, v in result.feed.items() if k != "run_id"}
    out["index"] = {"built": built, "seconds": index.seconds if built else 0.0,
                    "records": index.table.n if index else 0}
    return out


def _backlog(store) -> int:
    """Records of any schema never resolved (counted on the canonical-id index)."""
    e = tables.entities
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(e).where(e.c.canonical_id.is_(None))).scalar()


def _resolved(store, index) -> int:
    """Records resolved: those the warm resolver holds, or, without one, a count of the store's."""
    if index is not None:
        return index.table.n
    e = tables.entities
    with store.engine.connect() as connection:
        return connection.execute(select(func.count(e.c.canonical_id))).scalar()


@router.post("/judgements", status_code=201, summary="Judge two records the same or not the same, or split an entity")
def make_judgement(request: Request, user: UserDep, body: JudgementIn) -> dict:
    store = store_of(request)
    with store.engine.connect() as connection:
        named = [body.a] + ([body.b] if body.b else [])
        hidden = [i for i in named if i not in visible_ids(connection, user, named)]
    if hidden:
        raise Problem(404, "Not Found", f"{hidden[0]} is neither a source entity nor a canonical entity")
    try:
        with store.engine.begin() as connection:
            j = jm.add_judgement(connection, body.kind, body.a, body.b, body.reason, user.name, user.agency,
                                 parts=body.parts)
    except jm.JudgementConflict as error:
        record_audit(store, user, f"judgement.{body.kind}", named, None,
                     purpose="refused: contradicts " + ", ".join(f"#{i}" for i in error.conflicting))
        raise _judgement_problem(error) from None
    except jm.JudgementError as error:
        raise _judgement_problem(error) from None
    with store.engine.connect() as connection:
        return shown(connection, user, j) or {}


@router.get("/judgements", summary="Judgements covering records the caller may see")
def list_judgements(request: Request, user: UserDep,
                    entity: Annotated[str | None, Query(max_length=96)] = None,
                    include_withdrawn: bool = False) -> dict:
    store = store_of(request)
    with store.engine.connect() as connection:
        if entity and entity not in visible_ids(connection, user, [entity]):
            raise Problem(404, "Not Found", f"no entity {entity!r}")
        members = None
        if entity:
            members = set(jm.members_of(connection, entity)) if _exists(connection, entity) else {entity}
        found = jm.load_judgements(connection, include_withdrawn=include_withdrawn)
        if members is not None:
            found = [j for j in found if entity in (j.a, j.b) or members & (set(j.a_members) | set(j.b_members))]
        out = [d for d in (shown(connection, user, j) for j in found) if d is not None]
    record_audit(store, user, "judgement.list", [entity] if entity else [], entity,
                 purpose=f"{len(out)} judgements shown")
    return dict(judgements=out)


def _exists(connection: Connection, ident: str) -> bool:
    e = tables.entities
    return connection.execute(select(e.c.id).where(or_(e.c.id == ident, e.c.canonical_id == ident)).limit(1)).first() \
        is not None


@router.delete("/judgements/{judgement_id}", summary="Withdraw a judgement (soft delete, reversible)")
def withdraw_judgement(request: Request, user: UserDep, judgement_id: SmallId) -> dict:
    store = store_of(request)
    with store.engine.connect() as connection:
        try:
            j = jm.get_judgement(connection, judgement_id)
        except jm.NotFound:
            j = None
        view = shown(connection, user, j) if j else None
    if view is None:
        raise Problem(404, "Not Found", f"no judgement #{judgement_id}")
    if j.agency != user.agency and not set(user.roles) & set(WITHDRAW_ROLES):
        raise Problem(403, "Forbidden", "only the judging agency or a supervisor may withdraw a judgement")
    try:
        with store.engine.begin() as connection:
            j = jm.withdraw(connection, judgement_id, user.name)
    except jm.JudgementError as error:
        raise Problem(409, "Conflict", str(error)) from None
    with store.engine.connect() as connection:
        return shown(connection, user, j) or {}


@router.post("/judgements/{judgement_id}/restore", summary="Restore a withdrawn judgement, unless it now contradicts")
def restore_judgement(request: Request, user: UserDep, judgement_id: SmallId) -> dict:
    store = store_of(request)
    with store.engine.connect() as connection:
        try:
            j = jm.get_judgement(connection, judgement_id)
        except jm.NotFound:
            j = None
        view = shown(connection, user, j) if j else None
    if view is None:
        raise Problem(404, "Not Found", f"no judgement #{judgement_id}")
    if j.agency != user.agency and not set(user.roles) & set(WITHDRAW_ROLES):
        raise Problem(403, "Forbidden", "only the judging agency or a supervisor may restore a judgement")
    try:
        with store.engine.begin() as connection:
            j = jm.restore(connection, judgement_id, user.name)
    except jm.JudgementConflict as error:
        raise _judgement_problem(error) from None
    except jm.JudgementError as error:
        raise Problem(409, "Conflict", str(error)) from None
    with store.engine.connect() as connection:
        return shown(connection, user, j) or {}


def wholly_visible(connection: Connection, user: User, ids: list[str]) -> set[str]:
    """The source entity ids among `ids` of which the user may see every statement."""
    s = tables.statements
    ids = sorted(set(ids))
    partly_hidden: set[str] = set()
    for i in range(0, len(ids), 500):
        query = (select(s.c.entity_id).distinct().where(s.c.entity_id.in_(ids[i:i + 500]))
                 .where(~visible_clause(user)))
        partly_hidden.update(connection.execute(query).scalars())
    return visible_sources(connection, user, ids) - partly_hidden


def sees_every_person(connection: Connection, user: User) -> bool:
    """Whether the user may see every Person statement held: only then may they see counts taken over all."""
    s = tables.statements
    return connection.execute(select(s.c.id).where(s.c.schema == "Person").where(~visible_clause(user))
                              .limit(1)).first() is None


def without_term_frequencies(pair: dict) -> dict:
    """A compared pair without what counts other records (how common the name is, how many hold the phone,
    how many companions they share), and so without the total and decision those adjust: the viewer gets the
    weights of the two records."""
    before = round(pair["prior"] + sum(c["weight"] for c in pair["comparisons"]), 2)
    counted = ("name_frequency", "adjustments", "context", "total", "decision")
    return {k: v for k, v in pair.items() if k not in counted} | dict(total_before_adjustments=before,
                                                                       adjustments_withheld=True)


def explained(connection: Connection, user: User, found: dict) -> dict:
    """An explanation as this user may see it: member pairs and shared identifiers only between records
    they may see in full (a comparison level says something of every value behind it), judgements as
    `shown`, the rest counted as withheld."""
    members = list(found["a_members"]) + list(found["b_members"])
    seen = visible_sources(connection, user, members)
    whole = wholly_visible(connection, user, members)
    counted = whole | disclosable(connection, set(members) - whole)  # what a withheld count may stand for
    out = dict(found)
    out["a_members"] = [m for m in found["a_members"] if m in seen]
    out["b_members"] = [m for m in found["b_members"] if m in seen]
    out["withheld_members"] = len((set(members) - seen) & counted)
    out["pairs"] = [p for p in found.get("pairs", []) if p["left"] in whole and p["right"] in whole]
    out["withheld_pairs"] = sum(1 for p in found.get("pairs", []) if p not in out["pairs"]
                                and p["left"] in counted and p["right"] in counted)
    if out["pairs"] and not sees_every_person(connection, user):
        out["pairs"] = [without_term_frequencies(p) for p in out["pairs"]]
    out["shared_keys"] = [k for k in found.get("shared_keys", []) if k["a"] in whole and k["b"] in whole]
    out["withheld_shared_keys"] = sum(1 for k in found.get("shared_keys", []) if k not in out["shared_keys"]
                                      and k["a"] in counted and k["b"] in counted)
    kinds = dict(connection.execute(select(tables.entities.c.id, tables.entities.c.schema)
                                    .where(tables.entities.c.id.in_(sorted(seen)))).all())
    out["schemas"] = sorted(set(kinds.values()))  # of the members shown, not of the hidden ones
    views = []
    for data in found.get("judgements", []):
        view = shown(connection, user, jm.get_judgement(connection, data["id"]))
        if view is not None:
            views.append(view)
    out["judgements"] = views
    return out


@router.get("/explain", summary="Why two records or entities were joined or kept apart: evidence and weights")
def explain_pair(request: Request, user: UserDep,
                 a: Annotated[str, Query(min_length=1, max_length=96)],
                 b: Annotated[str, Query(min_length=1, max_length=96)],
                 limit: Annotated[int, Query(ge=1, le=50)] = 5) -> dict:
    from tessera.resolve.explain import ExplainError, explain

    store = store_of(request)
    with store.engine.connect() as connection:
        hidden = [i for i in (a, b) if i not in visible_ids(connection, user, [a, b])]
    if hidden:
        record_audit(store, user, "explain", [], f"a={a}&b={b}", purpose="not found")
        raise Problem(404, "Not Found", f"{hidden[0]} is neither a source entity nor a canonical entity")
    try:
        found = explain(store, a, b, limit=limit)
    except ExplainError as error:
        raise Problem(404, "Not Found", str(error)) from None
    with store.engine.connect() as connection:
        out = explained(connection, user, found)
    record_audit(store, user, "explain", [a, b], f"a={a}&b={b}")
    return out


@router.get("/review", summary="Record pairs the resolver was least sure of, for analysts to judge")
def review(request: Request, user: UserDep, limit: LimitQuery = 50, offset: OffsetQuery = 0) -> dict:
    """Pairs whose match weight lay closest to the threshold first, without those an active judgement rules on,
    and only pairs whose two records the caller may see in full: to judge a pair one must see both records whole."""
    store = store_of(request)
    with store.engine.connect() as connection:
        items = review_queue(connection, limit, offset, lambda ids: wholly_visible(connection, user, ids))
    record_audit(store, user, "review", sorted({x for i in items for x in (i["a"], i["b"])}),
                 f"limit={limit}&offset={offset}")
    return dict(items=items, limit=limit, offset=offset)


def _stood_for(change: dict) -> dict[str, list[str]]:
    """Each id a change names -> the source entities it stood for in that change."""
    return {i: change["parts"].get(i) or [i] for i in [change["canonical_id"], *change["related"]]}


def visible_change(change: dict, seen: set[str], counted: set[str] = frozenset()) -> dict | None:
    """A change-feed event as a user who may see the source entities `seen` may see it, or None; an id they may
    not see is counted as withheld only if it stood for a source entity in `counted` (see `disclosable`)."""
    stood_for = _stood_for(change)
    named = {i for i, ms in stood_for.items() if seen & set(ms)}
    if not named:
        return None
    related = [r for r in change["related"] if r in named]
    shown_change = {k: v for k, v in change.items() if k != "parts"}
    countable = seen | set(counted)
    members = [m for m in stood_for[change["canonical_id"]] if m in countable]
    fresh = members if change["kind"] == "created" else [m for m in change["parts"].get(NEW, []) if m in countable]
    if change["kind"] in ("attached", "merged") and NEW not in change["parts"] and change["new_members"]:
        fresh = members[:min(change["new_members"], len(members))]  # rows written before NEW was recorded
    withheld = sum(1 for r in change["related"] if r not in named and counted & set(stood_for[r]))
    if change["kind"] in ("attached", "merged") and not (fresh or related or withheld):
        return None  # what joined is nothing this user may see or be told of
    return shown_change | dict(members=len(members), new_members=len(fresh),
                               canonical_id=change["canonical_id"] if change["canonical_id"] in named else None,
                               related=related, related_withheld=withheld)


@router.get("/changes", summary="The change feed of canonical entities (created, attached, merged, split)")
def changes(request: Request, user: UserDep,
            after: Annotated[int, Query(ge=0, le=2**63 - 1, description="the last change id already seen")] = 0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict:
    """Events after the cursor that touch an entity the caller may see; `next_after` is the cursor to send next
    (it moves past events the caller may not see, at most SCAN_PAGES pages of them a request)."""
    store = store_of(request)
    out: list[dict] = []
    cursor = after
    with store.engine.connect() as connection:
        for _ in range(SCAN_PAGES):
            if len(out) >= limit:
                break
            page = changes_since(connection, cursor, limit=limit)
            if not page:
                break
            ids = {m for ch in page for ms in _stood_for(ch).values() for m in ms}
            seen = visible_sources(connection, user, list(ids))
            counted = disclosable(connection, ids - seen)
            for change in page:
                cursor = change["id"]
                view = visible_change(change, seen, counted)
                if view is not None:
                    out.append(view)
                    if len(out) == limit:
                        break
    record_audit(store, user, "changes.read", sorted({c["canonical_id"] for c in out if c["canonical_id"]}),
                 f"after={after}")
    return dict(changes=out, next_after=cursor)
