"""The review queue: stores the record pairs a resolution run was least sure of and lists them, most in doubt first."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, delete, func, select

from tessera.resolve.judgements import Judgement, load_judgements
from tessera.resolve.tables import review_pairs
from tessera.store import tables

BATCH = 1000  # queue rows read at a time while skipping judged pairs and pairs the viewer may not see
_COLUMNS = ("run_id", "a", "b", "weight", "threshold")


def record_review(connection: Connection, run_id: int, a: list[str], b: list[str], weight: list[float],
                  threshold: float, replace: bool) -> int:
    """Store a run's uncertain pairs in the caller's transaction; return how many were stored."""
    if not len(a) == len(b) == len(weight):
        raise ValueError(f"a, b and weight differ in length ({len(a)}, {len(b)}, {len(weight)})")
    pairs: dict[tuple[str, str], float] = {}
    for x, y, w in zip(a, b, weight):
        if x != y:
            pairs[(x, y) if x < y else (y, x)] = float(w)
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    if replace:  # a full run scored every pair: what an earlier run left is stale
        connection.execute(delete(review_pairs))
    elif pairs:  # a run over new records re-scored only these pairs
        connection.exec_driver_sql(f"DELETE FROM review_pairs WHERE a = {mark} AND b = {mark}", list(pairs))
    if pairs:
        # to the driver's executemany as tuples, as record_changes does: 20,000 rows in a fraction of a second
        rows = [(int(run_id), x, y, w, float(threshold)) for (x, y), w in pairs.items()]
        connection.exec_driver_sql(f"INSERT INTO review_pairs ({', '.join(_COLUMNS)}) "
                                   f"VALUES ({', '.join([mark] * len(_COLUMNS))})", rows)
    return len(pairs)


def review_queue(connection: Connection, limit: int = 50, offset: int = 0,
                 visible: Callable[[list[str]], set[str]] | None = None) -> list[dict]:
    """Stored pairs closest to their threshold first, without those active judgements rule on or (given
    `visible`, which returns the ids among those given that the viewer may see) with a record it leaves out."""
    ruled = _ruled_by(load_judgements(connection))
    r = review_pairs
    query = (select(r.c.id, r.c.a, r.c.b, r.c.weight, r.c.threshold)
             .order_by(func.abs(r.c.weight - r.c.threshold), r.c.id))
    found: list = []
    skipped = read = 0
    # Judgements and visibility are decided in Python, so the queue is read in batches until `limit` eligible
    # pairs follow the first `offset` eligible ones: a page never depends on pairs the viewer is not shown.
    while len(found) < limit:
        rows = connection.execute(query.limit(BATCH).offset(read)).all()
        read += len(rows)
        seen = visible(sorted({x for row in rows for x in (row.a, row.b)})) if visible and rows else None
        for row in rows:
            if ruled(row.a, row.b) or (seen is not None and not (row.a in seen and row.b in seen)):
                continue
            if skipped < offset:
                skipped += 1
                continue
            found.append(row)
            if len(found) == limit:
                break
        if len(rows) < BATCH:
            break
    return _items(connection, found)


def _ruled_by(judgements: list[Judgement]) -> Callable[[str, str], bool]:
    """Whether active judgements decide a pair: same-judgements tie records into groups (through chains of
    them too), and a not-same or split between two groups keeps every pair across them apart."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for j in judgements:
        for x, y in j.same_pairs():
            rx, ry = find(x), find(y)
            if rx != ry:
                parent[rx] = ry
    apart = {frozenset((find(x), find(y))) for j in judgements for x, y in j.not_same_pairs()}

    def ruled(x: str, y: str) -> bool:
        gx, gy = find(x), find(y)
        return gx == gy or frozenset((gx, gy)) in apart

    return ruled


def _items(connection: Connection, rows: list) -> list[dict]:
    """Queue rows as listed: weights, margin, the records' canonical ids and names, whether they are joined."""
    e, s = tables.entities, tables.statements
    ids = sorted({x for row in rows for x in (row.a, row.b)})
    canonical: dict[str, str | None] = {}
    names: dict[str, str] = {}
    for k in range(0, len(ids), 500):
        chunk = ids[k:k + 500]
        canonical.update(connection.execute(select(e.c.id, e.c.canonical_id).where(e.c.id.in_(chunk))).all())
        for eid, value in connection.execute(select(s.c.entity_id, s.c.value).where(s.c.entity_id.in_(chunk))
                                             .where(s.c.prop == "name").order_by(s.c.id)):
            names.setdefault(eid, value)
    items = []
    for row in rows:
        ca, cb = canonical.get(row.a), canonical.get(row.b)
        items.append(dict(a=row.a, b=row.b, weight=round(row.weight, 2), threshold=row.threshold,
                          margin=round(row.weight - row.threshold, 2), joined=ca is not None and ca == cb,
                          canonical_a=ca, canonical_b=cb, name_a=names.get(row.a), name_b=names.get(row.b)))
    return items
