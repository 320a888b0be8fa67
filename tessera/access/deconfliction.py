"""Deconfliction: when a batch, a resolution, a blind submission or a search meets another agency's subject, notices.

Each owner's hit policy decides who hears: ``open`` -- the submitter learns "agency X holds this
subject; contact ..." with an opaque reference, and the owner learns who submitted on its subject;
``silent`` -- only the owner learns; ``none`` -- nobody. A notice carries no content: agency codes,
the owner's contact point, an opaque reference (HMAC of the subject's canonical id, the same reference
search pointers carry) and the recipient's *own* ids only.

At ingest the batch's entities are met with everyone else's by keyed hashes of exact identifier keys
and name+birth-date keys (``tessera.access.blind``), so notices come at once, before any resolution;
after resolution, canonical groups give the rest (``deconflict_canonical``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import aliased

from tessera.access.blind import ensure_index, federation_key
from tessera.access.policy import User
from tessera.alerts.tables import match_keys, notices
from tessera.store import tables

log = logging.getLogger(__name__)

POINTER_KEY_ENV = "TESSERA_POINTER_KEY"  # the key search pointers use (tessera.api.search)
KINDS = ("hit", "seen", "searched")


@dataclass(frozen=True)
class Pair:
    """A submitter's record that met an owner's subject."""

    submitter: str
    mine: str | None          # the submitter's own source entity (or blind row reference)
    batch_id: int | None      # the submitter's batch
    owner: str
    theirs: str               # the owner's source entity
    subject: str              # the owner's entity's canonical id (its own id before resolution)


def reference(subject: str) -> str:
    """The opaque reference of a subject: HMAC-SHA256 of its canonical id (as in search pointers)."""
    key = os.environ.get(POINTER_KEY_ENV, "tessera-pointer").encode("utf-8")
    return hmac.new(key, subject.encode("utf-8"), hashlib.sha256).hexdigest()


def _policies(connection: Connection) -> dict[str, tuple[str, str | None]]:
    a = tables.agencies
    return {code: (policy or "open", contact) for code, policy, contact in
            connection.execute(select(a.c.code, a.c.hit_policy, a.c.contact))}


def _insert_new(connection: Connection, rows: list[dict]) -> int:
    """Insert notices whose dedupe key is new; returns how many were new."""
    if not rows:
        return 0
    name = connection.dialect.name
    if name in ("sqlite", "postgresql"):
        if name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        count = 0
        for i in range(0, len(rows), 1000):
            statement = (dialect_insert(notices).on_conflict_do_nothing(index_elements=["dedupe"])
                         .returning(notices.c.id))
            count += len(connection.execute(statement, rows[i:i + 1000]).all())
        return count
    known = {d for (d,) in connection.execute(select(notices.c.dedupe)
                                              .where(notices.c.dedupe.in_([r["dedupe"] for r in rows])))}
    fresh = [r for r in rows if r["dedupe"] not in known]
    if fresh:
        connection.execute(insert(notices), fresh)
    return len(fresh)


def _dedupe(*parts) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def issue_notices(connection: Connection, pairs: Iterable[Pair], trigger: str, scope: str) -> int:
    """Notices for pairs, one per (owner, subject) and recipient within a scope (a batch, a submission)."""
    groups: dict[tuple[str, str, str], list[Pair]] = defaultdict(list)
    for pair in pairs:
        if pair.submitter != pair.owner:
            groups[(pair.submitter, pair.owner, pair.subject)].append(pair)
    if not groups:
        return 0
    policies = _policies(connection)
    now = datetime.now(timezone.utc)
    rows = []
    for (submitter, owner, subject), members in sorted(groups.items()):
        policy, contact = policies.get(owner, ("open", None))
        if policy == "none":
            continue
        ref = reference(subject)
        mine = min((p.mine for p in members if p.mine), default=None)
        theirs = min(p.theirs for p in members)
        batch = next((p.batch_id for p in members if p.batch_id is not None), None)
        if policy == "open":
            rows.append(dict(created_at=now, recipient=submitter, kind="hit", counterpart=owner, contact=contact,
                             reference=ref, own_entity=mine, subject=None, trigger=trigger, batch_id=batch,
                             dedupe=_dedupe("hit", submitter, owner, scope, subject)))
        rows.append(dict(created_at=now, recipient=owner, kind="seen", counterpart=submitter, contact=None,
                         reference=ref, own_entity=theirs, subject=subject, trigger=trigger, batch_id=None,
                         dedupe=_dedupe("seen", owner, submitter, scope, subject)))
    return _insert_new(connection, rows)


def batch_pairs(connection: Connection, batch_id: int) -> list[Pair]:
    """Pairs of a batch's entities with other agencies' earlier entities: by keyed hash and by canonical id."""
    mine, other = aliased(match_keys), aliased(match_keys)
    e, e2 = tables.entities, aliased(tables.entities)
    out: set[Pair] = set()
    query = (select(mine.c.entity_id, mine.c.agency, other.c.agency, other.c.entity_id,
                    func.coalesce(e.c.canonical_id, e.c.id))
             .select_from(mine.join(other, other.c.key_hash == mine.c.key_hash)
                          .join(e, e.c.id == other.c.entity_id))
             .where(mine.c.batch_id == batch_id).where(other.c.batch_id < batch_id)
             .where(other.c.agency != mine.c.agency))
    for eid, submitter, owner, theirs, subject in connection.execute(query):
        out.add(Pair(submitter, eid, batch_id, owner, theirs, subject))
    query = (select(e.c.id, e.c.agency, e2.c.agency, e2.c.id, e2.c.canonical_id)
             .select_from(e.join(e2, e2.c.canonical_id == e.c.canonical_id))
             .where(e.c.batch_id == batch_id).where(e.c.canonical_id.is_not(None))
             .where(e2.c.batch_id < batch_id).where(e2.c.agency != e.c.agency))
    for eid, submitter, owner, theirs, subject in connection.execute(query):
        out.add(Pair(submitter, eid, batch_id, owner, theirs, subject))
    return sorted(out, key=lambda p: (p.owner, p.subject, p.theirs, p.mine or ""))


def deconflict_batch(store, batch_id: int, key: bytes | None = None) -> int:
    """Index a landed batch's keyed hashes and issue its notices; returns how many notices were new."""
    key = key or federation_key()
    with store.engine.begin() as connection:
        ensure_index(connection, key)
        return issue_notices(connection, batch_pairs(connection, batch_id), trigger="ingest",
                             scope=f"batch:{batch_id}")


def after_batch(store, batch_id: int) -> int:
    """The ingest hook: deconflict a batch; a failure is logged, never raised (the batch has landed)."""
    try:
        return deconflict_batch(store, batch_id)
    except Exception:  # noqa: BLE001 - notices must never fail an ingest
        log.exception("deconfliction of batch %s failed", batch_id)
        return 0


def deconflict_canonical(store, canonical_ids: Iterable[str] | None = None) -> int:
    """Notices for canonical groups that resolution formed across agencies (all groups, or those named).

    In a group, each entity's batch meets the other agencies' entities that came in earlier batches.
    """
    e = tables.entities
    query = select(e.c.id, e.c.agency, e.c.batch_id, e.c.canonical_id).where(e.c.canonical_id.is_not(None))
    ids = sorted(set(canonical_ids)) if canonical_ids is not None else None
    made = 0
    with store.engine.begin() as connection:
        rows = []
        if ids is None:
            rows = list(connection.execute(query.order_by(e.c.canonical_id)))
        else:
            for i in range(0, len(ids), 500):
                rows += list(connection.execute(query.where(e.c.canonical_id.in_(ids[i:i + 500]))))
        groups: dict[str, list] = defaultdict(list)
        for row in rows:
            groups[row.canonical_id].append(row)
        by_batch: dict[int, list[Pair]] = defaultdict(list)
        for cid, members in groups.items():
            if len({m.agency for m in members}) < 2:
                continue
            for x in members:
                for y in members:
                    if y.agency != x.agency and y.batch_id < x.batch_id:
                        by_batch[x.batch_id].append(Pair(x.agency, x.id, x.batch_id, y.agency, y.id, cid))
        for batch_id, pairs in sorted(by_batch.items()):
            made += issue_notices(connection, pairs, trigger="resolution", scope=f"batch:{batch_id}")
    return made


def searched(engine, user: User, owner: str, policy: str | None, subject: str) -> int:
    """Tell an owner (open or silent policy) that a user of another agency searched for its subject.

    Written in its own transaction on `engine`, so a search on a read-only connection can call it.
    """
    if owner == user.agency or (policy or "open") == "none":
        return 0
    try:
        now = datetime.now(timezone.utc)
        with engine.begin() as connection:
            return _insert_new(connection, [dict(
                created_at=now, recipient=owner, kind="searched", counterpart=user.agency, contact=None,
                reference=reference(subject), own_entity=None, subject=subject, trigger="search", batch_id=None,
                dedupe=_dedupe("searched", owner, user.agency, user.name, subject, now.isoformat()))])
    except Exception:  # noqa: BLE001 - telling the owner must not break the search itself
        log.exception("search notice to %s failed", owner)
        return 0


# --- reading notices ---------------------------------------------------------------------------------

def message(row) -> str:
    get = row.get if isinstance(row, dict) else (lambda k: getattr(row, k))
    if get("kind") == "hit":
        contact = get("contact") or "its registered contact point"
        return f"{get('counterpart')} holds this subject; contact {contact}; reference {get('reference')}"
    if get("kind") == "seen":
        return f"{get('counterpart')} submitted a record on your subject; reference {get('reference')}"
    return f"{get('counterpart')} searched for your subject; reference {get('reference')}"


def list_notices(connection: Connection, agency: str, after_id: int = 0, limit: int = 100,
                 kind: str | None = None) -> list[dict]:
    """Notices to one agency, oldest first after `after_id`, each with its message."""
    n = notices
    query = (select(n.c.id, n.c.created_at, n.c.kind, n.c.counterpart, n.c.contact, n.c.reference, n.c.own_entity,
                    n.c.subject, n.c.trigger, n.c.batch_id)
             .where(n.c.recipient == agency.strip().upper()).where(n.c.id > after_id).order_by(n.c.id).limit(limit))
    if kind:
        query = query.where(n.c.kind == kind)
    out = []
    for row in connection.execute(query):
        item = dict(row._mapping)
        if item["kind"] != "hit":
            item.pop("contact")
        item["message"] = message(item)
        out.append(item)
    return out
