"""The change feed of canonical entities: what a resolution run created, grew, merged and split, for alerts.

`record_changes` compares each source entity's canonical id before and after a run (pass every entity
the run resolved, or at least every member of every cluster it touched) and writes one row per event:

- created:  a canonical entity whose members were all unresolved before (new records only);
- attached: an existing canonical entity that new (never resolved) records joined;
- merged:   a canonical entity whose members came from two or more earlier ones (`related`: those ids);
- split:    an earlier canonical entity whose members now lie in two or more (`canonical_id` is the old
            id, `related` the new ones).

A singleton's canonical id is its own source id; a singleton that stays one and is not new makes no row.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timezone

from sqlalchemy import Connection, insert, select

from tessera.resolve.tables import entity_changes, resolve_runs

KINDS = ("created", "attached", "merged", "split")


def compute_changes(before: dict[str, str | None], after: dict[str, str]) -> list[dict]:
    """The events between two assignments of canonical ids (pure; no storage)."""
    new_groups: dict[str, list[str]] = defaultdict(list)
    for eid, cid in after.items():
        new_groups[cid].append(eid)
    old_to_new: dict[str, set[str]] = defaultdict(set)
    for eid, cid in after.items():
        old = before.get(eid)
        if old is not None:
            old_to_new[old].add(cid)
    old_sizes: dict[str, int] = defaultdict(int)
    for old in before.values():
        if old is not None:
            old_sizes[old] += 1
    events = []
    for cid in sorted(new_groups):
        members = new_groups[cid]
        olds = {before.get(e) for e in members}
        fresh = sum(1 for e in members if before.get(e) is None)
        earlier = sorted(o for o in olds if o is not None)
        if not earlier:
            events.append(dict(kind="created", canonical_id=cid, related=[], members=len(members), new_members=fresh))
        elif len(earlier) > 1:
            events.append(dict(kind="merged", canonical_id=cid, related=[o for o in earlier if o != cid],
                               members=len(members), new_members=fresh))
        elif fresh:
            events.append(dict(kind="attached", canonical_id=cid, related=[o for o in earlier if o != cid],
                               members=len(members), new_members=fresh))
    for old in sorted(old_to_new):
        news = old_to_new[old]
        if len(news) > 1:
            events.append(dict(kind="split", canonical_id=old, related=sorted(news),
                               members=old_sizes[old], new_members=0))
    return events


def record_changes(connection: Connection, before: dict[str, str | None], after: dict[str, str],
                   at: datetime | None = None) -> dict:
    """Write a resolution run and its change-feed rows in the caller's transaction; return the run id and
    counts per kind."""
    at = at or datetime.now(timezone.utc)
    events = compute_changes(before, after)
    counts = {k: 0 for k in KINDS}
    for ev in events:
        counts[ev["kind"]] += 1
    run_id = int(connection.execute(insert(resolve_runs).values(at=at, counts=json.dumps(counts)))
                 .inserted_primary_key[0])
    rows = [dict(run_id=run_id, at=at, kind=ev["kind"], canonical_id=ev["canonical_id"],
                 related=json.dumps(ev["related"]), members=ev["members"], new_members=ev["new_members"])
            for ev in events]
    for k in range(0, len(rows), 20_000):
        connection.execute(insert(entity_changes), rows[k:k + 20_000])
    return dict(run_id=run_id, **counts)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def changes_since(connection: Connection, after_id: int = 0, limit: int | None = None,
                  kinds: tuple[str, ...] | None = None) -> list[dict]:
    """Change-feed rows with id > after_id, oldest first (an alerts consumer keeps the last id it saw)."""
    c = entity_changes
    query = select(c).where(c.c.id > after_id).order_by(c.c.id)
    if kinds:
        query = query.where(c.c.kind.in_(kinds))
    if limit:
        query = query.limit(limit)
    return [dict(id=int(r.id), run_id=int(r.run_id), at=_iso(r.at), kind=r.kind, canonical_id=r.canonical_id,
                 related=json.loads(r.related), members=int(r.members), new_members=int(r.new_members))
            for r in connection.execute(query)]
