"""Sightings: who was seen at which event, when and where; group context: two records of people seen at events
alongside the same, already resolved, people."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator

import numpy as np
from sqlalchemy import func, select

from tessera.resolve import compare
from tessera.store import tables
from tessera.store.store import stream_batches

# Properties that name the people present at an event (FollowTheMoney's Event.involved; a payment's payer and
# beneficiary, each seen on its date), and that date it.
EVENT_LINKS = (("Event", "involved"), ("Payment", "payer"), ("Payment", "beneficiary"))
EVENT_DATES = ("date", "startDate", "endDate")


CHUNK = 5_000  # ids per lookup by a list of ids (a query takes 32,766 to 250,000 parameters)
# Where an event took place, by its country: in the home country (the United Kingdom, whose agencies share this
# picture; FollowTheMoney's normalised country code) or abroad; an event at home that lists at least ARRIVAL_PEOPLE
# people is an arrival (a small boat carries 30 to 70 people, a police stop a few).
HOME_COUNTRY = "gb"
ARRIVAL_PEOPLE = 10
ARRIVAL, AT_HOME, ABROAD, PLACE_UNKNOWN = 2, 1, 0, -1


def event_links(store, naming: list[str] | None = None) -> Iterator[list[tuple[str, str]]]:
    """(event id, id of a person seen there) for every event link in the store, or for those naming `naming`
    (by index, CHUNK ids a query), in batches."""
    s = tables.statements
    with store.engine.connect() as conn:
        for schema, prop in EVENT_LINKS:
            query = select(s.c.entity_id, s.c.value).where(
                s.c.schema == schema, s.c.prop == prop, s.c.prop_type == "entity")
            if naming is None:
                yield from stream_batches(conn, query)
            else:
                for k in range(0, len(naming), CHUNK):
                    yield conn.execute(query.where(s.c.value.in_(naming[k:k + CHUNK]))).all()


def event_members(links: Iterable[list[tuple[str, str]]], index: dict[str, int], names: list[str] | None = None
                  ) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """(record -> events it was seen at, event -> records seen there), as positions in `index`, from batches of
    event_links; `names`, if given, receives each event's id in that numbering."""
    members: dict[str, list[int]] = defaultdict(list)
    for batch in links:
        for event, person in batch:
            r = index.get(person)
            if r is not None:
                members[event].append(r)
    event_of: dict[int, list[int]] = defaultdict(list)
    by_event: dict[int, list[int]] = {}
    if names is not None:
        names.extend(members)
    for k, recs in enumerate(members.values()):
        recs = sorted(set(recs))
        by_event[k] = recs
        for r in recs:
            event_of[r].append(k)
    return dict(event_of), by_event


def payment_parties(store, index: dict[str, int]) -> np.ndarray:
    """(payer, beneficiary) positions in `index` of every payment that names both, as an (n, 2) array."""
    s = tables.statements
    query = select(s.c.entity_id, s.c.prop, s.c.value).where(
        s.c.schema == "Payment", s.c.prop.in_(("payer", "beneficiary")), s.c.prop_type == "entity")
    parties: dict[str, dict[str, int]] = defaultdict(dict)
    with store.engine.connect() as conn:
        for batch in stream_batches(conn, query):
            for payment, prop, person in batch:
                r = index.get(person)
                if r is not None:
                    parties[payment][prop] = r
    pairs = [(p["payer"], p["beneficiary"]) for p in parties.values() if len(p) == 2]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def event_days(store, events: list[str] | None = None) -> dict[str, tuple[int, int, int]]:
    """Event id -> (first, last) day number (date.toordinal) of its dates, and where it took place (ARRIVAL,
    AT_HOME, ABROAD or PLACE_UNKNOWN: by its country and how many people it lists), of every event or of
    `events`."""
    s = tables.statements
    query = select(s.c.entity_id, s.c.prop, s.c.value).where(
        s.c.schema.in_([schema for schema, _p in EVENT_LINKS]), s.c.prop.in_(EVENT_DATES + ("country",)))
    spans: dict[str, tuple[int, int]] = {}
    where: dict[str, int] = {}
    with store.engine.connect() as conn:
        if events is None:
            batches = stream_batches(conn, query)
        else:
            batches = (conn.execute(query.where(s.c.entity_id.in_(events[k:k + CHUNK]))).all()
                       for k in range(0, len(events), CHUNK))
        for batch in batches:
            for event, prop, value in batch:
                if prop == "country":
                    where[event] = AT_HOME if value == HOME_COUNTRY else ABROAD
                    continue
                day = _day(value)
                if day is not None:
                    first, last = spans.get(event, (day, day))
                    spans[event] = (min(first, day), max(last, day))
        home = [event for event, place in where.items() if place == AT_HOME]
        involved = select(s.c.entity_id).where(s.c.schema == "Event", s.c.prop == "involved").group_by(
            s.c.entity_id).having(func.count(s.c.value.distinct()) >= ARRIVAL_PEOPLE)
        for k in range(0, len(home), CHUNK):
            where.update((event, ARRIVAL) for event in conn.execute(
                involved.where(s.c.entity_id.in_(home[k:k + CHUNK]))).scalars())
    return {event: (first, last, where.get(event, PLACE_UNKNOWN)) for event, (first, last) in spans.items()}


def _day(value: str) -> int | None:
    """The day number of a normalised date (2024-03-01, 2024-03, 2024, or with a time after it), else None."""
    parts = value[:10].split("-")
    try:
        return dt.date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1,
                       int(parts[2]) if len(parts) > 2 else 1).toordinal()
    except (ValueError, IndexError):
        return None


def seen_spans(event_of: dict[int, list[int]], event_span: list[tuple[int, int, int] | None], rows: np.ndarray
               ) -> np.ndarray:
    """Per record at `rows` (positions in event_of's numbering): the first and last day it was seen at a dated
    event, the first day it was seen at an arrival, the last day it was seen abroad, and the first and last day
    it was seen at home other than at an arrival (event_days' places); -1 where none. A (compare.SPAN_ROWS,
    len(rows)) array, PersonTable.take_spans'."""
    rec = np.fromiter((r for r, evs in event_of.items() for _ in evs), dtype=np.int64)
    ev = np.fromiter((e for evs in event_of.values() for e in evs), dtype=np.int64, count=len(rec))
    lo, hi, place = (np.fromiter((span[k] if span else -1 for span in event_span), dtype=np.int64,
                                 count=len(event_span)) for k in range(3))
    position = np.full(max(int(rec.max(initial=-1)), int(rows.max(initial=-1))) + 1, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    k = position[rec]
    ok = (k >= 0) & (lo[ev] >= 0)
    out = np.full((compare.SPAN_ROWS, len(rows)), -1, dtype=np.int64)
    for row, where in ((0, ok), (2, ok & (place[ev] == ARRIVAL)), (4, ok & (place[ev] == AT_HOME))):
        first = np.full(len(rows), np.iinfo(np.int32).max, dtype=np.int64)
        np.minimum.at(first, k[where], lo[ev[where]])
        out[row] = np.where(first < np.iinfo(np.int32).max, first, -1)
    for row, where in ((1, ok), (3, ok & (place[ev] == ABROAD)), (5, ok & (place[ev] == AT_HOME))):
        np.maximum.at(out[row], k[where], hi[ev[where]])
    return out.astype(np.int32)


class Sightings:
    """Who was seen at which event, and when: one read of every event's people and dates."""

    def __init__(self, store, index: dict[str, int]):
        names: list[str] = []
        self.event_of, self.by_event = event_members(event_links(store), index, names)
        days = event_days(store)
        self.event_span = [days.get(name) for name in names]
        self.payments = payment_parties(store, index)

    def spans(self, rows: np.ndarray) -> np.ndarray:
        return seen_spans(self.event_of, self.event_span, rows)

    def paid(self, rows: np.ndarray) -> np.ndarray:
        """Whether each record at `rows` was paid (a payment's beneficiary)."""
        return np.isin(rows, self.payments[:, 1])


def paid_records(sightings: Sightings | None, rows: np.ndarray, cfg: dict | None) -> np.ndarray | None:
    """Whether each record at `rows` was paid, when the group context weighs payments; else None."""
    return sightings.paid(rows) if cfg and cfg.get("payments") and sightings is not None else None


def both_paid(paid: np.ndarray | None, i: np.ndarray, j: np.ndarray) -> np.ndarray | None:
    """Per pair of records (i, j), whether both were paid (`paid` from paid_records; None stays None)."""
    return None if paid is None else paid[i] & paid[j]


def seen_spans_of(store, ids: list[str]) -> np.ndarray:
    """seen_spans of a few records, `ids`: only the event links naming them are read."""
    names: list[str] = []
    event_of, _by_event = event_members(event_links(store, ids), {eid: k for k, eid in enumerate(ids)}, names)
    days = event_days(store, names)
    return seen_spans(event_of, [days.get(name) for name in names], np.arange(len(ids)))


class GroupContext:
    """Who was seen with whom, read through the clusters as they stand: the people (cluster roots) sharing an
    event with a record, itself excluded. Events of more than max_event people (a port's whole day, a festival)
    say nothing of a group and are left out. `payments` (payment_parties) tie together the people who were paid."""

    def __init__(self, event_of: dict[int, list[int]], by_event: dict[int, list[int]], max_event: int,
                 payments: np.ndarray | None = None):
        self.payments = np.zeros((0, 2), dtype=np.int64) if payments is None else payments
        self.by_event = {e: recs for e, recs in by_event.items() if len(recs) <= max_event}
        events = {r: {e for e in evs if e in self.by_event} for r, evs in event_of.items()}
        self.event_of: dict[int, set[int]] = {r: evs for r, evs in events.items() if evs}

    def incidence(self, n: int):
        """Records (positions of n) by the events they were seen at, as a sparse 0/1 matrix."""
        from scipy.sparse import csr_matrix

        rows = np.fromiter((r for r, evs in self.event_of.items() for _ in evs), dtype=np.int64)
        cols = np.fromiter((e for evs in self.event_of.values() for e in evs), dtype=np.int64)
        return csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)),
                          shape=(n, max(self.by_event, default=-1) + 1))

    @staticmethod
    def present(seen_at, roots: np.ndarray):
        """Events by the clusters (given as each position's root) of the records seen there."""
        from scipy.sparse import csr_matrix

        n = len(roots)
        return seen_at.T @ csr_matrix((np.ones(n, dtype=np.int32), (np.arange(n), roots)), shape=(n, n))

    def shared_many(self, i: np.ndarray, j: np.ndarray, roots: np.ndarray, seen_at=None, present=None
                    ) -> np.ndarray:
        """`shared` for many pairs at once, the clusters given as each position's root: with met_r the clusters
        seen at r's events (r's own included), |met_i & met_j| less the two records' own clusters -- sparse
        products, not a Python set per record. seen_at and present (incidence, GroupContext.present) may be
        passed in when the clusters have not changed since."""
        seen_at = self.incidence(len(roots)) if seen_at is None else seen_at
        out = np.zeros(len(i), dtype=np.int64)
        seen = np.diff(seen_at.indptr) > 0
        both_seen = np.flatnonzero(seen[i] & seen[j])  # the products only for pairs that can share anyone
        if not len(both_seen):
            return out
        i, j = i[both_seen], j[both_seen]
        present = self.present(seen_at, roots) if present is None else present
        a, b = seen_at[i] @ present, seen_at[j] @ present  # only these pairs' records: memory bounded by them
        common = a.multiply(b).getnnz(axis=1).astype(np.int64)
        common -= np.asarray(b[np.arange(len(j)), roots[i]]).ravel() != 0  # i's own cluster, if j met it
        common -= (np.asarray(a[np.arange(len(i)), roots[j]]).ravel() != 0) & (roots[i] != roots[j])  # and j's
        together = seen_at[i].multiply(seen_at[j]).getnnz(axis=1) > 0  # one event names each person once
        out[both_seen] = np.where(together, 0, common)
        return out

    def paid_together(self, i: np.ndarray, j: np.ndarray, roots: np.ndarray, seen_at=None, present=None
                      ) -> np.ndarray:
        """Per pair, whether the clusters of records i and j (given as each position's root) were both paid and
        are tied through their payments: a third party paid or was paid by both, or someone who paid the one and
        someone who paid the other were seen at one event. A money handler's accounts are paid by migrants who
        crossed on the same boats; a namesake in another network is paid by other people."""
        out = np.zeros(len(i), dtype=bool)
        payer, payee = roots[self.payments[:, 0]], roots[self.payments[:, 1]]
        paid = np.zeros(len(roots), dtype=bool)
        paid[payee] = True
        k = np.flatnonzero(paid[roots[i]] & paid[roots[j]] & (roots[i] != roots[j]))
        if not len(k):
            return out
        from scipy.sparse import coo_matrix

        n = len(roots)
        ones = np.ones(len(payer), dtype=np.int32)
        paid_by = coo_matrix((ones, (payer, payee)), shape=(n, n)).tocsr()  # payer cluster x paid cluster
        other = payer != payee
        parties = coo_matrix((np.r_[ones[other], ones[other]], (np.r_[payer[other], payee[other]],
                                                                  np.r_[payee[other], payer[other]])), shape=(n, n)
                             ).tocsr()  # cluster x its counterparties
        seen_at = self.incidence(n) if seen_at is None else seen_at
        present = self.present(seen_at, roots) if present is None else present
        payers_seen = (paid_by.T @ present.T).tocsr()  # paid cluster x events its payers were seen at
        a, b = roots[i[k]], roots[j[k]]
        third = parties[a].multiply(parties[b]).getnnz(axis=1) > 0
        met = payers_seen[a].multiply(payers_seen[b]).getnnz(axis=1) > 0
        out[k] = third | met
        return out

    def companions(self, r: int, find) -> set[int]:
        out = {find(x) for e in self.event_of.get(r, ()) for x in self.by_event[e]}
        out.discard(find(r))
        return out

    def shared(self, i: int, j: int, find, seen: dict[int, set[int]] | None = None) -> int:
        """How many people (clusters other than i's and j's) were seen with record i and also with record j;
        0 when the two records were seen at the same event (one event records two people, not one twice).
        `seen` caches companions while the clusters do not change."""
        if i not in self.event_of or j not in self.event_of or self.event_of[i] & self.event_of[j]:
            return 0
        if seen is None:
            seen = {}
        for r in (i, j):
            if r not in seen:
                seen[r] = self.companions(r, find)
        common = seen[i] & seen[j]
        common.discard(find(j))
        common.discard(find(i))
        return len(common)


def context_bonus(shared: np.ndarray, cfg: dict, paid_together: np.ndarray | None = None) -> np.ndarray:
    """Weight for the number of people two records were both seen with: `weight` from `min_shared` up, or when
    their clusters were paid together (GroupContext.paid_together)."""
    bonus = np.where(shared >= cfg["min_shared"], cfg["weight"], 0.0)
    return bonus if paid_together is None else np.maximum(bonus, np.where(paid_together, cfg["payments"], 0.0))


def eligible(levels: dict[str, np.ndarray], cfg: dict) -> np.ndarray:
    """Pairs whose names reach the context's `name_level`: a shared group confirms a spelling, not another
    given name."""
    top = compare.LEVELS["name"].index(cfg["name_level"])
    return (levels["name"] >= 0) & (levels["name"] <= top)


def near_reach(cfg: dict, paid: np.ndarray | None = None):
    """How far short of the threshold a pair may be for the context to weigh it: the context weight, or the
    payments' where `paid` (both records were paid)."""
    if paid is None:
        return cfg["weight"]
    return np.where(paid, max(cfg["weight"], cfg.get("payments") or 0.0), cfg["weight"])


def near_pairs(weight: np.ndarray, refused: np.ndarray, levels_of, cfg: dict, threshold: float,
               paid: np.ndarray | None = None) -> np.ndarray:
    """Pairs the context could lift over the threshold: short of it by at most the context weight (by at most the
    payments' weight where `paid`: both records were paid), not refused, and `eligible`. `levels_of(k)` gives the
    comparison levels of pairs k (names at least)."""
    near = np.flatnonzero((weight < threshold) & (weight >= threshold - near_reach(cfg, paid)) & ~refused)
    return near[eligible(levels_of(near), cfg)]


def context_pass(clusters, gi: np.ndarray, gj: np.ndarray, weight: np.ndarray, near: np.ndarray,
                 context: GroupContext, cfg: dict, threshold: float) -> int:
    """Join near pairs (see near_pairs) whose records were seen with at least `min_shared` of the same people;
    repeated `rounds` times, as each round's joins widen the groups. Returns the number of pairs joined. The
    clusters' conflict guard still refuses conflicting joins."""
    joined = 0
    seen_at = context.incidence(len(clusters.parent))
    for _ in range(cfg.get("rounds", 1)):
        find = clusters.find
        roots = clusters.roots()
        pairs = near[roots[gi[near]] != roots[gj[near]]]
        if not len(pairs):
            break
        present = context.present(seen_at, roots)
        shared = np.concatenate([context.shared_many(gi[part], gj[part], roots, seen_at, present)
                                 for part in np.array_split(pairs, max(1, len(pairs) // 100_000))])
        tied = context.paid_together(gi[pairs], gj[pairs], roots, seen_at, present) if cfg.get("payments") else None
        total = weight[pairs] + context_bonus(shared, cfg, tied)
        passing = np.flatnonzero(total >= threshold)
        before = joined
        for k in passing[np.argsort(-total[passing], kind="stable")].tolist():
            a, b = int(gi[pairs[k]]), int(gj[pairs[k]])
            if find(a) != find(b) and clusters.union(a, b, weight=float(total[k])):
                joined += 1
        if joined == before:
            break
    return joined
