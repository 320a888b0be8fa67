"""Derive the link graph from the store: relationship entities and shared identifiers between canonical entities."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Callable, Iterable

from sqlalchemy import func, select

from tessera.graph.index import Edge, GraphEvent, GraphIndex
from tessera.store import tables
from tessera.store.store import Store

HUB_LIMIT = 20  # an identifier value held by more entities than this is a hostel, a hub or a burner pool: skipped
EVENT_LIMIT = 150  # an event naming more entities than this is not linked pairwise
HOLDER_SCHEMAS = ("Person", "UserAccount", "Organization", "Company", "LegalEntity")
# schema -> (source prop, target prop, link type); the first pair present wins
PAIR_PROPS = {
    "Payment": [("payer", "beneficiary", "payment"), ("payerAccount", "beneficiaryAccount", "payment")],
    "Ownership": [("owner", "asset", "ownership")],
    "Membership": [("member", "organization", "membership")],
    "Associate": [("person", "associate", "association")],
    "Family": [("person", "relative", "family")],
    "Employment": [("employee", "employer", "association")],
    "Directorship": [("director", "organization", "association")],
    "Representation": [("agent", "client", "association")],
    "UnknownLink": [("subject", "object", "association")],
}
RELATION_SCHEMAS = tuple(PAIR_PROPS) + ("Call", "Event", "UserAccount")
_CROSSED = re.compile(r"boat|crossing|travers|arrival|embark|dinghy|launch", re.I)
_ARRESTED = re.compile(r"arrest|interpellation|garde\s+a\s+vue|garde à vue|detain|festnahme", re.I)
_INTERCEPTED = re.compile(r"tentative|intercept|attempt|prevented|empêch", re.I)
_LATLON = re.compile(r"^\s*(-?\d{1,2}\.\d+)\s*,\s*(-?\d{1,3}\.\d+)\s*$")
ROW_ASSETS = ("Vehicle", "Vessel")  # a person recorded in the same source row as one of these was using it
SHARED_TYPE = {"phone": "phone_use", "address": "association", "identifier": "shared_identifier",
               "email": "shared_identifier"}


@dataclass
class _Stmt:
    id: int
    entity: str
    schema: str
    prop: str
    prop_type: str
    value: str
    grading: str | None


def _rows(conn, where) -> list[_Stmt]:
    s = tables.statements
    q = select(s.c.id, s.c.entity_id, s.c.schema, s.c.prop, s.c.prop_type, s.c.value, s.c.grading).where(where)
    return [_Stmt(*r) for r in conn.execute(q)]


def _entities(conn) -> tuple[dict[str, str], dict[str, str]]:
    e = tables.entities
    canon, schema = {}, {}
    for eid, sch, cid in conn.execute(select(e.c.id, e.c.schema, func.coalesce(e.c.canonical_id, e.c.id))):
        canon[eid] = cid
        schema[eid] = sch
    return canon, schema


def _event_type(texts: Iterable[str]) -> str:
    text = " ".join(texts)
    if _ARRESTED.search(text):
        return "arrested_together"
    if _CROSSED.search(text):
        return "crossed_together"
    return "association"


def _event_kind(texts: Iterable[str]) -> str:
    """crossing, interception, arrest or event, from an event's name and summary."""
    text = " ".join(texts)
    if _ARRESTED.search(text):
        return "arrest"
    if _CROSSED.search(text):
        return "interception" if _INTERCEPTED.search(text) else "crossing"
    return "event"


def _amount(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _date(values: list[str]) -> str | None:
    for v in sorted(values):
        if re.match(r"^\d{4}(-\d{2}(-\d{2})?)?$", v):
            return v
    return None


def _grading(stmts: Iterable[_Stmt]) -> str | None:
    return next((x.grading for x in stmts if x.grading), None)


class _Holders:
    """Who holds a phone (or other identifier) value: canonical id -> the statements saying so."""

    def __init__(self, rows: Iterable[_Stmt], canon: dict[str, str]):
        self.by_value: dict[tuple[str, str], dict[str, list[_Stmt]]] = defaultdict(lambda: defaultdict(list))
        for r in rows:
            self.by_value[(r.prop_type, r.value)][canon.get(r.entity, r.entity)].append(r)

    def of(self, prop_type: str, value: str) -> dict[str, list[_Stmt]]:
        held = self.by_value.get((prop_type, value), {})
        return held if len(held) <= HUB_LIMIT else {}


def _event(eid: str, stmts: list[_Stmt], props: dict[str, list[_Stmt]], vals: dict[str, list[str]],
           when: str | None, canon: dict[str, str]) -> GraphEvent:
    """The event record of an Event entity: kind, date, place, coordinates and who took part."""
    lat = lon = None
    for text in vals.get("summary", []):
        m = _LATLON.match(text)
        if m:
            lat, lon = float(m.group(1)), float(m.group(2))
            break
    involved: dict[str, list[str]] = {}
    for x in props.get("involved", []):
        involved.setdefault(canon.get(x.value, x.value), []).append(str(x.id))
    own = [str(x.id) for x in stmts if x.prop != "involved"]
    return GraphEvent(canon.get(eid, eid), _event_kind(vals.get("name", []) + vals.get("summary", [])),
                      next(iter(vals.get("name", [])), None), when, next(iter(vals.get("address", [])), None),
                      next(iter(vals.get("country", [])), None), lat, lon, list(involved), list(involved.values()),
                      own, _grading(stmts))


def _relation_edges(rows: list[_Stmt], canon: dict[str, str], schema_of: dict[str, str],
                    holders: _Holders, events: list[GraphEvent] | None = None) -> list[Edge]:
    """Edges from relationship entities (Payment, Call, Ownership, Event...), endpoints mapped to canonical ids;
    Event entities are also appended to `events`."""
    by_entity: dict[str, list[_Stmt]] = defaultdict(list)
    for r in rows:
        by_entity[r.entity].append(r)
    out: list[Edge] = []

    def c(eid: str) -> str:
        return canon.get(eid, eid)

    for eid, stmts in by_entity.items():
        schema = stmts[0].schema
        props: dict[str, list[_Stmt]] = defaultdict(list)
        for s in stmts:
            props[s.prop].append(s)
        vals = {k: [s.value for s in v] for k, v in props.items()}
        grading = _grading(stmts)
        when = _date(vals.get("date", []) + vals.get("startDate", []))
        if schema in PAIR_PROPS:
            for a_prop, b_prop, kind in PAIR_PROPS[schema]:
                if not (props.get(a_prop) and props.get(b_prop)):
                    continue
                amount = _amount(next(iter(vals.get("amount", [])), None)) if kind == "payment" else None
                currency = next(iter(vals.get("currency", [])), None) if kind == "payment" else None
                for sa in props[a_prop]:
                    for sb in props[b_prop]:
                        u, v = c(sa.value), c(sb.value)
                        if u == v:
                            continue
                        t = kind
                        if kind == "ownership" and schema_of.get(sb.value) == "Vehicle":
                            t = "vehicle_use"
                        out.append(Edge(u, v, t, first=when, amount=amount, currency=currency, grading=grading,
                                        statements=[str(sa.id), str(sb.id)]))
                break
            if schema == "Payment":  # who holds which account
                for person, account in (("payer", "payerAccount"), ("beneficiary", "beneficiaryAccount")):
                    for sp in props.get(person, []):
                        for sa in props.get(account, []):
                            if c(sp.value) != c(sa.value):
                                out.append(Edge(c(sp.value), c(sa.value), "ownership", first=when, grading=grading,
                                                statements=[str(sp.id), str(sa.id)]))
        elif schema == "Call":
            for sa in props.get("callerNumber", []):
                for sb in props.get("receiverNumber", []):
                    for u in holders.of(sa.prop_type, sa.value):
                        for v in holders.of(sb.prop_type, sb.value):
                            if u != v:
                                out.append(Edge(u, v, "call", first=when, grading=grading,
                                                statements=[str(sa.id), str(sb.id)]))
        elif schema == "Event":
            if events is not None:
                events.append(_event(eid, stmts, props, vals, when, canon))
            involved = props.get("involved", [])
            if len(involved) > EVENT_LIMIT:
                continue
            kind = _event_type(vals.get("name", []) + vals.get("summary", []))
            seen = {}
            for s in involved:
                seen.setdefault(c(s.value), s)
            for (u, su), (v, sv) in combinations(seen.items(), 2):
                out.append(Edge(u, v, kind, first=when, grading=grading, statements=[str(su.id), str(sv.id)]))
        elif schema == "UserAccount":
            for s in props.get("owner", []):
                if c(s.value) != c(eid):
                    out.append(Edge(c(s.value), c(eid), "ownership", grading=grading, statements=[str(s.id)]))
    return out


def _shared_edges(holders: _Holders, keys: Iterable[tuple[str, str]] | None = None,
                  new: set[int] | None = None) -> list[Edge]:
    """Pairs of canonical entities holding the same identifier value (hubs skipped); with `new`, only pairs
    that one of those statement ids takes part in."""
    out = []
    for key in (keys if keys is not None else list(holders.by_value)):
        held = holders.of(*key)
        if len(held) < 2:
            continue
        kind = SHARED_TYPE.get(key[0], "shared_identifier")
        for (u, su), (v, sv) in combinations(sorted(held.items()), 2):
            if new is not None and not any(s.id in new for s in su + sv):
                continue
            out.append(Edge(u, v, kind, grading=_grading(su + sv),
                            statements=[str(s.id) for s in su + sv]))
    return out


def _row_edges(conn, batch_id: int | None) -> list[Edge]:
    """vehicle_use links between a person and the vehicles or boats one source row records with them (a stop
    check naming the van, an arrest naming the car, an interception naming the boat and engine): the agencies'
    mappings give these rows no relationship entity, so without this the vehicle hangs alone in the graph."""
    s = tables.statements
    where = s.c.schema.in_(ROW_ASSETS)
    if batch_id is not None:
        where &= s.c.batch_id == batch_id
    q = (select(s.c.batch_id, s.c.record_no, s.c.entity_id, func.min(s.c.id), func.max(s.c.grading))
         .where(where).group_by(s.c.batch_id, s.c.record_no, s.c.entity_id))
    assets: dict[tuple[int, int], list[tuple[str, int, str | None]]] = defaultdict(list)
    for b, r, eid, sid, grading in conn.execute(q):
        assets[(b, r)].append((eid, sid, grading))
    if not assets:
        return []
    batches = sorted({b for b, _ in assets})
    q = (select(s.c.batch_id, s.c.record_no, s.c.entity_id, func.min(s.c.id), func.max(s.c.grading))
         .where(s.c.batch_id.in_(batches) & (s.c.schema == "Person"))
         .group_by(s.c.batch_id, s.c.record_no, s.c.entity_id))
    out = []
    for b, r, person, sid, grading in conn.execute(q):
        for asset, aid, agrading in assets.get((b, r), ()):
            out.append(Edge(person, asset, "vehicle_use", grading=grading or agrading, statements=[str(sid), str(aid)]))
    return out


def _canonical(edges: list[Edge], canon: dict[str, str]) -> list[Edge]:
    """Edges between source entities re-pointed at their canonical entities (pairs that fall into one dropped)."""
    out = []
    for e in edges:
        e.source, e.target = canon.get(e.source, e.source), canon.get(e.target, e.target)
        if e.source != e.target:
            out.append(e)
    return out


def _holder_where():
    s = tables.statements
    return s.c.schema.in_(HOLDER_SCHEMAS) & s.c.prop_type.in_(tuple(SHARED_TYPE))


def _canonical_schemas(canon: dict[str, str], schema_of: dict[str, str], ids: Iterable[str]) -> dict[str, str]:
    want = set(ids)
    return {c: schema_of[e] for e, c in canon.items() if c in want}


def _edges(conn, batch_id: int | None) -> tuple[list[Edge], dict[str, str], list[GraphEvent]]:
    s = tables.statements
    canon, schema_of = _entities(conn)
    events: list[GraphEvent] = []
    if batch_id is None:
        rel = _rows(conn, s.c.schema.in_(RELATION_SCHEMAS))
        held = _rows(conn, _holder_where())
        holders = _Holders(held, canon)
        edges = (_relation_edges(rel, canon, schema_of, holders, events) + _shared_edges(holders)
                 + _canonical(_row_edges(conn, None), canon))
        return edges, _canonical_schemas(canon, schema_of, canon.values()), events
    rel = _rows(conn, s.c.schema.in_(RELATION_SCHEMAS) & (s.c.batch_id == batch_id))
    mine = _rows(conn, _holder_where() & (s.c.batch_id == batch_id))
    phones = {r.value for r in rel if r.prop_type == "phone"} | {r.value for r in mine}
    held = []
    values = sorted(phones)
    for i in range(0, len(values), 500):
        held += _rows(conn, _holder_where() & s.c.value.in_(values[i:i + 500]))
    holders = _Holders(held, canon)
    keys = {(r.prop_type, r.value) for r in mine}
    edges = (_relation_edges(rel, canon, schema_of, holders, events)
             + _shared_edges(holders, keys, {r.id for r in mine}) + _canonical(_row_edges(conn, batch_id), canon))
    e = tables.entities
    nodes = sorted({cid for (cid,) in conn.execute(select(func.coalesce(e.c.canonical_id, e.c.id))
                                                   .where(e.c.batch_id == batch_id))})
    return edges, _canonical_schemas(canon, schema_of, nodes), events


def build(store: Store, nodes: bool = True) -> GraphIndex:
    """A GraphIndex of the whole store; with `nodes`, every canonical entity is a node, linked or not."""
    ix = GraphIndex()
    with store.engine.connect() as conn:
        edges, schemas, events = _edges(conn, None)
    if nodes:
        ix.set_schema(dict(sorted(schemas.items())))
    ix.add_edges(edges)
    ix.add_events(events)
    if not nodes:
        ix.set_schema({k: v for k, v in schemas.items() if k in ix})
    return ix


def update_from_batch(ix: GraphIndex, store: Store, batch_id: int) -> int:
    """Add the links one ingested batch contributes, without a rebuild; returns how many new pairs appeared.

    Relationship entities of the batch are linked against the whole store (a call's numbers are looked up among
    everyone's phones); shared identifiers count only pairs that a statement of this batch takes part in.
    Calls already in the store to a phone first attributed in this batch are picked up by the next rebuild.
    """
    with store.engine.connect() as conn:
        edges, schemas, events = _edges(conn, batch_id)
    ix.set_schema(dict(sorted(schemas.items())))
    new = ix.add_edges(edges)
    ix.add_events(events)
    return new


def statement_visibility(store: Store, user, statement_ids: Iterable[str]) -> Callable[[str], bool]:
    """A predicate on statement ids: whether `user` may see that statement (tessera.access.policy)."""
    from tessera.access.policy import may_see_statement

    s = tables.statements
    ids = sorted({int(x) for x in statement_ids})
    visible: set[str] = set()
    with store.engine.connect() as conn:
        for i in range(0, len(ids), 5000):
            q = select(s.c.id, s.c.agency, s.c.classification, s.c.caveat, s.c.release_to, s.c.grading).where(
                s.c.id.in_(ids[i:i + 5000]))
            for row in conn.execute(q):
                if may_see_statement(user, row._mapping):
                    visible.add(str(row.id))
    return visible.__contains__


def all_statements(ix: GraphIndex) -> set[str]:
    """Every statement id some link or event of the index rests on."""
    out = {sid for row in range(ix.num_links) for sid in ix.statements(row)}
    for ev in ix.events:
        out.update(ev.all_statements())
    return out
