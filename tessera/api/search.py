"""Search across scripts and identifiers, entity profiles and pointers, reading only what the viewer may see."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache, lru_cache

from sqlalchemy import Connection, and_, bindparam, func, or_, select

from tessera.access.deconfliction import searched as tell_owner
from tessera.access.policy import User, decide, visible_clause
from tessera.api import search_index
from tessera.api.tables import search_keys
from tessera.intake.normalise import phone
from tessera.resolve.engine import load_model
from tessera.resolve.names import NameKeys, sound_skeleton
from tessera.store import tables

NAME_TYPES = ("name",)
IDENTIFIER_TYPES = ("identifier", "iban", "email")  # compared with spaces, dashes and dots stripped
POINTER_KEY_ENV = "TESSERA_POINTER_KEY"
_SPACES = re.compile(r"[\s\-./]+")


@cache
def name_keys() -> NameKeys:
    model = load_model()
    return NameKeys(model["name_equivalents"], model["name_stopwords"])


def name_key(text: str) -> tuple[str, ...]:
    """The search key of a name: rigour-folded tokens, equivalent spellings joined, sound skeletons, sorted."""
    return tuple(sorted(sound_skeleton(t) for t in name_keys().tokens(text)))


def matches(query_key: tuple[str, ...], value_key: tuple[str, ...]) -> bool:
    """Every token of the query appears in the name (Muhammad Karimi finds Mohammed Al-Karimi Hassan)."""
    if not query_key:
        return False
    remaining = list(value_key)
    for token in query_key:
        if token not in remaining:
            return False
        remaining.remove(token)
    return True


def identifier_candidates(text: str, region: str = "GB") -> set[str]:
    """The stored spellings an identifier query may match: E.164 for phones, spaces stripped for the rest."""
    raw = text.strip()
    out = {raw, _SPACES.sub("", raw), _SPACES.sub("", raw).upper(), raw.upper()}
    e164, _ = phone(raw, region)
    if e164:
        out.add(e164)
    return {c for c in out if c}


def pointer_reference(canonical_id: str) -> str:
    """An opaque reference to an entity: HMAC-SHA256 of its canonical id, which the owner can recompute."""
    key = os.environ.get(POINTER_KEY_ENV, "tessera-pointer").encode("utf-8")
    return hmac.new(key, canonical_id.encode("utf-8"), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4096)
def _visible(user: User):
    """The policy's clause for a user, built once (a viewer's clause depends only on who they are)."""
    return visible_clause(user)


def _canon_col():
    e = tables.entities
    return func.coalesce(e.c.canonical_id, e.c.id)


def _marking_cols():
    s = tables.statements
    return s.c.agency, s.c.classification, s.c.caveat, s.c.release_to, s.c.grading


@lru_cache(maxsize=65_536)
def _admits(user: User, agency: str, classification: str, caveat: str | None, release_to: str | None,
            grading: str | None) -> bool:
    """The policy's Python form for one owner and marking (a store holds few distinct ones: each is decided once)."""
    return decide(user, agency, classification, caveat, release_to, grading).allowed


# The hot queries are built once (per viewer where the policy's clause is in them) with bound parameters:
# building a statement and computing SQLAlchemy's cache key of the policy's clause cost more than running it.
_MAX_KEYS = 16  # name keys a search query uses at most (longer queries are cut; every hit is still checked)


@cache
def _name_hits(keys: int):
    """Statements (id <= :upto) holding the key :d0 or :d1 and every name key :k1 .. :k<keys-1>, with their entity,
    canonical id and owner and marking (_marking_cols). Driven by the rows of :d0 and :d1 (see _name_plan), each
    probed for the other keys in the (key, statement_id) index."""
    s, e = tables.statements, tables.entities
    first = search_keys.alias("k0")
    query = (select(s.c.entity_id, s.c.value, _canon_col(), *_marking_cols())
             .select_from(first.join(s, s.c.id == first.c.statement_id).outerjoin(e, e.c.id == s.c.entity_id))
             .where(first.c.key.in_([bindparam("d0"), bindparam("d1")]), first.c.statement_id <= bindparam("upto")))
    for i in range(1, keys):
        other = search_keys.alias(f"k{i}")
        query = query.where(select(other.c.statement_id).where(
            other.c.key == bindparam(f"k{i}"), other.c.statement_id == first.c.statement_id).exists())
    return query


def _name_plan(key: tuple[str, ...]) -> dict[str, str]:
    """The index keys a name search reads, as _name_hits' parameters: the keys that drive it (every matching name
    holds one) and the keys each driving row must also hold.

    One token: its own key drives. Two or more: the pair key of the two longest tokens (the rarest, as a rule;
    a token alone can be shared by thousands of names, a pair rarely is), and LONG_NAME (names too long to
    be keyed by pairs); then every token is probed, which the long names need."""
    if len(key) == 1:
        drivers = ["n:" + key[0]] * 2
    else:
        longest = sorted(key, key=lambda t: (-len(t), t))
        drivers = [search_index.pair_key(longest[0], longest[1]), search_index.LONG_NAME]
    probes = sorted({"n:" + t for t in key}, key=lambda k: (-len(k), k))[:_MAX_KEYS - 1] if len(key) > 1 else []
    return dict(d0=drivers[0], d1=drivers[1]) | {f"k{i}": k for i, k in enumerate(probes, 1)}


@cache
def _identifier_hits():
    """Statements (id <= :upto) holding any of the identifier keys :keys, as _name_hits."""
    s, e, k = tables.statements, tables.entities, search_keys
    return (select(s.c.entity_id, s.c.value, _canon_col(), *_marking_cols())
            .select_from(k.join(s, s.c.id == k.c.statement_id).outerjoin(e, e.c.id == s.c.entity_id))
            .where(k.c.key.in_(bindparam("keys", expanding=True)), k.c.statement_id <= bindparam("upto")))


def _bounded(result, max_rows: int | None):
    """The rows of a result, raising ManyHits (and closing it) past `max_rows` of them."""
    if max_rows is None:
        yield from result
        return
    for n, row in enumerate(result, 1):
        if n > max_rows:
            result.close()
            raise ManyHits(f"more than {max_rows} statements to read")
        yield row


def _matching_entities(connection: Connection, q: str, user: User, max_tail: int | None = None,
                       max_rows: int | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Entities whose statements match the query, as two maps source entity id -> canonical id: those matching
    through statements the user may see, and those matching through statements the user may not see.

    One pass serves both: each candidate statement is read with its owner and marking, and the policy's Python
    form (`decide`, which tests/test_access_policy.py keeps equal to the SQL form) says whether the viewer may
    see it -- once per distinct marking, not once per row as the SQL form would (on SQLite its regular
    expressions are Python functions called about ten times a row: most of the cost of a common name's
    thousands of candidates). Nothing of a candidate reaches the answer but its ids; what is shown is read
    again through the SQL form (_visible_values).
    Statements the search-key index covers are found through it, joined to their statement rows in one query;
    newer ones (the tail) are read by id range and compared here, as the index would have keyed them.

    LongTail when more than `max_tail` statements lie past the index, ManyHits when the index gives more than
    `max_rows` candidate statements (both before much is read: the caller may run the search elsewhere).
    """
    s, e = tables.statements, tables.entities
    shown: dict[str, str] = {}
    hidden: dict[str, str] = {}
    key = name_key(q)
    digits = any(ch.isdigit() for ch in q)
    if not key and not digits:
        return shown, hidden
    upto, newest = search_index.span(connection)
    if max_tail is not None and newest - upto > max_tail:
        raise LongTail(f"{newest - upto} statements are not in the search-key index")
    compact = _SPACES.sub("", q).upper()
    spellings = sorted(identifier_candidates(q)) if digits else []

    def hit(eid: str, cid: str | None, marking) -> None:
        (shown if _admits(user, *marking) else hidden)[eid] = cid or eid

    if upto:
        if key:
            params = _name_plan(key) | dict(upto=upto)
            # The index's keys say which parts a name has, not how often: they decide a match alone unless the
            # query repeats a part (or has more distinct parts than are probed), and a name search of a common
            # part can then read thousands of rows without keying a name in Python.
            check = len(set(key)) != len(key) or len(set(key)) > _MAX_KEYS - 1
            rows = connection.execute(_name_hits(len(params) - 2), params)
            for eid, value, cid, *marking in _bounded(rows, max_rows):
                if not check or matches(key, name_key(value)):
                    hit(eid, cid, marking)
        if digits:
            keys = sorted({f"v:{c}" for c in spellings} | {f"c:{compact}"})
            rows = connection.execute(_identifier_hits(), dict(keys=keys, upto=upto))
            for eid, _value, cid, *marking in _bounded(rows, max_rows):
                hit(eid, cid, marking)
    if newest > upto:
        wanted = set(spellings)
        tail = (select(s.c.entity_id, s.c.prop_type, s.c.value, _canon_col(), *_marking_cols())
                .select_from(s.outerjoin(e, e.c.id == s.c.entity_id)).where(s.c.id > upto).order_by(s.c.id))
        for eid, prop_type, value, cid, *marking in connection.execution_options(yield_per=20_000).execute(tail):
            if prop_type in NAME_TYPES:
                if key and matches(key, name_key(value)):
                    hit(eid, cid, marking)
            elif digits and prop_type != "entity" and (
                    value in wanted or (prop_type in IDENTIFIER_TYPES and search_index.compact(value) == compact)):
                hit(eid, cid, marking)
    return shown, hidden


class Heavy(Exception):
    """A search would read more than the caller wants read where it runs (see routes_core)."""


class LongTail(Heavy):
    """More statements lie past the search-key index than the caller wants scanned."""


class ManyHits(Heavy):
    """The search-key index gives more candidate statements than the caller wants read."""


@dataclass
class Value:
    prop: str
    value: str
    agency: str
    statement: int
    schema: str
    source_entity: str
    prop_type: str
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(prop=self.prop, value=self.value, agency=self.agency, statement=self.statement,
                    source_entity=self.source_entity, **self.extra)


@lru_cache(maxsize=1024)
def _values_query(user: User, provenance: bool):
    """The statements the user may see of the canonical groups bound as :ids, oldest first."""
    s, e, b = tables.statements, tables.entities, tables.batches
    ids = bindparam("ids", expanding=True)
    cols = [_canon_col().label("canon"), s.c.id, s.c.entity_id, s.c.schema, s.c.prop, s.c.prop_type, s.c.value,
            s.c.agency]
    if provenance:
        cols += [s.c.original, s.c.record_no, s.c.classification, s.c.caveat, s.c.release_to, s.c.grading,
                 b.c.file_name, b.c.received_at, b.c.id.label("batch")]
    return (select(*cols).select_from(s.join(e, e.c.id == s.c.entity_id).join(b, b.c.id == s.c.batch_id))
            .where(or_(e.c.canonical_id.in_(ids), e.c.id.in_(ids)))
            .where(_visible(user)).order_by(s.c.id))


def _visible_values(connection: Connection, user: User, canonical_ids: list[str],
                    provenance: bool = False) -> dict[str, list[Value]]:
    """canonical id -> every statement the user may see of the entities in that canonical group."""
    out: dict[str, list[Value]] = defaultdict(list)
    query = _values_query(user, provenance)
    for i in range(0, len(canonical_ids), 500):
        for r in connection.execute(query, dict(ids=canonical_ids[i:i + 500])):
            extra = {}
            if provenance:
                received = r.received_at.isoformat() if hasattr(r.received_at, "isoformat") else r.received_at
                extra = dict(schema=r.schema, original=r.original, file=r.file_name, row=r.record_no,
                             batch=r.batch, received_at=received, grading=r.grading,
                             marking=dict(classification=r.classification, caveat=r.caveat,
                                          release_to=r.release_to))
            out[r.canon].append(Value(r.prop, r.value, r.agency, r.id, r.schema, r.entity_id, r.prop_type, extra))
    return out


@lru_cache(maxsize=1024)
def _seen_query(user: User):
    """The canonical groups bound as :ids of which the user may see a statement."""
    s, e, b = tables.statements, tables.entities, tables.batches
    ids = bindparam("ids", expanding=True)
    return (select(_canon_col()).distinct()
            .select_from(s.join(e, e.c.id == s.c.entity_id).join(b, b.c.id == s.c.batch_id))
            .where(or_(e.c.canonical_id.in_(ids), e.c.id.in_(ids))).where(_visible(user)))


def _groups_seen(connection: Connection, user: User, canonical_ids: list[str]) -> set[str]:
    """Those of the canonical groups of which the user may see a statement (_visible_values, without the values)."""
    query = _seen_query(user)
    return {r[0] for i in range(0, len(canonical_ids), 500)
            for r in connection.execute(query, dict(ids=canonical_ids[i:i + 500]))}


def _caption(values: list[Value]) -> str | None:
    for prop in ("name", "registrationNumber", "number", "iban", "title"):
        for v in values:
            if v.prop == prop:
                return v.value
    return None


def search(connection: Connection, user: User, q: str, limit: int, offset: int, max_tail: int | None = None,
           max_rows: int | None = None) -> dict:
    """Visible matches grouped by canonical entity, pointers to matches the user cannot see at all, and the owners
    to tell of the search ("notices", for tell_owners: a write, left to the caller).

    LongTail when more than `max_tail` statements lie past the search-key index (they would be scanned), ManyHits
    when the index gives more than `max_rows` candidate statements."""
    found, hidden = _matching_entities(connection, q, user, max_tail, max_rows)
    canonical = sorted(set(found.values()))
    # Only the page's groups are read: a common name can match thousands of entities, and reading the values of
    # all of them to show twenty cost most of such a search. Every group in `canonical` matched through a
    # statement the viewer may see, so it has visible values; one that has none by the time they are read (an
    # entity re-resolved in between) is skipped, and the page filled from the groups after it.
    results, empty, at = [], 0, offset
    while len(results) < limit and at < len(canonical):
        chunk = canonical[at:at + limit - len(results)]
        at += len(chunk)
        values = _visible_values(connection, user, chunk)
        for cid in chunk:
            vals = values.get(cid)
            if not vals:
                empty += 1
                continue
            props: dict[str, list[dict]] = defaultdict(list)
            for v in vals:
                if v.prop_type != "entity":
                    props[v.prop].append(dict(value=v.value, agency=v.agency))
            results.append(dict(id=cid, caption=_caption(vals), schemas=sorted({v.schema for v in vals}),
                                agencies=sorted({v.agency for v in vals}),
                                names=list(dict.fromkeys(v.value for v in vals if v.prop_type in NAME_TYPES)),
                                properties=dict(props)))
    pointers, notices = _pointers(connection, user, hidden, set(found.values()))
    return dict(query=q, total=len(canonical) - empty, limit=limit, offset=offset,
                results=results, pointers=pointers, notices=notices)


def tell_owners(engine, user: User, notices: list[tuple[str, str | None, str]]) -> None:
    """Tell the owners of what a search met (search's "notices"), each in its own transaction on `engine`."""
    for agency, policy, cid in notices:
        tell_owner(engine, user, agency, policy, cid)


def _pointers(connection: Connection, user: User, hidden: dict[str, str],
              seen: set[str]) -> tuple[list[dict], list[tuple[str, str | None, str]]]:
    """Entities matching the query that the user can see nothing of, owned by an agency with an open hit policy;
    and the owners to tell of the search, as (agency, hit policy, canonical id).

    `hidden`: source entity id -> canonical id of the entities matching through statements the user may not see."""
    hidden_canon = sorted(set(hidden.values()) - seen)
    notices: list[tuple[str, str | None, str]] = []
    if not hidden_canon:
        return [], notices
    # A canonical group with any visible statement was already shown (or its visible part did not match);
    # point only at groups the user sees nothing of.
    shown = _groups_seen(connection, user, hidden_canon)
    pointed = [cid for cid in hidden_canon if cid not in shown]
    wanted = set(pointed)
    sources = sorted(eid for eid, cid in hidden.items() if cid in wanted)
    owners_of: dict[str, list] = defaultdict(list)
    query = _owners_query()
    for i in range(0, len(sources), 500):
        for cid, agency, contact, policy in connection.execute(query, dict(sources=sources[i:i + 500])):
            owners_of[cid].append((agency, contact, policy))
    pointers: dict[tuple[str, str], dict] = {}
    for cid in pointed:
        for agency, contact, policy in sorted(set(owners_of.get(cid, ())), key=lambda o: o[0] or ""):
            notices.append((agency, policy, cid))  # open or silent: the owner is told
            if (policy or "open") != "open":
                continue
            pointers[(agency, cid)] = dict(agency=agency, contact=contact, reference=pointer_reference(cid),
                                           canonical_id=cid)
    return sorted(pointers.values(), key=lambda p: (p["agency"], p["reference"])), notices


@cache
def _owners_query():
    """Canonical id and owning agency (contact, hit policy) of the statements of the source entities :sources."""
    s, e, a = tables.statements, tables.entities, tables.agencies
    return (select(_canon_col(), s.c.agency, a.c.contact, a.c.hit_policy).distinct()
            .select_from(s.join(e, e.c.id == s.c.entity_id).outerjoin(a, a.c.code == s.c.agency))
            .where(s.c.entity_id.in_(bindparam("sources", expanding=True))))


@lru_cache(maxsize=1024)
def _named_query(user: User):
    """A statement the user may see of the source entity :source, or naming it."""
    s = tables.statements
    source = bindparam("source")
    return select(s.c.id).where(_visible(user)).where(or_(
        s.c.entity_id == source, and_(s.c.prop_type == "entity", s.c.value == source))).limit(1)


def _named(connection: Connection, user: User, source_id: str) -> bool:
    """Whether the user may know of a source entity: they see a statement of it, or one naming it."""
    return connection.execute(_named_query(user), dict(source=source_id)).first() is not None


def _entity_row():
    """The canonical id of the entity :entity (a source or canonical id), and whether it is a source id."""
    e = tables.entities
    wanted = bindparam("entity")
    return (select(_canon_col(), e.c.id == wanted).where(or_(e.c.id == wanted, e.c.canonical_id == wanted))
            .order_by((e.c.id == wanted).desc()).limit(1))


_ENTITY_ROW = _entity_row()


def profile(connection: Connection, user: User, entity_id: str) -> dict | None:
    """Every value the user may see of an entity (by canonical or source id), with provenance; None if nothing.

    A source id the user may not know of is not found, even when it was joined to an entity they may see (else
    its answer would tell that a hidden record exists and to whom it was joined)."""
    row = connection.execute(_ENTITY_ROW, dict(entity=entity_id)).first()
    if row is None or (row[1] and not _named(connection, user, entity_id)):
        return None
    cid = row[0]
    vals = _visible_values(connection, user, [cid], provenance=True).get(cid, [])
    if not vals:
        return None
    return dict(id=cid, caption=_caption(vals), schemas=sorted({v.schema for v in vals}),
                agencies=sorted({v.agency for v in vals}),
                source_entities=sorted({v.source_entity for v in vals}),
                values=[v.as_dict() | dict(prop_type=v.prop_type) for v in vals])
