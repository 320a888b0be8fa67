"""The link graph built from the store: link types, the statements links rest on, money, markings, recovery."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from sqlalchemy import insert, select

from tessera.access.policy import User
from tessera.demo import run_demo
from tessera.graph.build import all_statements, build, statement_visibility, update_from_batch
from tessera.graph.evaluate import (adjusted_rand_index, error_pairs, evaluate_networks, people_labels,
                                    stranded_members)
from tessera.graph.index import LINK_TYPES, EdgeFilter, GraphIndex
from tessera.graph.queries import follow_money, money_flows, neighbourhood, network_graph
from tessera.store import tables

FRENCH = User(None, "marie", "FRPOL", "FR", "TOP-SECRET")
BRITISH = User(None, "alice", "NCA", "GB", "TOP-SECRET")


def _batch(conn, agency="NCA", caveat=None, release_to=None):
    return conn.execute(insert(tables.batches).values(
        agency=agency, file_name="f.csv", file_format="csv", content_sha256=datetime.now().isoformat() + str(caveat),
        mapping_sha256="0" * 64, received_at=datetime.now(timezone.utc), classification="OFFICIAL")
    ).inserted_primary_key[0]


def _entity(conn, batch, eid, schema, props, agency="NCA", caveat=None, release_to=None, record=1):
    conn.execute(insert(tables.entities).values(id=eid, schema=schema, agency=agency, batch_id=batch,
                                                record_no=record))
    for prop, prop_type, value in props:
        conn.execute(insert(tables.statements).values(
            batch_id=batch, entity_id=eid, schema=schema, prop=prop, prop_type=prop_type, value=value,
            original=value, record_no=record, agency=agency, classification="OFFICIAL", caveat=caveat,
            release_to=release_to, grading="1B"))


def test_demo_world_graph(store, tmp_path):
    run_demo(store, tmp_path / "w", 400, 3)
    ix = build(store)
    types = {LINK_TYPES[t] for t in np.unique(ix.row("type"))}
    assert {"payment", "call", "crossed_together", "ownership", "membership"} <= types
    # every link rests on statements that exist
    with store.engine.connect() as conn:
        existing = {str(i) for (i,) in conn.execute(select(tables.statements.c.id))}
        canonical = {c for (c,) in conn.execute(select(tables.entities.c.canonical_id))}
        referenced = {v for (v,) in conn.execute(select(tables.statements.c.value)
                                                  .where(tables.statements.c.prop_type == "entity"))}
    assert all(ix.statements(r) for r in range(ix.num_links))
    assert all_statements(ix) <= existing
    # nodes are canonical ids, or references to an entity whose own row never arrived
    assert {ix.id_of(n) for n in range(ix.num_nodes)} <= canonical | referenced
    # payments keep their direction and amount
    flows = money_flows(ix)
    assert flows and all(f.amount > 0 for f in flows)
    f = flows[0]
    down = follow_money(ix, f.source, "downstream", hops=1)
    assert any(x.target == f.target and x.amount == f.amount for x in down)
    assert not any(x.source == f.target and x.target == f.source and x.currency == f.currency
                   and x.amount == f.amount for x in follow_money(ix, f.target, "downstream", hops=1))
    # recovery measures run end to end and stay in range
    result = evaluate_networks(store, ix, tmp_path / "w")
    assert result["canonical_smugglers"] > 0
    assert -1.0 <= result["ari"] <= 1.0
    assert -1.0 <= result["ari_people"] <= 1.0 and result["people_unplaced"] <= result["smugglers_found"]
    assert 0 <= result["stranded"]["resolution_splits"] <= result["stranded"]["members"] <= result["canonical_smugglers"]
    # built batch by batch, the same pairs appear with the same link types
    with store.engine.connect() as conn:
        batch_ids = [b for (b,) in conn.execute(select(tables.batches.c.id).order_by(tables.batches.c.id))]
    inc = GraphIndex()
    for b in batch_ids:
        update_from_batch(inc, store, b)

    def pairs(g):
        return {(frozenset((g.id_of(int(s)), g.id_of(int(d)))), int(t))
                for s, d, t in zip(g.row("src"), g.row("dst"), g.row("type"))}

    assert pairs(inc) == pairs(ix)


def test_payment_keeps_direction_amount_and_currency(store):
    with store.engine.begin() as conn:
        b = _batch(conn)
        _entity(conn, b, "p-a", "Person", [("name", "name", "Ali")])
        _entity(conn, b, "p-b", "Person", [("name", "name", "Baran")])
        _entity(conn, b, "pay-1", "Payment", [("payer", "entity", "p-a"), ("beneficiary", "entity", "p-b"),
                                              ("amount", "number", "1250.5"), ("currency", "string", "EUR"),
                                              ("date", "date", "2023-04-05")])
    ix = build(store)
    [flow] = money_flows(ix)
    assert (flow.source, flow.target, flow.amount, flow.currency) == ("p-a", "p-b", 1250.5, "EUR")
    assert flow.first.isoformat() == "2023-04-05"
    assert follow_money(ix, "p-b", "downstream") == []
    assert [x.source for x in follow_money(ix, "p-b", "upstream")] == ["p-a"]


def test_shared_phone_links_people_but_a_hub_does_not(store):
    with store.engine.begin() as conn:
        b = _batch(conn)
        _entity(conn, b, "p-a", "Person", [("phone", "phone", "+447700900001"), ("address", "address", "1 Hostel Rd")])
        _entity(conn, b, "p-b", "Person", [("phone", "phone", "+447700900001"), ("address", "address", "1 Hostel Rd")])
        for i in range(25):
            _entity(conn, b, f"p-h{i}", "Person", [("address", "address", "1 Hostel Rd")])
    ix = build(store)
    nb = neighbourhood(ix, "p-a", hops=1)
    assert [(e.b if e.a == "p-a" else e.a, e.types) for e in nb.edges] == [("p-b", ["phone_use"])]


def test_link_on_uk_eyes_only_statement_is_invisible_to_french_officer(store):
    with store.engine.begin() as conn:
        b = _batch(conn)
        _entity(conn, b, "p-a", "Person", [("name", "name", "Ali")])
        _entity(conn, b, "p-b", "Person", [("name", "name", "Baran")])
        _entity(conn, b, "p-c", "Person", [("name", "name", "Cem")])
        _entity(conn, b, "as-1", "Associate", [("person", "entity", "p-a"), ("associate", "entity", "p-b")],
                caveat="UK EYES ONLY", record=2)
        _entity(conn, b, "as-2", "Associate", [("person", "entity", "p-a"), ("associate", "entity", "p-c")],
                release_to="FR,GB", record=3)
    ix = build(store)
    assert ix.num_pairs == 2

    def seen_by(user):
        flt = EdgeFilter(visible=statement_visibility(store, user, all_statements(ix)))
        return {e.b if e.a == "p-a" else e.a for e in neighbourhood(ix, "p-a", 1, flt).edges}

    assert seen_by(BRITISH) == {"p-b", "p-c"}
    assert seen_by(FRENCH) == {"p-c"}


def test_adjusted_rand_index_on_hand_examples():
    assert adjusted_rand_index([0, 0, 1, 1, 2], ["a", "a", "b", "b", "c"]) == 1.0
    # contingency [[2,1,0],[0,1,2]]: index 2, expected 6*3/15 = 1.2, max 4.5 -> 0.8 / 3.3
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(0.8 / 3.3)
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)


def test_error_pairs_say_why_members_are_apart_or_together():
    # network A: a1 a2 linked and found together, a3 in another component, a4 unlinked;
    # network B: b1 b2 in one component split by detection, b3 (also in A) found with a1 a2
    truth = ["A", "A", "A", "A", "B", "B", "B"]
    found = ["x", "x", "y", "alone", "u", "v", "x"]
    component = [1, 1, 2, None, 3, 3, 1]
    nets = [frozenset("A")] * 4 + [frozenset("B"), frozenset("B"), frozenset("AB")]
    e = error_pairs(truth, found, component, nets)
    assert e["same_network"] == 6 + 3
    assert e["found_together"] == 1
    assert e["apart_unlinked"] == 3  # a4 with a1, a2, a3
    assert e["apart_unconnected"] == 2 + 2  # a3 with a1, a2; b3 with b1, b2
    assert e["apart_by_detection"] == 1  # b1 b2
    assert e["together_overlapping"] == 2  # b3 with a1, a2: b3 works for A too
    assert e["together_other"] == 0
    # cut along components the truth gives {a1 a2} {a3} {a4} {b1 b2} {b3}: the best any detection can do here
    assert e["ari_bound"] == pytest.approx(adjusted_rand_index(truth, [0, 0, 1, 2, 3, 3, 4]), abs=1e-4)
    assert e["ari_bound"] < 1.0
    # a pair of different networks with no member in common counts as `together_other`
    assert error_pairs(["A", "B"], ["x", "x"], [1, 1], [frozenset("A"), frozenset("B")])["together_other"] == 1


def test_stranded_members_are_those_outside_their_networks_largest_connected_part():
    # network A: a1 a2 in component 1, a3 alone in component 2, a4 with no link; network B all in component 3
    truth = ["A", "A", "A", "A", "B", "B"]
    component = [1, 1, 2, None, 3, 3]
    roles = ["organiser", "recruiter", "driver", "driver", "money_handler", "logistics"]
    st = stranded_members(truth, component, roles, ["p1", "p2", "p3", "p4", "p5", "p6"])
    assert st == {"members": 2, "without_link": 1, "resolution_splits": 0, "by_role": {"driver": 2}}
    # a3 is a second entity of a1's person: resolution split him, the graph did not lack his links
    assert stranded_members(truth, component, roles, ["p1", "p2", "p1", "p4", "p5", "p6"])["resolution_splits"] == 1


def test_person_and_vehicle_in_one_row_are_linked_by_vehicle_use_and_a_boat_does_not_tie_networks(store):
    with store.engine.begin() as conn:
        b = _batch(conn, agency="FRPOL")
        # a driver arrested with his van (one row, no relationship entity naming the van)
        _entity(conn, b, "driver", "Person", [("name", "name", "Dario")], record=1)
        _entity(conn, b, "van", "Vehicle", [("registrationNumber", "identifier", "AB123CD")], record=1)
        # a passenger intercepted on a boat: the boat sits in the row, the passenger paid network A's handler
        _entity(conn, b, "pax", "Person", [("name", "name", "Pax")], record=2)
        _entity(conn, b, "boat", "Vessel", [("registrationNumber", "identifier", "HIN123")], record=2)
        _entity(conn, b, "cross", "Event", [("name", "string", "TENTATIVE DE TRAVERSEE"),
                                            ("date", "date", "2023-05-01"), ("involved", "entity", "pax")], record=2)
        _entity(conn, b, "handler", "Person", [("name", "name", "Hal")], record=3)
        _entity(conn, b, "pay", "Payment", [("payer", "entity", "pax"), ("beneficiary", "entity", "handler"),
                                            ("amount", "number", "2000"), ("date", "date", "2023-04-01")], record=3)
        # someone else in another row with nothing of his own: not linked to the van
        _entity(conn, b, "other", "Person", [("name", "name", "Otto")], record=4)
    ix = build(store)
    nb = neighbourhood(ix, "driver", hops=1)
    assert [(e.b if e.a == "driver" else e.a, e.types) for e in nb.edges] == [("van", ["vehicle_use"])]
    assert {e.b if e.a == "pax" else e.a for e in neighbourhood(ix, "pax", hops=1).edges} == {"boat", "handler"}
    assert not neighbourhood(ix, "other", hops=1).edges
    # the passenger is a client: the boat it was found on is not tied to the handler it paid
    g, passenger = network_graph(ix)
    assert passenger[ix.node("pax")]
    assert not g.hasEdge(ix.node("boat"), ix.node("handler"))
    # built batch by batch, the same links
    inc = GraphIndex()
    update_from_batch(inc, store, b)
    assert sorted(inc.id_of(int(x)) for x in inc.row("src")[inc.row("type") == LINK_TYPES.index("vehicle_use")]) \
        == sorted(ix.id_of(int(x)) for x in ix.row("src")[ix.row("type") == LINK_TYPES.index("vehicle_use")])


def test_each_member_counts_once_in_ari_people_however_many_entities_resolution_left():
    # P1 left in three entities: two placed in community x, one with no link; P2 in x; P3 only unplaced
    items = ["c1", "c2", "c3", "c4", "c5"]
    person = ["P1", "P1", "P1", "P2", "P3"]
    found = ["alone:c1", "x", "x", "x", "alone:c5"]
    assert people_labels(items, person, found) == {"P1": "x", "P2": "x", "P3": "alone:c5"}
    # split across two communities, the one holding more of the person's entities wins
    assert people_labels(["a", "b", "c"], ["P", "P", "P"], ["y", "z", "z"]) == {"P": "z"}
