"""Analysts' judgements (same, not same, split): stored, checked for conflicts, withdrawn, and turned into constraints.

A judgement names two records (or, for a split, one canonical entity). Either id may be a source entity
id or a canonical id; a canonical id stands for the source entities it had when the judgement was made,
and those member ids are stored with the judgement, so it keeps meaning the same records whatever later
resolution does to canonical ids. What the engine applies (`active_constraints`):

- `same A B`: must-links chaining every member of A and of B into one entity;
- `not-same A B`: cannot-links between every member of A and every member of B;
- `split E`: cannot-links between the parts of E as it was when split (by default every member is its
  own part; `parts` keeps named members together), i.e. no two parts may end up in one entity again.

A judgement that contradicts the active ones — a not-same (or split part) between records that active
same-judgements join, directly or through a chain of them — is refused, naming the judgement(s) it
contradicts. Withdrawing is a soft delete (deleted_at, deleted_by) and is reversed by `restore`, which is
checked for conflicts like a new judgement. Every write goes into the audit log in the same transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import combinations, product

from sqlalchemy import Connection, insert, select, update

from tessera.access import audit
from tessera.access.tables import audit_head
from tessera.resolve.tables import judgements
from tessera.store import tables

KINDS = ("same", "not-same", "split")


class JudgementError(ValueError):
    """A judgement that cannot be made as asked."""

    code = "invalid"


class NotFound(JudgementError):
    code = "not_found"


class JudgementConflict(JudgementError):
    """A judgement that contradicts active ones; `conflicting` holds their ids."""

    code = "conflict"

    def __init__(self, message: str, conflicting: list[int]):
        super().__init__(message)
        self.conflicting = conflicting


@dataclass
class Constraints:
    """What the engine must obey: must-link and cannot-link pairs of source entity ids."""

    same: list[tuple[str, str]] = field(default_factory=list)
    not_same: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.same or self.not_same)


@dataclass(frozen=True)
class Judgement:
    """One stored judgement."""

    id: int
    kind: str
    a: str
    b: str | None
    a_members: tuple[str, ...]
    b_members: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]
    reason: str
    user: str
    agency: str | None
    created_at: datetime
    deleted_at: datetime | None = None
    deleted_by: str | None = None

    @property
    def active(self) -> bool:
        return self.deleted_at is None

    def same_pairs(self) -> list[tuple[str, str]]:
        """Must-links: a chain through every member of both sides (empty unless kind is same)."""
        if self.kind != "same":
            return []
        members = list(dict.fromkeys(self.a_members + self.b_members))
        return [(members[0], m) for m in members[1:]]

    def not_same_pairs(self) -> list[tuple[str, str]]:
        """Cannot-links: across the two sides of a not-same, across the parts of a split."""
        if self.kind == "not-same":
            return [(x, y) for x, y in product(self.a_members, self.b_members)]
        if self.kind == "split":
            return [(x, y) for g1, g2 in combinations(self.groups, 2) for x, y in product(g1, g2)]
        return []

    def describe(self) -> str:
        target = f"{self.a} {self.b}" if self.b else self.a
        return f"#{self.id} {self.kind} {target} by {self.user} ({self.reason})"

    def as_dict(self) -> dict:
        return dict(id=self.id, kind=self.kind, a=self.a, b=self.b, a_members=list(self.a_members),
                    b_members=list(self.b_members), groups=[list(g) for g in self.groups], reason=self.reason,
                    user=self.user, agency=self.agency, created_at=_iso(self.created_at),
                    deleted_at=_iso(self.deleted_at), deleted_by=self.deleted_by, active=self.active)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _row(row) -> Judgement:
    return Judgement(
        id=int(row.id), kind=row.kind, a=row.a, b=row.b,
        a_members=tuple(json.loads(row.a_members)), b_members=tuple(json.loads(row.b_members or "[]")),
        groups=tuple(tuple(g) for g in json.loads(row.groups or "[]")), reason=row.reason, user=row.user_name,
        agency=row.agency, created_at=row.created_at, deleted_at=row.deleted_at, deleted_by=row.deleted_by)


def _take_write_lock(connection: Connection) -> None:
    """Serialise judgement writes (and take SQLite's write lock before reading): a no-op update of the
    audit head, the row every audited write locks anyway."""
    connection.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq))


def members_of(connection: Connection, ident: str) -> list[str]:
    """The source entity ids an id stands for: itself if it is a source entity, else its canonical members."""
    e = tables.entities
    if connection.execute(select(e.c.id).where(e.c.id == ident)).first() is not None:
        return [ident]
    members = sorted(connection.execute(select(e.c.id).where(e.c.canonical_id == ident)).scalars())
    if not members:
        raise NotFound(f"{ident} is neither a source entity nor a canonical entity")
    return members


def load_judgements(connection: Connection, include_withdrawn: bool = False, entity: str | None = None) -> list[Judgement]:
    """Judgements, oldest first; only active ones unless include_withdrawn; entity limits to those naming or
    covering that id."""
    query = select(judgements).order_by(judgements.c.id)
    if not include_withdrawn:
        query = query.where(judgements.c.deleted_at.is_(None))
    found = [_row(r) for r in connection.execute(query)]
    if entity:
        found = [j for j in found if entity in (j.a, j.b) or entity in j.a_members or entity in j.b_members]
    return found


def get_judgement(connection: Connection, judgement_id: int) -> Judgement:
    row = connection.execute(select(judgements).where(judgements.c.id == judgement_id)).first()
    if row is None:
        raise NotFound(f"no judgement #{judgement_id}")
    return _row(row)


# ---------------------------------------------------------------- conflicts

def _same_path(edges: dict[str, list[tuple[str, int]]], start: str, goal: str) -> list[int] | None:
    """Ids of the same-judgements on a shortest chain from start to goal, or None."""
    if start == goal:
        return []
    back: dict[str, tuple[str, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt, jid in edges.get(node, ()):
            if nxt in back:
                continue
            back[nxt] = (node, jid)
            if nxt == goal:
                path, cur = [], goal
                while back[cur] is not None:
                    cur, j = back[cur]
                    path.append(j)
                return list(dict.fromkeys(reversed(path)))
            queue.append(nxt)
    return None


def _components(edges: dict[str, list[tuple[str, int]]]) -> dict[str, str]:
    """Record -> a representative of the records that same-judgements tie it to."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    for x, links in edges.items():
        for y, _jid in links:
            rx, ry = find(x), find(y)
            if rx != ry:
                parent[rx] = ry
    return {x: find(x) for x in edges}


def find_conflict(active: list[Judgement], candidate: Judgement) -> tuple[str, list[int]] | None:
    """(message, conflicting judgement ids) if the candidate contradicts the active judgements, else None."""
    everything = [j for j in active if j.id != candidate.id] + [candidate]
    edges: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for j in everything:
        for x, y in j.same_pairs():
            edges[x].append((y, j.id))
            edges[y].append((x, j.id))
    by_id = {j.id: j for j in everything}
    # A new not-same/split: does any of its cannot-links join records that same-judgements tie together?
    # A new same: does any active cannot-link now fall inside one tied group?
    checks = [(candidate, pair) for pair in candidate.not_same_pairs()] if candidate.kind != "same" else [
        (j, pair) for j in everything if j.kind != "same" for pair in j.not_same_pairs()]
    if not edges:
        return None
    component = _components(edges)
    for owner, (x, y) in checks:
        if x not in component or component.get(y) != component[x]:
            continue
        path = _same_path(edges, x, y)
        if path is None:
            continue
        if candidate.kind == "same":
            chain = ", ".join(by_id[i].describe() for i in path if i != candidate.id)
            message = (f"contradicts judgement {owner.describe()}: {x} and {y} were judged not the same"
                       + (f", and this judgement would join them through {chain}" if chain else ""))
            return message, [owner.id] + [i for i in path if i != candidate.id]
        chain = ", ".join(by_id[i].describe() for i in path)
        return f"contradicts {chain}: {x} and {y} are judged the same", path
    return None


# ---------------------------------------------------------------- writes

def add_judgement(connection: Connection, kind: str, a: str, b: str | None, reason: str, user: str,
                  agency: str | None = None, parts: list[list[str]] | None = None) -> Judgement:
    """Check and store one judgement, with its audit entry, in the caller's transaction.

    Raises JudgementError (bad request), NotFound (unknown id) or JudgementConflict."""
    if kind not in KINDS:
        raise JudgementError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not reason or not reason.strip():
        raise JudgementError("a judgement needs a reason")
    _take_write_lock(connection)
    a_members = members_of(connection, a)
    b_members: list[str] = []
    groups: list[list[str]] = []
    if kind == "split":
        if b:
            raise JudgementError("split takes one canonical entity")
        if len(a_members) < 2:
            raise JudgementError(f"{a} has one member; there is nothing to split")
        groups = _split_groups(a, a_members, parts or [])
    else:
        if not b:
            raise JudgementError(f"{kind} takes two ids")
        b_members = members_of(connection, b)
        if kind == "same":
            e = tables.entities
            schemas = set(connection.execute(select(e.c.schema).distinct()
                                             .where(e.c.id.in_(sorted(set(a_members) | set(b_members))))).scalars())
            if len(schemas) > 1:
                raise JudgementError(f"{a} and {b} are of different kinds ({', '.join(sorted(schemas))}); "
                                     "only records of one kind can be the same")
        if kind == "not-same" and set(a_members) & set(b_members):
            raise JudgementError(f"{a} and {b} share source entities; a record cannot be judged not the same as "
                                 "itself (use split)")
    now = _now()
    candidate = Judgement(0, kind, a, b, tuple(a_members), tuple(b_members), tuple(tuple(g) for g in groups),
                          reason.strip(), user, agency, now)
    conflict = find_conflict(load_judgements(connection), candidate)
    if conflict:
        raise JudgementConflict(*conflict)
    result = connection.execute(insert(judgements).values(
        kind=kind, a=a, b=b, a_members=json.dumps(a_members), b_members=json.dumps(b_members) if b else None,
        groups=json.dumps(groups) if groups else None, reason=candidate.reason, user_name=user, agency=agency,
        created_at=now))
    jid = int(result.inserted_primary_key[0])
    audit.record(connection, user, f"judgement.{kind}", [a] + ([b] if b else []), query=f"judgement #{jid}",
                 purpose=candidate.reason, at=now)
    return get_judgement(connection, jid)


def _split_groups(entity: str, members: list[str], parts: list[list[str]]) -> list[list[str]]:
    """Parts of a split: each given part kept together, the rest one part; with no parts, every member alone."""
    if not parts:
        return [[m] for m in members]
    seen: set[str] = set()
    groups = []
    for part in parts:
        part = list(dict.fromkeys(part))
        stray = [m for m in part if m not in members]
        if stray:
            raise JudgementError(f"{', '.join(stray)} not a member of {entity}")
        if seen & set(part):
            raise JudgementError("a member is named in two parts")
        seen.update(part)
        groups.append(sorted(part))
    rest = [m for m in members if m not in seen]
    if rest:
        groups.append(rest)
    if len(groups) < 2:
        raise JudgementError("a split needs at least two parts")
    return groups


def withdraw(connection: Connection, judgement_id: int, user: str) -> Judgement:
    """Soft-delete a judgement (it stops applying at the next resolution); audited."""
    _take_write_lock(connection)
    j = get_judgement(connection, judgement_id)
    if not j.active:
        raise JudgementError(f"judgement #{judgement_id} was already withdrawn by {j.deleted_by}")
    now = _now()
    connection.execute(update(judgements).where(judgements.c.id == judgement_id)
                       .values(deleted_at=now, deleted_by=user))
    audit.record(connection, user, "judgement.withdraw", [j.a] + ([j.b] if j.b else []),
                 query=f"judgement #{judgement_id}", at=now)
    return get_judgement(connection, judgement_id)


def restore(connection: Connection, judgement_id: int, user: str) -> Judgement:
    """Undo a withdrawal, unless the judgement now contradicts active ones; audited."""
    _take_write_lock(connection)
    j = get_judgement(connection, judgement_id)
    if j.active:
        raise JudgementError(f"judgement #{judgement_id} is active")
    conflict = find_conflict(load_judgements(connection), j)
    if conflict:
        raise JudgementConflict(*conflict)
    connection.execute(update(judgements).where(judgements.c.id == judgement_id)
                       .values(deleted_at=None, deleted_by=None))
    audit.record(connection, user, "judgement.restore", [j.a] + ([j.b] if j.b else []),
                 query=f"judgement #{judgement_id}")
    return get_judgement(connection, judgement_id)


# ---------------------------------------------------------------- what the engine applies

def constraints_of(active: list[Judgement]) -> Constraints:
    same, not_same = set(), set()
    for j in active:
        same.update(tuple(sorted(p)) for p in j.same_pairs())
        not_same.update(tuple(sorted(p)) for p in j.not_same_pairs())
    return Constraints(sorted(same), sorted(not_same))


def active_constraints(store) -> Constraints:
    """Must-link and cannot-link source entity pairs from every active judgement (withdrawn ones excluded)."""
    with store.engine.connect() as connection:
        return constraints_of(load_judgements(connection))
