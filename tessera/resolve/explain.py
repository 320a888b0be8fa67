"""Why two records (or canonical entities) were joined or kept apart: levels, weights, refusals and judgements."""

from __future__ import annotations

import itertools
import threading

import numpy as np
from sqlalchemy import func, select

from tessera.resolve import compare
from tessera.resolve.context import GroupContext, Sightings, context_bonus, eligible, near_reach
from tessera.resolve.engine import (EXACT_KEYS, Entity, _norm_key, attach_accounts, entity_listing, refusals,
                                    run_model, stored_person_table, uses_sightings)
from tessera.store import tables
from tessera.store.store import Store

MAX_PAIRS = 2_000  # member pairs compared between two large canonical entities


_CACHE: dict = {}  # the store state last explained against -> its Person table and context
_CACHE_LOCK = threading.Lock()


class ExplainError(LookupError):
    """An id that is neither a source entity nor a canonical entity."""


def _members(conn, ident: str) -> tuple[list[str], str | None]:
    """(source entity ids the id stands for, its current canonical id)."""
    e = tables.entities
    row = conn.execute(select(e.c.id, e.c.canonical_id).where(e.c.id == ident)).first()
    if row is not None:
        return [row.id], row.canonical_id or row.id
    members = sorted(conn.execute(select(e.c.id).where(e.c.canonical_id == ident)).scalars())
    if not members:
        raise ExplainError(f"{ident} is neither a source entity nor a canonical entity")
    return members, ident


def _exact_keys(ent) -> set[tuple]:
    keys = set()
    for key_props in EXACT_KEYS.get(ent.schema, ()):
        values = [sorted(ent.props.get(p, ())) for p in key_props]
        if all(values):
            for combo in itertools.product(*values):
                keys.add((key_props, tuple(_norm_key(v) for v in combo)))
    return keys


def _load(conn, ids: list[str]) -> dict[str, Entity]:
    """The source entities `ids` with their normalised values (only theirs: a store may hold millions)."""
    e, s = tables.entities, tables.statements
    ents = {eid: Entity(eid, schema, canon) for eid, schema, canon in conn.execute(
        select(e.c.id, e.c.schema, e.c.canonical_id).where(e.c.id.in_(ids)))}
    for eid, prop, value, agency in conn.execute(select(s.c.entity_id, s.c.prop, s.c.value, s.c.agency).where(
            s.c.entity_id.in_(ids), s.c.prop_type != "entity")):
        ents[eid].props[prop].add(value)
        ents[eid].agencies.add(agency)
    attach_accounts(conn, ents, few=True)
    return ents


def _person_table(store: Store, model: dict):
    """(the store's Person table with when each record was seen, context(a, b): (how many people, as resolved now,
    were seen at events with both source entities, whether their clusters were paid together, whether both were
    paid), or None without group context), from one read of the events."""
    # streamed: the name and phone counts are the population's
    table = stored_person_table(store, model, sightings=False)
    if not uses_sightings(model):
        return table, None
    ids, previous, _persons = entity_listing(store)
    index = {eid: r for r, eid in enumerate(ids)}
    sightings = Sightings(store, index)
    table.take_spans(sightings.spans(np.fromiter((index[eid] for eid in table.ids), np.int64, count=table.n)))
    cfg = model.get("context")
    if not cfg:
        return table, None
    _, roots = np.unique(np.asarray([cid or eid for eid, cid in zip(ids, previous)], dtype=object), return_inverse=True)
    group = GroupContext(sightings.event_of, sightings.by_event, cfg["max_event"], sightings.payments)
    seen_at = group.incidence(len(roots))
    present = group.present(seen_at, roots)
    spare = int(roots.max(initial=-1)) + 1  # a root no cluster has, while fewer clusters than entities

    def context(a: str, b: str) -> tuple[int, bool, bool]:
        i, j = np.asarray([index[a]]), np.asarray([index[b]])
        paid = False
        if cfg.get("payments"):
            if roots[i[0]] != roots[j[0]]:
                paid = bool(group.paid_together(i, j, roots, seen_at, present)[0])
            elif spare < len(roots):  # already one cluster: whether b's record alone is tied to a's
                apart = roots.copy()
                apart[j] = spare
                paid = bool(group.paid_together(i, j, apart, seen_at)[0])
        shared = int(group.shared_many(i, j, roots, seen_at, present)[0])
        return shared, paid, bool(sightings.paid(np.r_[i, j]).all())

    return table, context


def _state(store: Store) -> tuple:
    """What the Person table and the clusters depend on: the store, its newest batch and its newest resolution run
    (statements only arrive in batches; canonical ids only change in runs)."""
    from tessera.resolve.tables import resolve_runs

    with store.engine.connect() as conn:
        batch = conn.execute(select(func.max(tables.batches.c.id))).scalar()
        run = conn.execute(select(func.max(resolve_runs.c.id))).scalar()
    return str(store.engine.url), batch, run


def _shared_person_table(store: Store, model: dict):
    """_person_table, kept between calls while the store state (_state) stays the same: building it reads every
    Person record, seconds at 100,000 people, while the explanation itself takes milliseconds."""
    key = _state(store)
    with _CACHE_LOCK:
        if _CACHE.get("key") != key:
            _CACHE.clear()
            _CACHE.update(key=key, value=_person_table(store, model))
        return _CACHE["value"]


def explain(store: Store, a: str, b: str, model: dict | None = None, limit: int = 5) -> dict:
    """The comparison of A and B (source or canonical ids) as the resolver sees it: for the best-scoring
    member pairs, each comparison's level and weight, the term-frequency adjustments, prior, total and
    threshold; any refusal (birth years too far apart, different documents); and the analysts' judgements
    that bind them. Without `model`, the newest run's, and the table is kept for the next call."""
    own_model = model is None
    model = model or run_model(store)
    with store.engine.connect() as conn:
        a_members, a_canon = _members(conn, a)
        b_members, b_canon = _members(conn, b)
        from tessera.resolve.judgements import load_judgements

        involved = set(a_members) | set(b_members)
        judged = [j.as_dict() for j in load_judgements(conn)
                  if (set(j.a_members) | set(j.b_members) | {x for g in j.groups for x in g}) & set(a_members)
                  and (set(j.a_members) | set(j.b_members) | {x for g in j.groups for x in g}) & set(b_members)]
        ents = _load(conn, sorted(involved))
    out = {"a": a, "b": b, "a_members": a_members, "b_members": b_members, "a_canonical": a_canon,
           "b_canonical": b_canon, "same_cluster": a_canon == b_canon, "judgements": judged, "pairs": [],
           "shared_keys": [], "learned": model.get("learned")}
    schemas = {ents[m].schema for m in involved if m in ents}
    out["schemas"] = sorted(schemas)
    for x in a_members:
        for y in b_members:
            shared = _exact_keys(ents[x]) & _exact_keys(ents[y]) if x in ents and y in ents else set()
            for props, values in sorted(shared):
                out["shared_keys"].append({"a": x, "b": y, "properties": list(props), "value": list(values)})
    person = {m for m in involved if m in ents and ents[m].schema == "Person"}
    pairs = [(x, y) for x in a_members for y in b_members if x != y and x in person and y in person][:MAX_PAIRS]
    if not pairs:
        out["note"] = "no Person pair to compare; exact identifier keys and judgements only"
        return out
    table, context = _shared_person_table(store, model) if own_model else _person_table(store, model)
    people = table.ids
    pos = {eid: r for r, eid in enumerate(people)}
    pairs = [(pos[x], pos[y]) for x, y in pairs]
    i = np.asarray([p[0] for p in pairs], dtype=np.int64)
    j = np.asarray([p[1] for p in pairs], dtype=np.int64)
    levels = compare.compare(table, i, j)
    total = compare.score(levels, model)
    refused = refusals(table, i, j, model)
    weights = compare.weights(model)
    name_adj, phone_adj = compare.tf_adjustments(levels, model)
    agency_adj = compare.agency_adjustment(levels, model)
    population_adj = compare.population_adjustment(levels, model)
    hub_adj = compare.hub_adjustments(levels, model)
    for k in np.argsort(-total, kind="stable")[:limit].tolist():
        comparisons = []
        for c in compare.COMPARISONS:
            if c not in weights:
                continue
            lv = int(levels[c][k])
            comparisons.append({"comparison": c, "level": compare.LEVELS[c][lv] if lv >= 0 else "missing",
                                "weight": round(float(weights[c][lv]), 2) if lv >= 0 else 0.0})
        entry = {"left": people[i[k]], "right": people[j[k]], "prior": round(compare.prior(model), 2),
                 "comparisons": comparisons, "name_similarity": round(float(levels["name_score"][k]), 1),
                 "name_frequency": int(levels["name_count"][k]),
                 "adjustments": {"common_name": round(float(name_adj[k]), 2),
                                 "shared_phone_hub": round(float(phone_adj[k]), 2),
                                 **{f"shared_{kind}_hub": round(float(adj[k]), 2) for kind, adj in hub_adj.items()},
                                 "agency_pair": round(float(agency_adj[k]), 2),
                                 "population": round(float(population_adj[k]), 2)},
                 "total": round(float(total[k]), 2), "threshold": model["threshold"],
                 "refused": None}
        if refused[k]:
            entry["refused"] = "conflicting evidence: birth years too far apart or different documents of one kind"
        floor = model["refuse"].get("pair_weight")
        entry["decision"] = ("refused" if refused[k] else "match" if total[k] >= model["threshold"] else
                             "no match (evidence against)" if floor is not None and total[k] < floor else "no match")
        if context is not None:
            entry["context"] = _context(*context(people[i[k]], people[j[k]]), levels, k, entry, model)
        out["pairs"].append(entry)
    return out


def _context(shared: int, paid_together: bool, both_paid: bool, levels: dict, k: int, entry: dict, model: dict
             ) -> dict:
    """The group context of pair k as resolution weighs it: the people seen with both records, whether their
    clusters were paid together, the weight that earns, and whether it carried the pair over the threshold."""
    cfg = model["context"]
    counts = eligible({"name": levels["name"][k:k + 1]}, cfg)[0]
    weight = float(context_bonus(np.asarray([shared]), cfg, np.asarray([paid_together]))[0]) if counts else 0.0
    short = model["threshold"] - entry["total"]
    lifted = 0 < short <= weight and short <= float(near_reach(cfg, np.asarray([both_paid]))[0])
    if entry["decision"].startswith("no match") and lifted:
        entry["decision"] = "match (group context)"
    return {"shared_companions": shared, "paid_together": paid_together, "weight": weight}
