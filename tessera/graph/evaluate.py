"""Network recovery against a scenario's truth: adjusted Rand index of communities, organisers among key players."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from math import comb
from pathlib import Path
from typing import Hashable, Sequence

import networkit as nk

from tessera.graph.index import EdgeFilter, GraphIndex
from tessera.graph.queries import communities, key_players, network_graph
from tessera.resolve.evaluate import source_truth
from tessera.store.store import Store


MEMBER_ROLES = ("organiser", "recruiter", "money_handler", "logistics", "driver")


def adjusted_rand_index(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Hubert-Arabie adjusted Rand index of two labelings of the same items (1.0 = identical partitions)."""
    if len(truth) != len(predicted):
        raise ValueError("both labelings must cover the same items")
    n = len(truth)
    if n < 2:
        return 1.0
    index = sum(comb(c, 2) for c in Counter(zip(truth, predicted)).values())
    a = sum(comb(c, 2) for c in Counter(truth).values())
    b = sum(comb(c, 2) for c in Counter(predicted).values())
    total = comb(n, 2)
    expected = a * b / total
    best = (a + b) / 2
    if best == expected:  # both all-singletons or both one block: the partitions agree
        return 1.0
    return (index - expected) / (best - expected)


def _pairs(labels) -> int:
    return sum(comb(c, 2) for c in Counter(labels).values())


def error_pairs(truth: Sequence[Hashable], predicted: Sequence[Hashable], component: Sequence[Hashable | None],
                networks: Sequence[frozenset] | None = None) -> dict:
    """Where pairs of members go wrong, and the best ARI any partition of this graph could reach.

    `component` is each item's connected component in the graph networks are found on (None: no link at all);
    `networks` the set of true networks of each item (a member may work for several). Pairs of one network are
    apart because one of them has no link (`apart_unlinked`), because no path joins them (`apart_unconnected`),
    or because detection split a connected group (`apart_by_detection`); pairs of different networks are together
    where the two share a network through a member of several (`together_overlapping`) or not (`together_other`).
    `ari_bound` is the ARI of the truth cut along components: what a detection that keeps unconnected members
    apart (as community detection does) reaches when it is otherwise right."""
    n = len(truth)
    linked = [i for i in range(n) if component[i] is not None]
    same = _pairs(truth)
    same_linked = _pairs(truth[i] for i in linked)
    same_connected = _pairs((truth[i], component[i]) for i in linked)
    agreed = _pairs(zip(truth, predicted))
    together = _pairs(predicted)
    overlapping = 0
    if networks is not None:
        groups: dict[Hashable, list[int]] = defaultdict(list)
        for i, p in enumerate(predicted):
            groups[p].append(i)
        for members in groups.values():
            for x, i in enumerate(members):
                for j in members[x + 1:]:
                    if truth[i] != truth[j] and networks[i] & networks[j]:
                        overlapping += 1
    cut = [(t, component[i] if component[i] is not None else ("alone", i)) for i, t in enumerate(truth)]
    return {
        "same_network": same, "found_together": agreed, "apart_unlinked": same - same_linked,
        "apart_unconnected": same_linked - same_connected, "apart_by_detection": same_connected - agreed,
        "together_overlapping": overlapping, "together_other": together - agreed - overlapping,
        "ari_bound": round(adjusted_rand_index(truth, cut), 4),
    }


def stranded_members(truth: Sequence[Hashable], component: Sequence[Hashable | None], roles: Sequence[str],
                     person: Sequence[Hashable]) -> dict:
    """The members no detection on this graph could place: those outside the connected part holding most of their
    network's members (`component` None: no link at all), by role, and how many are resolution's doing (another
    entity of the same person lies inside) rather than links no agency recorded."""
    main: dict[Hashable, Hashable] = {}
    for (t, c), _n in Counter((t, c) for t, c in zip(truth, component) if c is not None).most_common():
        main.setdefault(t, c)
    inside = {(t, p) for t, c, p in zip(truth, component, person) if c is not None and c == main[t]}
    out = [k for k, (t, c) in enumerate(zip(truth, component)) if c is None or c != main.get(t)]
    return {"members": len(out), "without_link": sum(1 for k in out if component[k] is None),
            "resolution_splits": sum(1 for k in out if (truth[k], person[k]) in inside),
            "by_role": dict(Counter(roles[k] for k in out).most_common())}


def people_labels(items: Sequence[str], person: Sequence[str], predicted: Sequence[Hashable]) -> dict[str, Hashable]:
    """One community per true person, for an ARI that counts each member once however many canonical entities
    resolution left them in: the community holding most of the person's placed entities (ties: the first listed),
    or the first entity's own label ("alone:...") when none is placed."""
    placed: dict[str, Counter] = defaultdict(Counter)
    first: dict[str, Hashable] = {}
    for c, p, lab in zip(items, person, predicted):
        first.setdefault(p, lab)
        if not str(lab).startswith("alone:"):
            placed[p][lab] += 1
    return {p: (placed[p].most_common(1)[0][0] if placed[p] else lab) for p, lab in first.items()}


def top_by_pagerank(ix: GraphIndex, members: list[str], k: int = 5, flt: EdgeFilter | None = None) -> list[str]:
    """The k members with the highest PageRank inside the subgraph the members induce."""
    g = ix.filtered_graph(flt)
    nodes = [ix.node(m) for m in members]
    sub = nk.graphtools.subgraphFromNodes(g, nodes)
    pr = nk.centrality.PageRank(sub, tol=1e-9)
    pr.run()
    scores = pr.scores()
    ranked = sorted(nodes, key=lambda n: (-scores[n], ix.id_of(n)))
    return [ix.id_of(n) for n in ranked[:k]]


def _truth_dir(path: Path | str) -> Path:
    path = Path(path)
    return path / "truth" if (path / "truth" / "records.csv").exists() else path


def canonical_people(store: Store, truth_dir: Path) -> dict[str, str]:
    """canonical id -> the true person most of its source Person entities come from (payers and beneficiaries
    of payments included: `source_truth` tells them apart through their Payment)."""
    mapped, _ = source_truth(store, truth_dir)
    votes: dict[str, Counter] = defaultdict(Counter)
    for schema, person, canonical in mapped.values():
        if schema == "Person":
            votes[canonical][person] += 1
    return {c: v.most_common(1)[0][0] for c, v in votes.items()}


def evaluate_networks(store: Store, ix: GraphIndex, truth: Path | str, flt: EdgeFilter | None = None,
                      top: int = 5, seed: int = 1) -> dict:
    """ARI between detected communities and true networks over the smugglers resolution found, and the share of
    networks whose organiser is among the `top` key players of the community holding most of its members.

    `ari` counts canonical entities: a member resolution left in three entities counts three times, an entity with
    no link is a network of its own. `ari_people` counts each member found once (see `people_labels`);
    `ari_linked` leaves out entities with no link at all; `stranded` counts the members no detection on this graph
    could place (see `stranded_members`)."""
    truth_dir = _truth_dir(truth)
    people, networks = read_truth(truth_dir)
    return score_networks(ix, canonical_people(store, truth_dir), people, networks, flt, top, seed)


def read_truth(truth_dir: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """The true people and networks of a world (rows of people.csv and networks.csv by id)."""
    with open(truth_dir / "people.csv", newline="", encoding="utf-8") as fh:
        people = {r["id"]: r for r in csv.DictReader(fh)}
    with open(truth_dir / "networks.csv", newline="", encoding="utf-8") as fh:
        networks = {r["id"]: r for r in csv.DictReader(fh)}
    return people, networks


def score_networks(ix: GraphIndex, person_of: dict[str, str], people: dict[str, dict], networks: dict[str, dict],
                   flt: EdgeFilter | None = None, top: int = 5, seed: int = 1) -> dict:
    """evaluate_networks once canonical entities are mapped to true people (`person_of`)."""

    def networks_of(pid: str) -> list[str]:
        p = people.get(pid)
        if not p or not p.get("network") or p.get("role") not in MEMBER_ROLES:
            return []  # migrants, and pilots (migrants who steer), are the networks' clients, not members
        return p["network"].split(";")

    def network_of(pid: str) -> str | None:  # a member of several networks counts for the first
        return next(iter(networks_of(pid)), None)

    found = sorted(c for c, p in person_of.items() if network_of(p) and c in ix)
    comms = communities(ix, flt, seed=seed)
    g, _ = network_graph(ix, flt)
    label = {m: c.id for c in comms for m in c.members}
    truth_labels = [network_of(person_of[c]) for c in found]
    pred_labels = [label.get(c, f"alone:{c}") for c in found]
    ari = adjusted_rand_index(truth_labels, pred_labels)
    linked = [i for i, c in enumerate(found) if g.degree(ix.node(c)) > 0]
    ari_linked = adjusted_rand_index([truth_labels[i] for i in linked], [pred_labels[i] for i in linked])
    parts = nk.components.ConnectedComponents(g)
    parts.run()
    part = parts.getPartition()
    component = [part[ix.node(c)] if g.degree(ix.node(c)) > 0 else None for c in found]
    errors = error_pairs(truth_labels, pred_labels, component, [frozenset(networks_of(person_of[c])) for c in found])
    stranded = stranded_members(truth_labels, component, [people[person_of[c]]["role"] for c in found],
                                [person_of[c] for c in found])

    members_by_network: dict[str, list[str]] = defaultdict(list)
    for c, t in zip(found, truth_labels):
        members_by_network[t].append(c)
    by_id = {c.id: c for c in comms}
    hits, judged, details = 0, 0, []
    for nid, net in sorted(networks.items()):
        organiser = net.get("organiser")
        org_canon = [c for c in found if person_of[c] == organiser]
        mem = members_by_network.get(nid, [])
        if not org_canon or not mem:
            continue
        judged += 1
        held = Counter(label[m] for m in mem if m in label)
        hit = False
        if held:
            cid = held.most_common(1)[0][0]
            players = [p.id for p in key_players(ix, by_id[cid].members, top, flt, graph=g)]
            hit = any(o in players for o in org_canon)
        hits += hit
        details.append({"network": nid, "members_found": len(mem), "organiser_in_top": hit})
    smugglers = sum(1 for p in people.values() if network_of(p["id"]))
    per_person = people_labels(found, [person_of[c] for c in found], pred_labels)
    return {
        "smugglers": smugglers, "smugglers_found": len({person_of[c] for c in found}), "canonical_smugglers": len(found),
        "networks": len(networks), "networks_with_members_found": len(members_by_network),
        "communities": len(comms), "communities_holding_smugglers": len(set(pred_labels)),
        "ari": round(ari, 4), "members_linked": len(linked), "ari_linked": round(ari_linked, 4),
        "ari_people": round(adjusted_rand_index([network_of(p) for p in per_person], list(per_person.values())), 4),
        "people_unplaced": sum(1 for x in per_person.values() if str(x).startswith("alone:")),
        "ari_bound": errors.pop("ari_bound"), "stranded": stranded, "members_in_several_networks":
            sum(1 for c in found if len(networks_of(person_of[c])) > 1), "pairs": errors,
        "organiser_judged": judged, "organiser_in_top": hits,
        "organiser_share": round(hits / judged, 4) if judged else None, "top": top, "per_network": details,
    }
