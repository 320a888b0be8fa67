"""Resolution: load source entities, join exact identifier keys, score Person pairs, cluster, write canonical ids."""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import json
import re
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

import numpy as np
from sqlalchemy import select

from tessera.arrays import firsts
from tessera.bulk import in_thread, mapped, paused_gc, prefetched
from tessera.resolve import blocking, compare, labels
from tessera.resolve.context import (GroupContext, Sightings, both_paid, context_pass, near_pairs, near_reach,
                                    paid_records)
from tessera.resolve.halves import Helper, table_helper
from tessera.resolve.names import NameKeys
from tessera.store import tables
from tessera.store.store import Store, stream_batches, stream_tuples

MODEL_PATH = Path(__file__).with_name("model.json")

# schema -> tuples of properties whose (joint) normalised value identifies the thing.
EXACT_KEYS: dict[str, list[tuple[str, ...]]] = {
    "Vehicle": [("registrationNumber",)],
    "BankAccount": [("iban",), ("accountNumber",)],
    "Vessel": [("registrationNumber",), ("imoNumber",), ("mmsi",)],
    "Passport": [("number",), ("passportNumber",)],
    "Identification": [("number",)],
    "UserAccount": [("service", "username"), ("email",)],
}
PERSON_DOCS = ("passportNumber", "idNumber", "taxNumber", "socialSecurityNumber", "innCode")
_KEY_CLEAN = re.compile(r"[\s\-./]+")


def load_model(path: Path | str | None = None) -> dict:
    return json.loads(Path(path or MODEL_PATH).read_text())


def run_model(store: Store) -> dict:
    """The match model the newest resolution run scored with (estimated weights, a --model file), or the
    shipped one when no run recorded one: what explain and the warm resolver must weigh with."""
    from tessera.resolve.tables import resolve_runs

    with store.engine.connect() as conn:
        saved = conn.execute(select(resolve_runs.c.model).order_by(resolve_runs.c.id.desc()).limit(1)).scalar()
    return json.loads(saved) if saved else load_model()


@dataclass
class Entity:
    id: str
    schema: str
    canonical_id: str | None
    props: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    agencies: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)  # Person: normalised IBANs / numbers it pays from or into

# (link schema, person property, account property): how a Person is tied to a BankAccount
ACCOUNT_LINKS = (("Payment", "payer", "payerAccount"), ("Payment", "beneficiary", "beneficiaryAccount"),
                 ("Ownership", "owner", "asset"))


def load_entities(store: Store, schemas: set[str] | None = None, others: bool = True,
                  props: set[str] | None = None) -> dict[str, Entity]:
    """Every source entity, with the normalised values of its statements (schemas limits the statements, and
    with others False the entities too; props limits the statements to those properties)."""
    e, s = tables.entities, tables.statements
    out: dict[str, Entity] = {}
    with store.engine.connect() as conn:
        query = select(e.c.id, e.c.schema, e.c.canonical_id)
        if schemas and not others:
            query = query.where(e.c.schema.in_(sorted(schemas)))
        for eid, schema, canon in conn.execute(query):
            out[eid] = Entity(eid, schema, canon)
        query = select(s.c.entity_id, s.c.prop, s.c.value, s.c.agency).where(s.c.prop_type != "entity")
        if schemas:
            query = query.where(s.c.schema.in_(sorted(schemas)))
        if props:
            query = query.where(s.c.prop.in_(sorted(props)))
        for eid, prop, value, agency in stream_tuples(conn, query):
            ent = out.get(eid)
            if ent is not None:
                ent.props[prop].add(value)
                ent.agencies.add(agency)
        if not schemas or "Person" in schemas:
            attach_accounts(conn, out)
    return out


NAMING_CHUNK = 5_000  # ids per lookup of the links naming them (a query takes 32,766 to 250,000 parameters)


def attach_accounts(conn, ents: dict[str, Entity], few: bool = False) -> None:
    """Give each Person of `ents` the account keys of `account_links` (few: only the links naming them are read,
    NAMING_CHUNK ids at a time)."""
    parts: list[list[str] | None] = [None]  # every link, read once
    if few:
        ids = sorted(ents)
        parts = [ids[k:k + NAMING_CHUNK] for k in range(0, len(ids), NAMING_CHUNK)]
    for part in parts:
        for pid, acc in account_links(conn, part).items():
            person = ents.get(pid)
            if person is not None and person.schema == "Person":
                person.accounts |= acc


def account_links(conn, naming: list[str] | None = None) -> dict[str, set[str]]:
    """Person id -> the normalised account keys (IBAN, else account number) of the bank accounts it pays from,
    is paid into, or owns: Payment payer/payerAccount and beneficiary/beneficiaryAccount, Ownership owner/asset.
    naming: only the links that name these ids (a new batch: two lookups by index, not a scan)."""
    s = tables.statements
    link_schemas = sorted({schema for schema, _p, _a in ACCOUNT_LINKS})
    link_props = sorted({p for _s, p, a in ACCOUNT_LINKS} | {a for _s, _p, a in ACCOUNT_LINKS})
    query = select(s.c.entity_id, s.c.schema, s.c.prop, s.c.value).where(
        s.c.prop_type == "entity", s.c.schema.in_(link_schemas), s.c.prop.in_(link_props))
    if naming is not None:
        named_by = set(conn.execute(select(s.c.entity_id).where(
            s.c.prop_type == "entity", s.c.value.in_(naming), s.c.schema.in_(link_schemas))).scalars())
        if not named_by:
            return {}
        query = select(s.c.entity_id, s.c.schema, s.c.prop, s.c.value).where(
            s.c.entity_id.in_(sorted(named_by)), s.c.prop.in_(link_props))
    # a scan of millions of rows through the driver's cursor; a batch's few through the statement cache
    read = functools.partial(stream_tuples, conn) if naming is None else conn.execute
    links: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    schema_of: dict[str, str] = {}
    for eid, schema, prop, value in read(query):
        links[eid][prop].add(value)
        schema_of[eid] = schema
    if not links:
        return {}
    accounts = select(s.c.entity_id, s.c.prop, s.c.value).where(
        s.c.schema == "BankAccount", s.c.prop.in_(["iban", "accountNumber"]))
    if naming is not None:
        named = {v for props in links.values() for _s, _p, a in ACCOUNT_LINKS for v in props.get(a, ())}
        accounts = accounts.where(s.c.entity_id.in_(sorted(named)))
    keys: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for eid, prop, value in read(accounts):
        keys[eid][prop].add(_norm_key(value))
    out: dict[str, set[str]] = defaultdict(set)
    for eid, props in links.items():
        for link_schema, person_prop, account_prop in ACCOUNT_LINKS:
            if schema_of[eid] != link_schema or person_prop not in props or account_prop not in props:
                continue
            acc = set()
            for a in props[account_prop]:
                k = keys.get(a)
                if k:
                    acc |= k.get("iban") or k.get("accountNumber", set())
            for pid in props[person_prop] if acc else ():
                out[pid] |= acc
    return out


def in_id_order(store: Store, column, sort: bool = False):
    """`column` to ORDER BY so that ids come in Python's string order: byte order, which PostgreSQL's default
    collation is not. sort: on SQLite, by sorting the rows rather than by walking the column's index, whose
    random page reads cost more on a large table (a million people's statements: 8.9 s against 14.6 s)."""
    if store.dialect == "postgresql":
        return column.collate("C")
    return column.concat("") if sort else column


def person_statements(store: Store, start: str | None = None, stop: str | None = None) -> prefetched[list[tuple]]:
    """statement_batches read by a thread that starts now: the database sorts them outside the GIL (a million
    people: ~9 s) while the caller does other work, such as listing entities and joining exact keys."""
    return prefetched(statement_batches(store, start, stop))


def statement_batches(store: Store, start: str | None = None, stop: str | None = None) -> Iterator[list[tuple]]:
    """Every Person statement's (entity id, property, value, agency) in entity-id order (of ids from `start`
    and before `stop`), in batches."""
    s = tables.statements
    key = in_id_order(store, s.c.entity_id, sort=True)
    query = select(s.c.entity_id, s.c.prop, s.c.value, s.c.agency).where(
        s.c.schema == "Person", s.c.prop_type != "entity").order_by(key)
    if start is not None:
        query = query.where(key >= start)
    if stop is not None:
        query = query.where(key < stop)
    with store.engine.connect() as conn:
        yield from stream_batches(conn, query)


def person_ids(store: Store, resolved_only: bool = False) -> list[str]:
    """Every Person id, or every resolved one, in Python's order."""
    e = tables.entities
    people = select(e.c.id).where(e.c.schema == "Person").order_by(in_id_order(store, e.c.id))
    if resolved_only:
        people = people.where(e.c.canonical_id.is_not(None))
    with store.engine.connect() as conn:
        return [eid for eid, in stream_tuples(conn, people)]


def stream_people(store: Store, ids: list[str] | None = None, statements: Iterator[list[tuple]] | None = None,
                  accounts: dict[str, set[str]] | None = None
                  ) -> tuple[list[str], Iterator[tuple[dict[str, set[str]], set[str], set[str]]]]:
    """(every Person id in order, or the caller's `ids` of Persons in Python's order; an iterator of each one's
    normalised values by property, agencies and account keys, in that order): one record at a time from
    statements read in entity order (`person_statements`, or the caller's, already started), so that a million
    people's values are never held at once (as Entity objects they take gigabytes).
    accounts: account_links already read (of these ids at least)."""
    ids = person_ids(store) if ids is None else ids
    with store.engine.connect() as conn:
        accounts = account_links(conn) if accounts is None else accounts
    statements = person_statements(store) if statements is None else statements

    def records():
        groups = itertools.groupby(itertools.chain.from_iterable(statements), key=itemgetter(0))
        group = next(groups, None)
        for eid in ids:
            props: dict[str, set[str]] = defaultdict(set)
            agencies: set[str] = set()
            while group is not None and group[0] < eid:  # Person statements of an entity now of another schema
                group = next(groups, None)
            if group is not None and group[0] == eid:
                for _eid, prop, value, agency in group[1]:
                    props[prop].add(value)
                    agencies.add(agency)
                group = next(groups, None)
            yield props, agencies, accounts.get(eid, ())
        statements.close()

    return ids, records()


def entity_listing(store: Store) -> tuple[list[str], list[str | None], list[str]]:
    """(every entity id in Python's order, the canonical id each had before this run, the Person ids in order),
    from one read of the entities table."""
    e = tables.entities
    with store.engine.connect() as conn:
        listing = list(stream_tuples(conn, select(e.c.id, e.c.canonical_id, e.c.schema)))
    listing.sort(key=itemgetter(0))  # by id alone: a third of the time of comparing tuples
    ids, previous, schemas = (list(column) for column in zip(*listing)) if listing else ([], [], [])
    return ids, previous, [eid for eid, schema in zip(ids, schemas) if schema == "Person"]


def corrected_by_judgements(store: Store, table: compare.PersonTable, model: dict, res: ResolveResult) -> dict:
    """The model with its weights corrected by the active judgements (labels.py); how many, into res."""
    from tessera.resolve.judgements import load_judgements

    with store.engine.connect() as connection:
        model = labels.learn_from_judgements(table, load_judgements(connection), model)
    res.learned_from = model.get("learned", {}).get("judgements", 0)
    return model


def apply_judgements(store: Store, clusters: Clusters, index: dict[str, int]) -> int:
    """The analysts' judgements into the clusters: "not same" as cannot-links, then "same" joined first, never
    refused by evidence. Returns how many "same" judgements joined two clusters."""
    from tessera.resolve.judgements import active_constraints

    constraints = active_constraints(store)
    clusters.cannot_link([(index[a], index[b]) for a, b in constraints.not_same if a in index and b in index])
    joined = 0
    for a, b in constraints.same:
        if a in index and b in index and clusters.union(index[a], index[b], guard=False):
            joined += 1
    return joined


def join_exact_keys(store: Store, clusters: Clusters, index: dict[str, int]) -> int:
    """Join the entities that share an exact identifier key (EXACT_KEYS: an IBAN, a plate, a passport number),
    whatever else they say. Returns the number of joins."""
    keyed = load_entities(store, set(EXACT_KEYS), others=False,
                          props={p for keys in EXACT_KEYS.values() for key in keys for p in key})
    first_with_key: dict[tuple, int] = {}
    joins = 0
    for eid in sorted(keyed):
        ent = keyed[eid]
        for key_props in EXACT_KEYS.get(ent.schema, ()):
            values = [sorted(ent.props.get(p, ())) for p in key_props]
            if not all(values):
                continue
            for combo in itertools.product(*values):
                i = index[eid]
                j = first_with_key.setdefault((ent.schema, key_props, tuple(_norm_key(v) for v in combo)), i)
                if j != i and clusters.find(i) != clusters.find(j):
                    clusters.union(i, j, guard=False)
                    joins += 1
    return joins


# ---------------------------------------------------------------- union-find with conflict guard

class Clusters:
    """Union-find whose roots remember document numbers, birth years and cannot-link sides, to refuse
    conflicting merges (a not-same judgement is never overridden, even by an exact identifier)."""

    def __init__(self, ids: list[str], refuse: dict):
        self.parent = list(range(len(ids)))
        self.size = [1] * len(ids)
        self.docs: dict[int, dict[str, set[str]]] = {}
        self.years: dict[int, tuple[int, int]] = {}
        self.cannot: dict[int, dict[int, int]] = {}  # root -> {not-same pair number: side (0 or 1)}
        self.dates: dict[int, set[tuple[int, int, int]]] = {}  # root -> full, non-estimated birth dates
        self.events: dict[int, set[int]] = {}  # root -> events its records were seen at (one person each)
        self.journeys = Journeys(len(ids))
        self.opposed: dict[int, dict[int, float]] = {}  # root -> {record compared badly with: weight}
        self.threshold = 0.0
        self.refused = 0
        self.refused_by_judgement = 0
        self.configure(refuse)

    def configure(self, refuse: dict) -> None:
        """Which conflicts refuse a merge (the model's `refuse` section; dob_year_gap None: none by years)."""
        self.year_gap = refuse["dob_year_gap"]
        self.check_documents = refuse["document_conflict"]
        self.check_dates = refuse.get("date_conflict", True)
        self.check_journeys = refuse.get("journey_conflict", False)

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return i

    def roots(self) -> np.ndarray:
        """Every position's root at once (what find gives each), by pointer jumping over the parent array."""
        roots = np.asarray(self.parent, dtype=np.int64)
        while True:
            up = roots[roots]
            if np.array_equal(up, roots):
                return roots
            roots = up

    def cannot_link(self, pairs: list[tuple[int, int]]) -> None:
        for k, (a, b) in enumerate(pairs):
            self.cannot.setdefault(self.find(a), {})[k] = 0
            self.cannot.setdefault(self.find(b), {})[k] = 1

    def judged_apart(self, a: int, b: int) -> bool:
        ca, cb = self.cannot.get(a), self.cannot.get(b)
        if ca and cb:
            if len(ca) > len(cb):
                ca, cb = cb, ca
            return any(k in cb and cb[k] != side for k, side in ca.items())
        return False

    def conflict(self, a: int, b: int, weight: float | None = None) -> bool:
        if self.check_documents and compare.documents_conflict(self.docs.get(a), self.docs.get(b)):
            return True
        ya, yb = self.years.get(a), self.years.get(b)
        if self.year_gap is not None and ya and yb and max(ya[1], yb[1]) - min(ya[0], yb[0]) > self.year_gap:
            return True
        ta, tb = self.dates.get(a), self.dates.get(b)
        if self.check_dates and ta and tb and not any(_dates_compatible(x, y) for x in ta for y in tb):
            return True  # a chain must not join two people with full birth dates that cannot be one typo apart
        ea, eb = self.events.get(a), self.events.get(b)
        if ea and eb and not ea.isdisjoint(eb):
            return True  # an event's list names each person once: two records at one event are two people
        if self.check_journeys and self.journeys.conflict(a, b):
            return True  # no chain makes one person land twice, or be seen abroad after landing or at home before
        oa, ob = self.opposed.get(a), self.opposed.get(b)
        if oa and ob:  # opposition is recorded on both sides, so the smaller side is enough to look through
            other, smaller = (b, oa) if len(oa) <= len(ob) else (a, ob)
            against = min((w for r, w in smaller.items() if self.find(r) == other), default=None)
            if against is not None and (weight is None or weight + against < self.threshold):
                return True  # a chain must not join two records whose own comparison speaks against it
        return False

    def oppose(self, i: np.ndarray, j: np.ndarray, weight: np.ndarray, threshold: float) -> None:
        """Record pairs (positions) whose comparison weighs against a match: a merge across them goes ahead only
        when the pair making it, less the strongest weight against, still reaches the threshold."""
        self.threshold = threshold
        for a, b, w in zip(i.tolist(), j.tolist(), weight.tolist()):
            for x, y in ((a, b), (b, a)):
                mine = self.opposed.setdefault(self.find(x), {})
                mine[y] = min(w, mine.get(y, w))

    def take_evidence(self, table: compare.PersonTable, positions, rows=None) -> None:
        """Give each record's cluster (as it stands) the record's documents, birth years and full birth date,
        which later merges are checked against; record r of the table (all, or those in `rows`) is position
        positions[r] here."""
        for r in range(table.n) if rows is None else rows:
            root = self.find(int(positions[r]))
            if table.docs[r]:
                mine = self.docs.setdefault(root, {})
                for kind, values in table.docs[r].items():
                    mine.setdefault(kind, set()).update(values)
            if table.years_lo[r] >= 0:
                lo, hi = int(table.years_lo[r]), int(table.years_hi[r])
                have = self.years.get(root)
                self.years[root] = (min(have[0], lo), max(have[1], hi)) if have else (lo, hi)
            if table.day[r] >= 0 and (table.month[r], table.day[r]) != (1, 1):
                self.dates.setdefault(root, set()).add((int(table.year[r]), int(table.month[r]), int(table.day[r])))
            if table.landed is not None and (table.landed[r] >= 0 or table.abroad[r] >= 0 or table.home_first[r] >= 0):
                self.journeys.take(root, table, r)

    def union(self, i: int, j: int, guard: bool = True, weight: float | None = None) -> bool:
        a, b = self.find(i), self.find(j)
        if a == b:
            return True
        if self.judged_apart(a, b):
            self.refused_by_judgement += 1
            return False
        if guard and self.conflict(a, b, weight):
            self.refused += 1
            return False
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        if b in self.docs:
            mine = self.docs.setdefault(a, {})
            for kind, values in self.docs.pop(b).items():
                mine.setdefault(kind, set()).update(values)
        if b in self.years:
            yb = self.years.pop(b)
            ya = self.years.get(a)
            self.years[a] = (min(ya[0], yb[0]), max(ya[1], yb[1])) if ya else yb
        if b in self.cannot:
            self.cannot.setdefault(a, {}).update(self.cannot.pop(b))
        if b in self.dates:
            self.dates.setdefault(a, set()).update(self.dates.pop(b))
        if b in self.events:
            self.events.setdefault(a, set()).update(self.events.pop(b))
        self.journeys.merge(a, b)
        if b in self.opposed:
            mine = self.opposed.setdefault(a, {})
            for r, w in self.opposed.pop(b).items():
                mine[r] = min(w, mine.get(r, w))
        return True


class Journeys:
    """Per cluster root, the days its records landed (first and last), were last seen abroad and were first seen at
    home other than at an arrival, in compact columns (with a tuple per cluster the 1M bench peaked 176 MiB higher,
    at 4,025 MiB); one person lands once, and is seen neither abroad after that nor at home before it."""

    NEVER = 2 ** 31 - 1

    def __init__(self, n: int):
        self.first, self.last = array("i", [self.NEVER]) * n, array("i", [-1]) * n
        self.abroad, self.home = array("i", [-1]) * n, array("i", [self.NEVER]) * n

    def of(self, r: int) -> tuple[int, int, int, int]:
        return self.first[r], self.last[r], self.abroad[r], self.home[r]

    def _set(self, r: int, journey: tuple[int, int, int, int]) -> None:
        self.first[r], self.last[r], self.abroad[r], self.home[r] = journey

    @staticmethod
    def _joined(x: tuple, y: tuple) -> tuple[int, int, int, int]:
        return min(x[0], y[0]), max(x[1], y[1]), max(x[2], y[2]), min(x[3], y[3])

    @classmethod
    def possible(cls, journey: tuple) -> bool:
        first, last, abroad, home = journey
        slack = compare.LANDING_SLACK
        return first == cls.NEVER or (last - first <= slack and abroad <= first + slack and home >= first - slack)

    def take(self, root: int, table: compare.PersonTable, r: int) -> None:
        """Record r of the table joins the cluster at root, unless it is at odds with itself (a date keyed wrong
        says nothing of others)."""
        landed, home = int(table.landed[r]), int(table.home_first[r])
        mine = (landed if landed >= 0 else self.NEVER, landed, int(table.abroad[r]), home if home >= 0 else self.NEVER)
        if self.possible(mine):
            self._set(root, self._joined(self.of(root), mine))

    def merge(self, a: int, b: int) -> None:
        self._set(a, self._joined(self.of(a), self.of(b)))

    def conflict(self, a: int, b: int) -> bool:
        return not self.possible(self._joined(self.of(a), self.of(b)))


def _dates_compatible(x: tuple[int, int, int], y: tuple[int, int, int]) -> bool:
    """One recorded date could be a slip for the other: equal, day and month swapped, one part differing."""
    if x == y:
        return True
    if x[0] == y[0]:
        return x[1] == y[1] or x[2] == y[2] or (x[1], x[2]) == (y[2], y[1])
    return abs(x[0] - y[0]) == 1 and (x[1], x[2]) == (y[1], y[2])


# ---------------------------------------------------------------- Person model

def person_table(ents: dict[str, Entity], people: list[str], model: dict) -> compare.PersonTable:
    """The Person table of these loaded entities (a whole store's goes through stream_people instead)."""
    return compare.build_table(people, ((ents[eid].props, ents[eid].agencies, ents[eid].accounts) for eid in people),
                               name_keys(model), PERSON_DOCS)


def stored_person_table(store: Store, model: dict, ids: list[str] | None = None,
                        statements: Iterator[list[tuple]] | None = None, helper: Helper | None = None,
                        sightings: bool = True) -> compare.PersonTable:
    """The Person table of `ids` (already listed, in order; every Person's if None), streamed (statements:
    person_statements already started, of the ids before the helper's start if there is one; helper: building
    the columns of every Person from its start on, in another process), with when each record was seen (unless
    `sightings` is False: the caller reads them)."""
    table = _stored_person_table(store, model, ids, statements, helper)
    if sightings and uses_sightings(model):
        index = {eid: r for r, eid in enumerate(table.ids)}
        table.take_spans(Sightings(store, index).spans(np.arange(table.n)))
    return table


def uses_sightings(model: dict) -> bool:
    """Whether the model weighs who was seen at which event, when and where (group context, the "seen" and
    "journey" comparisons, the journey guard)."""
    weighed = compare.weights(model)
    return (bool(model.get("context")) or "seen" in weighed or "journey" in weighed
            or bool(model["refuse"].get("journey_conflict")))


def _stored_person_table(store: Store, model: dict, ids: list[str] | None, statements: Iterator[list[tuple]] | None,
                         helper: Helper | None) -> compare.PersonTable:
    if helper is None or helper.start is None:
        people, records = stream_people(store, ids=ids, statements=statements)
        return compare.build_table(people, records, name_keys(model), PERSON_DOCS)
    h = bisect.bisect_left(ids, helper.start)
    _, records = stream_people(store, ids=ids[:h], statements=statements, accounts=helper.accounts())
    columns = compare.record_columns(records, h, name_keys(model), PERSON_DOCS)
    later, rest = helper.result()
    wanted = ids[h:]
    if later != wanted:
        position = dict(zip(later, range(len(later))))
        if all(eid in position for eid in wanted):  # only some of the helper's are wanted (resolved ones, say)
            rest = rest.taken([position[eid] for eid in wanted])
        else:  # Person records came after the listing: read the later ones here
            _, records = stream_people(store, ids=wanted, statements=person_statements(store, start=helper.start))
            rest = compare.record_columns(records, len(wanted), name_keys(model), PERSON_DOCS)
    return compare.table_of(ids, columns.followed_by(rest))


def name_keys(model: dict) -> NameKeys:
    return NameKeys(model["name_equivalents"], model["name_stopwords"])


def estimate_model(table: compare.PersonTable, levels: dict, model: dict) -> dict:
    """A copy of the model whose m come from EM over the candidate pairs, u from random pairs, lambda from EM's
    match count over all pairs, and whose guard keeps only the refusals these weights call strong."""
    est = dict(model)
    cfg = model["estimate"]
    u0 = compare.u_probabilities(table, cfg["u_sample"], cfg.get("seed", 0))
    lam = model["lambda_start"]
    if cfg.get("lambda_from_records"):
        # expected matching pairs ~ records - people; assume a share of the records are repeats
        lam = min(0.5, cfg["lambda_from_records"] * table.n / max(len(levels["name"]), 1))
    est["m"], lam = compare.estimate_m(levels, u0, model["m_start"], lam, cfg["iterations"],
                                       fix_lambda=bool(cfg.get("lambda_from_records")))
    # scored as any two records are: u of random pairs, and the chance that two random records match
    est["u"] = u0
    est["lambda"] = max(lam * len(levels["name"]), 1.0) / max(table.n * (table.n - 1) / 2, 1.0)
    est["threshold"] = cfg.get("threshold", model["threshold"])
    est["refuse"] = strong_refusals(est)
    return est


def strong_refusals(model: dict) -> dict:
    """The model's guard, less the refusals its weights do not back: birth dates years apart, or different
    documents of one kind, refuse a merge only where that level alone weighs at least `strong_weight` against a
    match. Estimated on FEBRL4, whose clerks replaced whole birth dates and numbers, they weigh about -4.4 and
    -4.6; on agency records of one person they would weigh far more."""
    refuse = dict(model["refuse"])
    w = compare.weights(model)
    strong = -refuse["strong_weight"]
    if w["dob"][compare.LEVELS["dob"].index("conflict")] > strong:
        refuse["dob_year_gap"], refuse["date_conflict"] = None, False
    if w["document"][compare.LEVELS["document"].index("different")] > strong:
        refuse["document_conflict"] = False
    return refuse


def group_context(clusters: Clusters, sightings: Sightings, cfg: dict) -> GroupContext:
    """Who was seen with whom, for the context pass; the clusters learn each record's events for their guard
    (one event's list names each person once, so two records seen at one event are never joined)."""
    group = GroupContext(sightings.event_of, sightings.by_event, cfg["max_event"], sightings.payments)
    for r, evs in group.event_of.items():
        clusters.events.setdefault(clusters.find(r), set()).update(evs)
    return group


def _concatenated(parts, columns: int = 2) -> tuple[np.ndarray, ...]:
    """Column-wise concatenation of an iterable of equal-width tuples of arrays (empty: int64 columns)."""
    parts = list(parts)
    if not parts:
        return tuple(np.zeros(0, dtype=np.int64) for _ in range(columns))
    return tuple(np.concatenate(column) for column in zip(*parts))


def reachable(clusters: Clusters, rec_index: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per Person-table row, a label shared by the rows that the clusters as they stand and the table pairs
    (a, b) connect: two records apart here can never be joined, so whether they oppose a match never matters."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(rec_index)
    roots = clusters.roots()[rec_index]
    _, root_node = np.unique(roots, return_inverse=True)  # a node per cluster, after the n row nodes
    src, dst = np.r_[np.arange(n), a], np.r_[n + root_node, b]
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n + root_node.max(initial=-1) + 1,) * 2)
    return connected_components(graph, directed=False)[1][:n]


def joinable(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Per record of n, whether an accepted pair (i, j) holds it: only these are weighed against one another
    (a record that only the group context joins is not)."""
    mask = np.zeros(n, dtype=bool)
    mask[i] = mask[j] = True
    return mask


def opposed(i: np.ndarray, j: np.ndarray, weight: np.ndarray, against: np.ndarray, can_join: np.ndarray,
            model: dict) -> np.ndarray:
    """Compared pairs of joinable records whose weight is below `refuse.pair_weight` and which hold evidence
    against a match (`against`, compare.against): a chain of merges must outweigh that evidence
    (Clusters.oppose). A pair that merely lacks evidence (a common name and nothing else) opposes nothing."""
    floor = model["refuse"].get("pair_weight")
    if floor is None:
        return np.zeros(len(i), dtype=bool)
    return can_join[i] & can_join[j] & (weight < floor) & (against < 0)


def refusals(table: compare.PersonTable, i: np.ndarray, j: np.ndarray, model: dict) -> np.ndarray:
    """Pairs that must never join directly: birth years too far apart, or different documents of one kind."""
    gap = model["refuse"]["dob_year_gap"]
    y1, y2 = table.years_lo, table.years_hi
    far = np.zeros(len(i), dtype=bool)
    if gap is not None:
        both = (y1[i] >= 0) & (y1[j] >= 0)
        far = both & ((np.maximum(y2[i], y2[j]) - np.minimum(y1[i], y1[j])) > gap) & \
            (np.abs(table.year[i] - table.year[j]) > gap)
    if model["refuse"]["document_conflict"]:
        for k in np.flatnonzero(compare.both_hold(table, "docs", i, j)).tolist():
            if compare.documents_conflict(table.docs[i[k]], table.docs[j[k]]):
                far[k] = True
    return far


def in_doubt(i: np.ndarray, j: np.ndarray, weight: np.ndarray, threshold: float, band: float, keep: int,
             refused: np.ndarray | None = None) -> np.ndarray:
    """Positions of the `keep` pairs weighing closest to the threshold, within band bits of it and not refused,
    closest first: the review queue. Ties go in (i, j) order, so any split of the pairs into parts, each cut to
    its own `keep`, gives the same pairs once the parts' are cut again."""
    near = np.abs(weight - threshold) <= band
    k = np.flatnonzero(near if refused is None else near & ~refused)
    return k[np.lexsort((j[k], i[k], np.abs(weight[k] - threshold)))[:keep]]


# ---------------------------------------------------------------- the run

@dataclass
class ResolveResult:
    entities: int = 0
    persons: int = 0
    candidate_pairs: int = 0
    pairs_scored: int = 0
    pairs_accepted: int = 0
    merges_refused: int = 0
    judged_same: int = 0
    new_entities: int | None = None
    refused_by_judgement: int = 0
    exact_key_joins: int = 0
    context_joins: int = 0
    clusters: int = 0
    multi_clusters: int = 0
    largest_cluster: int = 0
    canonical_changed: int = 0
    blocks_skipped: int = 0
    learned_from: int = 0  # judgements the weights were corrected by (labels.py)
    review_pairs: int = 0  # uncertain pairs stored for analysts to judge (review.py)
    feed: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _norm_key(value: str) -> str:
    return _KEY_CLEAN.sub("", value.upper())


def resolve(store: Store, model: dict | None = None, write: bool = True,
            progress: Callable[[str], None] | None = None, return_assignment: bool = False,
            estimate: bool = False, keep: dict | None = None, changed: bool = False):
    """Resolve every source entity in the store and (when write) set entities.canonical_id.

    changed: only what is new since the last run -- existing canonical entities stay as they are and only
    never-resolved records are scored against the blocks (a new record may still join, or merge, them)."""
    model = model or load_model()
    with paused_gc(), table_helper(store, model) as helper:
        return _resolve(store, model, helper, write, progress, return_assignment, estimate, keep, changed)


def _resolve(store: Store, model: dict, helper: Helper | None, write: bool, progress: Callable[[str], None] | None,
             return_assignment: bool, estimate: bool, keep: dict | None, changed: bool):
    res = ResolveResult()
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    # sorted by the database (the helper's half by the helper) while the entities are listed and joined
    statements = helper.statements_before_start(store) if helper else person_statements(store)
    say("loading entities")
    ids, previous, persons = entity_listing(store)  # previous: canonical ids before this run
    index = dict(zip(ids, range(len(ids))))
    res.entities = len(ids)
    res.seconds["load"] = round(time.perf_counter() - t0, 2)

    events = None
    if uses_sightings(model):  # who was seen at which event and when, read while exact keys are joined and the
        # table built: the scan of the statements runs outside the GIL, on the core the Python work leaves idle
        read = functools.partial(Sightings, store, index)
        events = read if store.in_memory else in_thread(read)
    clusters = Clusters(ids, model["refuse"])
    res.judged_same = apply_judgements(store, clusters, index)
    fresh = np.fromiter((cid is None for cid in previous), dtype=bool, count=len(ids))
    if changed:  # keep the clusters of the last run (judgements still win: a refused union stays apart)
        first_of: dict[str, int] = {}
        for k, cid in enumerate(previous):
            if cid is not None:
                clusters.union(k, first_of.setdefault(cid, k), guard=False)
        res.new_entities = int(fresh.sum())

    t1 = time.perf_counter()
    say("joining exact identifier keys")
    res.exact_key_joins = join_exact_keys(store, clusters, index)
    res.seconds["exact"] = round(time.perf_counter() - t1, 2)

    # persons
    t2 = time.perf_counter()
    say("building Person features and blocks")
    table = stored_person_table(store, model, persons, statements, helper, sightings=False)
    table.name_cache = compare.NameCache()
    people = table.ids
    del persons
    res.persons = len(people)
    rec_index = np.fromiter((index[eid] for eid in people), dtype=np.int64, count=len(people))
    sightings = events() if events else None
    if sightings is not None:  # before the blocks: records seen weeks apart share a key
        table.take_spans(sightings.spans(rec_index))
    clusters.take_evidence(table, rec_index)
    if not estimate:  # analysts' judgements as labels: the weights corrected by what they say
        model = corrected_by_judgements(store, table, model, res)
    plan = blocking.pair_plan(table, model["blocking"]["max_block"],
                              blocking.pair_weight_floor(model["blocking"], table.n))
    res.blocks_skipped = plan.skipped
    step = model["blocking"].get("chunk", 2_000_000)

    def pairs(among=None):
        for ci, cj in mapped(plan.pairs_of, plan.ranges(step, among)):  # two ranges made at once
            if changed:
                touches_new = fresh[rec_index[ci]] | fresh[rec_index[cj]]
                ci, cj = ci[touches_new], cj[touches_new]
            yield ci, cj
    res.seconds["block"] = round(time.perf_counter() - t2, 2)

    t3 = time.perf_counter()
    say("comparing Person pairs")
    paid = paid_records(sightings, rec_index, model.get("context"))
    whole = estimate or keep is not None
    if whole:  # every pair's levels at once: EM needs them, and so does a caller keeping them
        pi, pj = _concatenated(pairs())
        levels = compare.compare(table, pi, pj)
        if estimate:
            say("estimating match weights (EM)")
            model = estimate_model(table, levels, model)
            clusters.configure(model["refuse"])
        weight = compare.score(levels, model)
        scored = [(pi, pj, weight, levels["name"])]
    else:  # a record range at a time, so that no per-pair column of every pair is ever held
        cfg = model.get("context")  # weights exact as far below the threshold as the context could lift a pair
        cap = (lambda ci, cj: model["threshold"] - (near_reach(cfg, both_paid(paid, ci, cj)) if cfg else 0.0))
        scored = ((ci, cj, *compare.capped_scores(table, ci, cj, model, cap(ci, cj))[::2]) for ci, cj in pairs())
    threshold, cfg = model["threshold"], model.get("context")
    band, queue_size = (model["review"]["band"], model["review"]["keep"]) if write and "review" in model else (None, 0)
    accepted, near, uncertain = [], [], []
    for ci, cj, w, name_level in scored:
        res.candidate_pairs += len(ci)
        refused = refusals(table, ci, cj, model)
        ok = (w >= threshold) & ~refused
        accepted.append((ci[ok], cj[ok], w[ok]))
        if band:  # within the band weights are never capped (the cap lies further below the threshold)
            k = in_doubt(ci, cj, w, threshold, band, queue_size, refused)
            uncertain.append((ci[k], cj[k], w[k]))
        if cfg:  # near: never capped
            k = near_pairs(w, refused, lambda k: {"name": name_level[k]}, cfg, threshold, both_paid(paid, ci, cj))
            near.append((ci[k], cj[k], w[k]))
    ai, aj, aw = _concatenated(accepted, 3)
    ni, nj, nw = _concatenated(near, 3)
    res.pairs_scored = res.candidate_pairs
    res.pairs_accepted = len(ai)
    res.seconds["score"] = round(time.perf_counter() - t3, 2)

    t4 = time.perf_counter()
    group = group_context(clusters, sightings, cfg) if cfg else None
    if model["refuse"].get("pair_weight") is not None:
        say("weighing pairs that speak against a match")
        can_join = joinable(table.n, ai, aj)
        component = reachable(clusters, rec_index, np.r_[ai, ni], np.r_[aj, nj])
        among = can_join & (np.bincount(component)[component] > 1)  # records that could be joined to another at all
        for ci, cj in ((pi, pj),) if whole else pairs(among):
            k = np.flatnonzero(can_join[ci] & can_join[cj] & (component[ci] == component[cj]))
            lv = {c: v[k] for c, v in levels.items()} if whole else compare.compare(table, ci[k], cj[k])
            against = compare.against(lv, model)
            wk = weight[k] if whole else compare.score(lv, model)
            low = opposed(ci[k], cj[k], wk, against, can_join, model)
            clusters.oppose(rec_index[ci[k[low]]], rec_index[cj[k[low]]], against[low], threshold)
    order = np.argsort(-aw, kind="stable")
    for i, j, w in zip(rec_index[ai[order]].tolist(), rec_index[aj[order]].tolist(), aw[order].tolist()):
        clusters.union(i, j, weight=w)
    res.seconds["cluster"] = round(time.perf_counter() - t4, 2)
    if cfg:
        say("weighing group context")
        t6 = time.perf_counter()
        res.context_joins = context_pass(clusters, rec_index[ni], rec_index[nj], nw, np.arange(len(ni)), group,
                                         cfg, threshold)
        res.seconds["context"] = round(time.perf_counter() - t6, 2)
    res.merges_refused = clusters.refused
    res.refused_by_judgement = clusters.refused_by_judgement
    if keep is not None:  # every pair's levels, weights and refusals, for analyses of a (small) store
        keep.update(table=table, plan=plan, model=model, pi=pi, pj=pj, levels=levels, weight=weight, refused=refused)

    review = None
    if band:
        ui, uj, uw = _concatenated(uncertain, 3)
        top = in_doubt(ui, uj, uw, threshold, band, queue_size)
        review = ([people[k] for k in ui[top].tolist()], [people[k] for k in uj[top].tolist()], uw[top], not changed)
    del table, plan, pairs, scored  # what is left needs only the clusters (a caller's keep holds its own)

    t5 = time.perf_counter()
    say("assigning canonical ids")
    assignment = settle(store, clusters, ids, previous, model, res, write, say, review)
    res.seconds["write"] = round(time.perf_counter() - t5, 2)
    res.seconds["total"] = round(time.perf_counter() - t0, 2)
    if return_assignment:
        return res, dict(zip(ids, assignment))
    return res


def settle(store: Store, clusters: Clusters, ids: list[str], previous: list[str | None], model: dict,
           res: ResolveResult, write: bool, say: Callable[[str], None], review: tuple | None = None) -> list[str]:
    """The end of a run: every entity's canonical id from the clusters as they stand (their counts into res) and,
    when write, the ids that changed, the change feed and the review queue (review: the uncertain pairs' ids a and
    b, weights and whether they replace the queue), committed together or not at all."""
    roots = clusters.roots()
    order = np.argsort(roots, kind="stable")
    starts = np.flatnonzero(firsts(roots[order]))
    sizes = np.diff(np.r_[starts, len(ids)])
    res.clusters = len(starts)
    res.multi_clusters = int((sizes > 1).sum())
    res.largest_cluster = int(sizes.max(initial=0))
    multi = [order[a:a + size].tolist() for a, size in zip(starts.tolist(), sizes.tolist()) if size > 1]
    del roots, order
    assignment = assign_canonical(ids, previous, multi)  # a record in no multi group keeps its own id
    changed = [i for i, cid in enumerate(assignment) if previous[i] != cid]
    res.canonical_changed = len(changed)
    if write:
        from tessera.resolve.changes import record_changes
        from tessera.resolve.review import record_review

        say(f"writing {len(changed):,} canonical ids")
        with store.engine.begin() as conn:
            finish = store.stage_canonical_ids(conn, [(ids[i], assignment[i]) for i in changed])
            res.feed = record_changes(conn, dict(zip(ids, previous)), dict(zip(ids, assignment)), model=model,
                                      alongside=finish)
            if review is not None:
                res.review_pairs = record_review(conn, res.feed["run_id"], *review[:3], threshold=model["threshold"],
                                                 replace=review[3])
    return assignment


def new_canonical_id(*members: str) -> str:
    """The id of a new cluster: "c-" and a digest of its members' ids. Opaque, so that the id names none of
    them: a viewer shown the cluster must not learn the id of a member they may not see."""
    return "c-" + hashlib.sha1("\x1f".join(sorted(members)).encode()).hexdigest()[:24]


def assign_canonical(ids: list[str], previous: list[str | None], groups: list[list[int]]) -> list[str]:
    """Canonical id per entity: a singleton (or a record in no group) keeps its own id; a cluster inherits the
    "c-" id most of its members held before (the larger cluster wins a contested id), else gets
    `new_canonical_id` of its smallest member (of all its members if another cluster has that one)."""
    out: list[str] = list(ids)
    taken: set[str] = set()
    multi = sorted((g for g in groups if len(g) > 1), key=lambda g: (-len(g), ids[min(g)]))
    for g in multi:
        votes = Counter(previous[i] for i in g if previous[i] and previous[i].startswith("c-"))
        cid = None
        for cand, _n in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])):
            if cand not in taken:
                cid = cand
                break
        if cid is None:
            cid = new_canonical_id(min(ids[i] for i in g))
            if cid in taken:
                cid = new_canonical_id(*(ids[i] for i in g))
        taken.add(cid)
        for i in g:
            out[i] = cid
    return out
