"""Resolution: load source entities, join exact identifier keys, score Person pairs, cluster, write canonical ids."""

from __future__ import annotations

import hashlib
import itertools
import math
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz
from sqlalchemy import bindparam, select, update

from tessera.resolve.names import NameKeys, is_latin, skeleton
from tessera.store import tables
from tessera.store.store import Store

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


@dataclass
class Entity:
    id: str
    schema: str
    canonical_id: str | None
    props: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def load_entities(store: Store, schemas: set[str] | None = None) -> dict[str, Entity]:
    """Every source entity, with the normalised values of its statements (schemas limits the statements)."""
    e, s = tables.entities, tables.statements
    out: dict[str, Entity] = {}
    with store.engine.connect() as conn:
        for eid, schema, canon in conn.execute(select(e.c.id, e.c.schema, e.c.canonical_id)):
            out[eid] = Entity(eid, schema, canon)
        query = select(s.c.entity_id, s.c.prop, s.c.value).where(s.c.prop_type != "entity")
        if schemas:
            query = query.where(s.c.schema.in_(sorted(schemas)))
        for eid, prop, value in conn.execution_options(yield_per=50_000).execute(query):
            ent = out.get(eid)
            if ent is not None:
                ent.props[prop].add(value)
    return out


# ---------------------------------------------------------------- union-find with conflict guard

class Clusters:
    """Union-find whose roots remember document numbers and birth years, to refuse conflicting merges."""

    def __init__(self, ids: list[str], year_gap: int):
        self.parent = list(range(len(ids)))
        self.size = [1] * len(ids)
        self.docs: dict[int, dict[str, set[str]]] = {}
        self.years: dict[int, tuple[int, int]] = {}
        self.year_gap = year_gap
        self.refused = 0

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return i

    def conflict(self, a: int, b: int) -> bool:
        da, db = self.docs.get(a), self.docs.get(b)
        if da and db:
            for kind, values in da.items():
                other = db.get(kind)
                if other and values.isdisjoint(other):
                    return True
        ya, yb = self.years.get(a), self.years.get(b)
        if ya and yb and max(ya[1], yb[1]) - min(ya[0], yb[0]) > self.year_gap:
            return True
        return False

    def union(self, i: int, j: int, guard: bool = True) -> bool:
        a, b = self.find(i), self.find(j)
        if a == b:
            return True
        if guard and self.conflict(a, b):
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
        return True


# ---------------------------------------------------------------- Person features and scoring

@dataclass
class PersonFeatures:
    names: list[tuple[str, ...]]
    skeletons: list[tuple[str, ...]]
    scripts: list[bool]
    dobs: list[tuple[int, int | None, int | None]]
    nationality: set[str]
    gender: set[str]
    phones: set[str]
    docs: dict[str, set[str]]
    name_count: int = 1  # how many Person records carry this name (skeleton key): common names weigh less

    def name_keys(self) -> set[str]:
        return {" ".join(sorted(sk)) for sk in self.skeletons}


def parse_date(value: str) -> tuple[int, int | None, int | None] | None:
    parts = value.split("-")
    try:
        y = int(parts[0])
        m = int(parts[1]) if len(parts) > 1 else None
        d = int(parts[2][:2]) if len(parts) > 2 else None
    except ValueError:
        return None
    return y, m, d


def person_features(ent: Entity, keys: NameKeys) -> PersonFeatures:
    p = ent.props
    raw_names = sorted(p.get("name", set()) | p.get("alias", set()))
    if not raw_names and (p.get("firstName") or p.get("lastName")):
        raw_names = [" ".join(sorted(p.get("firstName", ())) + sorted(p.get("lastName", ())))]
    names, skels, latin = [], [], []
    for raw in raw_names:
        toks = keys.tokens(raw)
        if toks:
            names.append(toks)
            skels.append(tuple(skeleton(t) for t in toks))
            latin.append(is_latin(raw))
    dobs = [d for d in (parse_date(v) for v in sorted(p.get("birthDate", ()))) if d]
    docs = {k: set(p[k]) for k in PERSON_DOCS if p.get(k)}
    return PersonFeatures(names, skels, latin, dobs, set(p.get("nationality", ())), set(p.get("gender", ())),
                          set(p.get("phone", ())), docs)


def name_score(a: PersonFeatures, b: PersonFeatures) -> float:
    best = 0.0
    for ta, sa, la in zip(a.names, a.skeletons, a.scripts):
        ja = " ".join(ta)
        for tb, sb, lb in zip(b.names, b.skeletons, b.scripts):
            jb = " ".join(tb)
            s = fuzz.token_sort_ratio(ja, jb)
            if s < 97:
                s = max(s, token_alignment(ta, sa, tb, sb))
                # skeletons carry transliteration from Arabic script (no short vowels)
                sk = fuzz.token_sort_ratio(" ".join(sa), " ".join(sb))
                s = max(s, sk - (0 if (la and lb) is False else 6))
            if s > best:
                best = s
                if best >= 100:
                    return best
    return best


def token_alignment(ta, sa, tb, sb) -> float:
    """Tokens of the shorter name matched one-to-one (greedily, best first) with tokens of the other (the
    same skeleton counts 90), averaged weighted by length; each unmatched token of the longer costs 12."""
    if len(ta) > len(tb):
        ta, sa, tb, sb = tb, sb, ta, sa
    if not ta:
        return 0.0
    cand = []
    for i, (tok, sk) in enumerate(zip(ta, sa)):
        for j, (tok2, sk2) in enumerate(zip(tb, sb)):
            r = fuzz.ratio(tok, tok2)
            if sk == sk2 and r < 90:
                r = 90.0
            cand.append((r, i, j))
    cand.sort(reverse=True)
    used_i, used_j = set(), set()
    total = 0.0
    for r, i, j in cand:
        if i in used_i or j in used_j:
            continue
        used_i.add(i), used_j.add(j)
        total += r * len(ta[i])
    return total / sum(len(t) for t in ta) - 12 * (len(tb) - len(ta))


def dob_level(a: PersonFeatures, b: PersonFeatures) -> tuple[str, int | None]:
    """Best agreement level over the two records' dates, and the smallest year gap."""
    if not a.dobs or not b.dobs:
        return "missing", None
    order = ["exact", "day_month_swap", "one_year_same_day", "estimate_same_year", "both_estimated",
             "year_only_same",
             "same_year", "one_year", "conflict"]
    best, gap = "conflict", 99
    for (y1, m1, d1), (y2, m2, d2) in itertools.product(a.dobs, b.dobs):
        dy = abs(y1 - y2)
        gap = min(gap, dy)
        if dy == 0:
            if m1 is None or m2 is None or d1 is None or d2 is None:
                lvl = "year_only_same"
            elif (m1, d1) == (m2, d2):
                lvl = "exact" if (m1, d1) != (1, 1) else "both_estimated"
            elif (m1, d1) == (d2, m2):
                lvl = "day_month_swap"
            elif (m1, d1) == (1, 1) or (m2, d2) == (1, 1):
                lvl = "estimate_same_year"
            else:
                lvl = "same_year"
        elif dy == 1:
            same_day = (m1, d1) == (m2, d2) and m1 is not None and (m1, d1) != (1, 1)
            lvl = "one_year_same_day" if same_day else "one_year"
        else:
            lvl = "conflict"
        if order.index(lvl) < order.index(best):
            best = lvl
    return best, gap


def score_pair(a: PersonFeatures, b: PersonFeatures, model: dict) -> tuple[float, bool]:
    """(log2 weight, refused) for two Person records."""
    for kind, values in a.docs.items():
        other = b.docs.get(kind)
        if other and values.isdisjoint(other) and model["refuse"]["document_conflict"]:
            return -99.0, True
    lvl, gap = dob_level(a, b)
    if gap is not None and gap > model["refuse"]["dob_year_gap"]:
        return -99.0, True
    w = model["prior"]
    ns = name_score(a, b)
    for level in model["name"]:
        if ns >= level["min"]:
            w += level["weight"]
            break
    tf = model.get("name_frequency")
    if tf and ns >= tf["applies_from"]:
        common = min(a.name_count, b.name_count)
        if common > tf["expected"]:
            w -= min(tf["max_penalty"], tf["weight"] * math.log2(common / tf["expected"]))
    dob_w = model["dob"]
    w += dob_w.get(lvl, dob_w["conflict"])
    if a.nationality and b.nationality:
        w += model["nationality"]["same" if a.nationality & b.nationality else "different"]
    if a.gender and b.gender and a.gender.isdisjoint(b.gender):
        w += model["gender"]["different"]
    if a.phones & b.phones:
        w += model["shared_phone"]
    if any(a.docs[k] & b.docs.get(k, set()) for k in a.docs):
        w += model["shared_document"]
    return w, False


def person_blocks(f: PersonFeatures) -> set[tuple]:
    keys: set[tuple] = set()
    years = {d[0] for d in f.dobs}
    for sk in f.skeletons:
        toks = sorted({t for t in sk if len(t) >= 2})
        for t in toks:
            for y in years:
                keys.add(("ty", t, y))
        for t1, t2 in itertools.combinations(toks, 2):
            keys.add(("tt", t1, t2))
    for phone in f.phones:
        keys.add(("ph", phone))
    for kind, values in f.docs.items():
        for v in values:
            keys.add(("doc", kind, v))
    return keys


# ---------------------------------------------------------------- the run

@dataclass
class ResolveResult:
    entities: int = 0
    persons: int = 0
    candidate_pairs: int = 0
    pairs_scored: int = 0
    pairs_accepted: int = 0
    merges_refused: int = 0
    exact_key_joins: int = 0
    clusters: int = 0
    multi_clusters: int = 0
    largest_cluster: int = 0
    canonical_changed: int = 0
    blocks_skipped: int = 0
    seconds: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _norm_key(value: str) -> str:
    return _KEY_CLEAN.sub("", value.upper())


def resolve(store: Store, model: dict | None = None, write: bool = True,
            progress: Callable[[str], None] | None = None) -> ResolveResult:
    """Resolve every source entity in the store and (when write) set entities.canonical_id."""
    model = model or load_model()
    res = ResolveResult()
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    say("loading entities")
    ents = load_entities(store, {"Person", *EXACT_KEYS})
    ids = sorted(ents)
    index = {eid: i for i, eid in enumerate(ids)}
    res.entities = len(ids)
    res.seconds["load"] = round(time.perf_counter() - t0, 2)

    clusters = Clusters(ids, model["refuse"]["dob_year_gap"])

    # exact identifier keys
    t1 = time.perf_counter()
    say("joining exact identifier keys")
    first_with_key: dict[tuple, int] = {}
    for eid in ids:
        ent = ents[eid]
        for key_props in EXACT_KEYS.get(ent.schema, ()):
            values = [sorted(ent.props.get(p, ())) for p in key_props]
            if not all(values):
                continue
            for combo in itertools.product(*values):
                key = (ent.schema, key_props, tuple(_norm_key(v) for v in combo))
                i = index[eid]
                j = first_with_key.setdefault(key, i)
                if j != i and clusters.find(i) != clusters.find(j):
                    clusters.union(i, j, guard=False)
                    res.exact_key_joins += 1
    res.seconds["exact"] = round(time.perf_counter() - t1, 2)

    # persons
    t2 = time.perf_counter()
    say("building Person features and blocks")
    keys = NameKeys(model["name_equivalents"], model["name_stopwords"])
    people = [eid for eid in ids if ents[eid].schema == "Person"]
    res.persons = len(people)
    feats = {}
    blocks: dict[tuple, list[int]] = defaultdict(list)
    for eid in people:
        f = person_features(ents[eid], keys)
        i = index[eid]
        feats[i] = f
        if f.docs:
            clusters.docs[i] = {k: set(v) for k, v in f.docs.items()}
        if f.dobs:
            ys = [d[0] for d in f.dobs]
            clusters.years[i] = (min(ys), max(ys))
        for key in person_blocks(f):
            blocks[key].append(i)
    name_counts = Counter(k for f in feats.values() for k in f.name_keys())
    for f in feats.values():
        f.name_count = min((name_counts[k] for k in f.name_keys()), default=1)
    max_block = model["blocking"]["max_block"]
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) < 2:
            continue
        if len(members) > max_block:
            res.blocks_skipped += 1
            continue
        members.sort()
        pairs.update(itertools.combinations(members, 2))
    res.candidate_pairs = len(pairs)
    res.seconds["block"] = round(time.perf_counter() - t2, 2)

    t3 = time.perf_counter()
    say(f"scoring {len(pairs):,} Person pairs")
    threshold = model["threshold"]
    accepted = []
    for i, j in pairs:
        w, refused = score_pair(feats[i], feats[j], model)
        if not refused and w >= threshold:
            accepted.append((w, i, j))
    res.pairs_scored = len(pairs)
    res.pairs_accepted = len(accepted)
    accepted.sort(key=lambda x: (-x[0], x[1], x[2]))
    for _w, i, j in accepted:
        clusters.union(i, j)
    res.merges_refused = clusters.refused
    res.seconds["score_cluster"] = round(time.perf_counter() - t3, 2)

    # canonical ids
    t4 = time.perf_counter()
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(ids)):
        members[clusters.find(i)].append(i)
    res.clusters = len(members)
    res.multi_clusters = sum(1 for m in members.values() if len(m) > 1)
    res.largest_cluster = max((len(m) for m in members.values()), default=0)
    assignment = assign_canonical(ids, [ents[eid].canonical_id for eid in ids], list(members.values()))
    changes = [{"eid": ids[i], "cid": cid} for i, cid in enumerate(assignment) if ents[ids[i]].canonical_id != cid]
    res.canonical_changed = len(changes)
    if write and changes:
        say(f"writing {len(changes):,} canonical ids")
        e = tables.entities
        stmt = update(e).where(e.c.id == bindparam("eid")).values(canonical_id=bindparam("cid"))
        with store.engine.begin() as conn:
            for k in range(0, len(changes), 20_000):
                conn.execute(stmt, changes[k:k + 20_000])
    res.seconds["write"] = round(time.perf_counter() - t4, 2)
    res.seconds["total"] = round(time.perf_counter() - t0, 2)
    return res


def assign_canonical(ids: list[str], previous: list[str | None], groups: list[list[int]]) -> list[str]:
    """Canonical id per entity: a singleton keeps its own id; a cluster inherits the "c-" id most of its
    members held before (the larger cluster wins a contested id), else gets "c-" + its smallest member id."""
    out: list[str] = [""] * len(ids)
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
            cid = "c-" + min(ids[i] for i in g)
            if cid in taken:
                cid = "c-" + hashlib.sha1("|".join(sorted(ids[i] for i in g)).encode()).hexdigest()
        taken.add(cid)
        for i in g:
            out[i] = cid
    for g in groups:
        if len(g) == 1:
            out[g[0]] = ids[g[0]]
    return out
