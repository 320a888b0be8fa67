"""Evaluation against a scenario's truth: pairwise and exact-cluster precision/recall/F1 per schema, recall per culture."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

from sqlalchemy import func, select

from tessera.store import tables
from tessera.store.store import Store


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def source_truth(store: Store, truth_dir: Path) -> tuple[dict[str, tuple[str, str, str]], dict]:
    """source entity id -> (schema, truth entity, canonical id), by joining (agency, file, row, schema).

    A row that holds two entities of one schema cannot be told apart by position: a payer and a beneficiary are
    told apart through their Payment, whose true payment link names the true payer and beneficiary; other such
    rows are left out (`rows_ambiguous`). A source entity whose rows name different truth entities takes the
    most common one and is counted as impure.
    """
    truth: dict[tuple, list[str]] = defaultdict(list)
    with open(Path(truth_dir) / "records.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            truth[(row["agency"], row["file"], int(row["row"]), row["schema"])].append(row["entity"])
    s, b, e = tables.statements, tables.batches, tables.entities
    query = (select(b.c.agency, b.c.file_name, s.c.record_no, s.c.schema, s.c.entity_id)
             .join(b, b.c.id == s.c.batch_id).distinct())
    found: dict[tuple, set[str]] = defaultdict(set)
    with store.engine.connect() as conn:
        for agency, file_name, record_no, schema, eid in conn.execute(query):
            found[(agency, file_name, record_no, schema)].add(eid)
        canon = dict(conn.execute(select(e.c.id, func.coalesce(e.c.canonical_id, e.c.id))).all())
        schema_of = dict(conn.execute(select(e.c.id, e.c.schema)).all())
    votes: dict[str, Counter] = defaultdict(Counter)
    ambiguous = []
    for key, eids in found.items():
        t = truth.get(key)
        if not t:
            continue
        if len(eids) != 1 or len(t) != 1:
            ambiguous.append(eids)
            continue
        votes[next(iter(eids))][t[0]] += 1
    payments = {eid: c.most_common(1)[0][0] for eid, c in votes.items() if schema_of.get(eid) == "Payment"}
    parties = _payment_parties(store, truth_dir, payments)
    for eid, person in parties:
        votes[eid][person] += 1
    skipped = sum(1 for eids in ambiguous if not all(eid in votes for eid in eids))
    out, impure = {}, 0
    for eid, counter in votes.items():
        if eid not in canon:
            continue
        if len(counter) > 1:
            impure += 1
        out[eid] = (schema_of[eid], counter.most_common(1)[0][0], canon[eid])
    return out, {"rows_ambiguous": skipped, "payment_parties": len(parties), "entities_impure": impure,
                 "entities_evaluated": len(out)}


def _payment_parties(store: Store, truth_dir: Path, payments: dict[str, str]) -> list[tuple[str, str]]:
    """(source Person id, true person) for the payer and beneficiary of each source Payment whose true
    payment link is known (payments: source Payment id -> true link id)."""
    links: dict[str, tuple[str, str]] = {}
    with open(Path(truth_dir) / "links.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r.get("type", r.get("kind")) == "payment" and r["id"]:
                links[r["id"]] = (r["source"], r["target"])
    payments = {eid: link for eid, link in payments.items() if link in links}
    s, e = tables.statements, tables.entities
    out = []
    with store.engine.connect() as conn:
        ids = sorted(payments)
        for k in range(0, len(ids), 2000):
            q = (select(s.c.entity_id, s.c.prop, s.c.value)
                 .join(e, e.c.id == s.c.value)
                 .where(s.c.entity_id.in_(ids[k:k + 2000]), s.c.prop.in_(("payer", "beneficiary")),
                        e.c.schema == "Person"))
            for pay, prop, party in conn.execute(q):
                payer, beneficiary = links[payments[pay]]
                out.append((party, payer if prop == "payer" else beneficiary))
    return out


def metrics(items: list[tuple[str, str]]) -> dict:
    """items: (truth entity, predicted cluster) per source entity."""
    cell = Counter(items)
    true_sizes = Counter(t for t, _ in items)
    pred_sizes = Counter(p for _, p in items)
    tp = sum(_pairs(n) for n in cell.values())
    pred = sum(_pairs(n) for n in pred_sizes.values())
    true = sum(_pairs(n) for n in true_sizes.values())
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    true_sets = defaultdict(set)
    pred_sets = defaultdict(set)
    for k, (t, p) in enumerate(items):
        true_sets[t].add(k)
        pred_sets[p].add(k)
    exact = len({frozenset(v) for v in true_sets.values()} & {frozenset(v) for v in pred_sets.values()})
    cp = exact / len(pred_sets) if pred_sets else 1.0
    cr = exact / len(true_sets) if true_sets else 1.0
    cf = 2 * cp * cr / (cp + cr) if cp + cr else 0.0
    return {"source_entities": len(items), "true_entities": len(true_sets), "predicted_clusters": len(pred_sets),
            "true_pairs": true, "predicted_pairs": pred, "true_positive_pairs": tp,
            "pairwise_precision": round(precision, 4), "pairwise_recall": round(recall, 4),
            "pairwise_f1": round(f1, 4), "cluster_precision": round(cp, 4), "cluster_recall": round(cr, 4),
            "cluster_f1": round(cf, 4)}


def evaluate(store: Store, truth_dir: Path | str) -> dict:
    truth_dir = Path(truth_dir)
    if (truth_dir / "truth" / "records.csv").exists():
        truth_dir = truth_dir / "truth"
    mapped, coverage = source_truth(store, truth_dir)
    by_schema: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for schema, t, p in mapped.values():
        by_schema[schema].append((t, p))
    result = {"coverage": coverage,
              "schemas": {schema: metrics(items) for schema, items in sorted(by_schema.items())}}
    culture = {}
    people_csv = truth_dir / "people.csv"
    if people_csv.exists():
        with open(people_csv, newline="", encoding="utf-8") as fh:
            culture = {row["id"]: row.get("culture", "") for row in csv.DictReader(fh)}
    persons = by_schema.get("Person", [])
    if culture and persons:
        cell = Counter(persons)
        true_sizes = Counter(t for t, _ in persons)
        tp_by, true_by = Counter(), Counter()
        for (t, _p), n in cell.items():
            tp_by[culture.get(t, "?")] += _pairs(n)
        for t, n in true_sizes.items():
            true_by[culture.get(t, "?")] += _pairs(n)
        result["person_recall_by_culture"] = {
            c: {"true_pairs": true_by[c], "recall": round(tp_by[c] / true_by[c], 4) if true_by[c] else None}
            for c in sorted(true_by)}
    return result
