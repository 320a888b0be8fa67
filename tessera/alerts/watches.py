"""Watchlists: a user watches an entity or its network; checks compare a snapshot and write alerts on change.

A watch keeps an internal snapshot (never shown): the source entities of the watched canonical entity and,
for a network watch, the canonical entities within `hops` links that the watcher may see. A check compares
the store with it: source entities from batches newer than the snapshot joined -> ``attached`` (at ingest,
also by exact identifier key before any resolution); older ones joined -> ``merged``; members now resolved
elsewhere -> ``split``; the visible neighbourhood changed -> ``network``. An alert names only entities, and
is written (and later shown) only if the watcher may see at least one of them.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from tessera.access.identity import NotFound, get_user
from tessera.access.policy import User
from tessera.alerts import feed
from tessera.alerts.tables import cursors, match_keys, watches
from tessera.store import tables

WATCH_KINDS = ("entity", "network")


class WatchError(ValueError):
    """A watch that cannot be made or found."""


def lock(connection: Connection) -> None:
    """Serialise alert work across processes: the first write of the transaction takes the lock."""
    result = connection.execute(update(cursors).where(cursors.c.name == "lock").values(value=cursors.c.value + 1))
    if result.rowcount == 0:
        connection.execute(insert(cursors).values(name="lock", value=1))


def _canon():
    e = tables.entities
    return func.coalesce(e.c.canonical_id, e.c.id)


def _group(connection: Connection, canonical_ids: set[str]) -> dict[str, tuple[str, int]]:
    """source entity id -> (canonical id, batch id) of every member of these canonical entities."""
    e = tables.entities
    out: dict[str, tuple[str, int]] = {}
    ids = sorted(canonical_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        query = select(e.c.id, _canon(), e.c.batch_id).where(or_(e.c.canonical_id.in_(chunk), e.c.id.in_(chunk)))
        for eid, cid, batch in connection.execute(query):
            if cid in canonical_ids:
                out[eid] = (cid, batch)
    return out


def _current(connection: Connection, members: list[str]) -> dict[str, str]:
    """source entity id -> its canonical id now."""
    e = tables.entities
    out: dict[str, str] = {}
    for i in range(0, len(members), 500):
        for eid, cid in connection.execute(select(e.c.id, _canon()).where(e.c.id.in_(members[i:i + 500]))):
            out[eid] = cid
    return out


def _max_batch(connection: Connection) -> int:
    return int(connection.execute(select(func.max(tables.batches.c.id))).scalar() or 0)


def network_of(store, user: User, canonical_id: str, hops: int) -> list[str]:
    """Canonical entities within `hops` links of one, over links resting on statements the user may see."""
    from tessera.graph.build import all_statements, build, statement_visibility
    from tessera.graph.index import EdgeFilter
    from tessera.graph.queries import neighbourhood

    ix = build(store)
    if canonical_id not in ix:
        return []
    flt = EdgeFilter(visible=statement_visibility(store, user, all_statements(ix)))
    nb = neighbourhood(ix, canonical_id, hops, flt, with_types=False)
    return sorted(n.id for n in nb.nodes if n.id != canonical_id)


def add_watch(store, user_name: str, target: str, kind: str = "entity", hops: int = 1,
              label: str | None = None) -> dict:
    """Watch an entity (source or canonical id) the user may see, or the network around it."""
    if kind not in WATCH_KINDS:
        raise WatchError(f"watch kind {kind!r}: expected {' or '.join(WATCH_KINDS)}")
    if not 1 <= hops <= 3:
        raise WatchError("hops must be 1, 2 or 3")
    e = tables.entities
    with store.engine.connect() as connection:
        user = get_user(connection, user_name)
        row = connection.execute(select(_canon()).where(or_(e.c.id == target, e.c.canonical_id == target))
                                 .limit(1)).first()
        if row is None or not feed.visible_ids(connection, user, [target]):
            raise NotFound(f"no entity {target!r}")
    canonical = row[0]
    network = network_of(store, user, canonical, hops) if kind == "network" else []
    with store.engine.begin() as connection:
        lock(connection)
        members = _group(connection, {canonical})
        state = dict(canonical=canonical, members=sorted(members), announced=[], last_batch=_max_batch(connection),
                     network=network)
        now = datetime.now(timezone.utc)
        watch_id = connection.execute(insert(watches).values(
            user_name=user.name, kind=kind, target=target, hops=hops, label=label, state=json.dumps(state),
            created_at=now, checked_at=now)).inserted_primary_key[0]
    return dict(id=int(watch_id), user=user.name, kind=kind, target=target, hops=hops, label=label)


def list_watches(connection: Connection, user_name: str | None = None) -> list[dict]:
    query = select(watches.c.id, watches.c.user_name, watches.c.kind, watches.c.target, watches.c.hops,
                   watches.c.label, watches.c.created_at).order_by(watches.c.id)
    if user_name:
        query = query.where(watches.c.user_name == user_name)
    return [dict(id=r.id, user=r.user_name, kind=r.kind, target=r.target, hops=r.hops, label=r.label,
                 created_at=r.created_at) for r in connection.execute(query)]


def remove_watch(connection: Connection, user_name: str, watch_id: int) -> None:
    result = connection.execute(delete(watches).where(watches.c.id == watch_id)
                                .where(watches.c.user_name == user_name))
    if result.rowcount == 0:
        raise NotFound(f"{user_name} has no watch {watch_id}")


def _key_attached(connection: Connection, members: list[str], batch_id: int) -> set[str]:
    """Entities of a batch sharing a keyed identifier or name+birth-date hash with any member."""
    mine, other = aliased(match_keys), aliased(match_keys)
    out: set[str] = set()
    for i in range(0, len(members), 500):
        query = (select(other.c.entity_id).distinct()
                 .select_from(mine.join(other, other.c.key_hash == mine.c.key_hash))
                 .where(mine.c.entity_id.in_(members[i:i + 500])).where(other.c.batch_id == batch_id))
        out |= {r[0] for r in connection.execute(query)}
    return out - set(members)


def _alert(connection: Connection, watch, user: User | None, kind: str, entities: set[str],
           detail: dict | None = None) -> int | None:
    """Write an alert if the watcher may see any of its entities."""
    if not entities or user is None:
        return None
    if not feed.visible_ids(connection, user, sorted(entities)):
        return None
    return feed.create(connection, watch.user_name, watch.id, kind, watch.target, sorted(entities), detail)


def check_entity(connection: Connection, watch, user: User | None, batch_id: int | None = None) -> list[int]:
    """Compare one watch's snapshot with the store; write alerts; save the new snapshot."""
    state = json.loads(watch.state)
    members: list[str] = state["members"]
    announced = set(state.get("announced", []))
    last_batch = int(state.get("last_batch", 0))
    made: list[int] = []
    now_canon = _current(connection, members)
    counts = Counter(now_canon.values())
    if not counts:
        return made
    primary = state["canonical"] if state["canonical"] in counts else counts.most_common(1)[0][0]
    group = _group(connection, {primary})
    left = {m for m in members if now_canon.get(m) != primary}
    if left:
        made.append(_alert(connection, watch, user, "split", left,
                           dict(parts=len(counts), now=sorted(set(now_canon[m] for m in left if m in now_canon)))))
    joined = set(group) - set(members) - announced
    fresh = {m for m in joined if group[m][1] > last_batch}
    if fresh:
        made.append(_alert(connection, watch, user, "attached", fresh, dict(by="resolution")))
    if joined - fresh:
        made.append(_alert(connection, watch, user, "merged", joined - fresh, dict(by="resolution")))
    if batch_id is not None:
        by_key = _key_attached(connection, sorted(group), batch_id) - set(group) - announced
        if by_key:
            made.append(_alert(connection, watch, user, "attached", by_key, dict(by="identifier", batch=batch_id)))
            announced |= by_key
    announced -= set(group)
    state.update(canonical=primary, members=sorted(group), announced=sorted(announced),
                 last_batch=max([last_batch] + [b for _c, b in group.values()] + ([batch_id] if batch_id else [])))
    connection.execute(update(watches).where(watches.c.id == watch.id).values(
        state=json.dumps(state), checked_at=datetime.now(timezone.utc)))
    return [m for m in made if m is not None]


def check_network(store, connection: Connection, watch, user: User | None) -> list[int]:
    """Compare the visible neighbourhood of a network watch with its snapshot."""
    if user is None:
        return []
    state = json.loads(watch.state)
    now = set(network_of(store, user, state["canonical"], watch.hops))
    before = set(state.get("network", []))
    made = []
    if now != before:
        joined, left = sorted(now - before), sorted(before - now)
        made.append(_alert(connection, watch, user, "network", set(joined) | set(left),
                           dict(joined=joined, left=left)))
        state["network"] = sorted(now)
        connection.execute(update(watches).where(watches.c.id == watch.id).values(
            state=json.dumps(state), checked_at=datetime.now(timezone.utc)))
    return [m for m in made if m is not None]


def _watcher(connection: Connection, name: str, cache: dict) -> User | None:
    if name not in cache:
        try:
            user = get_user(connection, name)
            cache[name] = None if user.disabled else user
        except NotFound:
            cache[name] = None
    return cache[name]


def check_all(store, batch_id: int | None = None, networks: bool = True) -> list[int]:
    """Check every watch (entity watches against `batch_id` too); returns the ids of new alerts."""
    made: list[int] = []
    users: dict[str, User | None] = {}
    with store.engine.begin() as connection:
        lock(connection)
        rows = list(connection.execute(select(watches).order_by(watches.c.id)))
        for watch in rows:
            user = _watcher(connection, watch.user_name, users)
            made += check_entity(connection, watch, user, batch_id)
        if networks:
            for watch in rows:
                if watch.kind == "network":
                    fresh = connection.execute(select(watches).where(watches.c.id == watch.id)).first()
                    made += check_network(store, connection, fresh, _watcher(connection, watch.user_name, users))
    return made
