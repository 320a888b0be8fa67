"""Questions an analyst asks of the network: neighbourhoods, supernodes, paths, groups, key players, money, time."""

import itertools
import random

import networkit as nk
import numpy as np
import pytest

from tessera.graph.index import Edge, EdgeFilter, GraphEvent, GraphIndex, strength_of
from tessera.graph.queries import (
    communities, expand, fold, follow_money, k_shortest_paths, key_players, money_flows, neighbourhood,
    network_timeline, routes, shortest_path, timeline, totals,
)


@pytest.fixture
def crew():
    ix = GraphIndex()
    ix.add_edges([
        Edge("boss", "lt1", "call", first="2024-01-05", count=20, grading="1A"),
        Edge("boss", "lt2", "family", grading="2B"),
        Edge("lt1", "driver", "vehicle_use", first="2023-06-01", last="2023-07-01", grading="3C"),
        Edge("lt2", "broker", "payment", first="2024-02-01", amount=5000, currency="EUR", grading="1B"),
        Edge("driver", "boat", "crossed_together", first="2024-05-01"),
    ])
    return ix


def test_neighbourhood_to_k_hops(crew):
    one = neighbourhood(crew, "boss", hops=1)
    assert {n.id: n.hops for n in one.nodes} == {"boss": 0, "lt1": 1, "lt2": 1}
    two = neighbourhood(crew, "boss", hops=2)
    assert {n.id for n in two.nodes} == {"boss", "lt1", "lt2", "driver", "broker"}
    assert len(two.edges) == 4
    assert next(e for e in two.edges if {e.a, e.b} == {"lt2", "broker"}).types == ["payment"]


def test_neighbourhood_filters_by_type_time_and_grading(crew):
    calls = neighbourhood(crew, "boss", hops=3, flt=EdgeFilter(types=frozenset({"call", "vehicle_use"})))
    assert {n.id for n in calls.nodes} == {"boss", "lt1", "driver"}
    recent = neighbourhood(crew, "boss", hops=3, flt=EdgeFilter(start="2024-01-01"))
    assert "driver" not in {n.id for n in recent.nodes}  # the 2023 vehicle link is out of the window
    graded = neighbourhood(crew, "boss", hops=3, flt=EdgeFilter(min_grade="2B"))
    assert {n.id for n in graded.nodes} == {"boss", "lt1", "lt2", "broker"}


def test_supernode_comes_back_as_summary_and_pages():
    ix = GraphIndex()
    edges = [Edge("hub", f"p{i:03d}", "call" if i % 3 else "phone_use", count=1 + i) for i in range(30)]
    edges.append(Edge("me", "hub", "association"))
    ix.add_edges(edges)
    hood = neighbourhood(ix, "me", hops=2, supernode=10)
    assert {n.id for n in hood.nodes} == {"me", "hub"}
    hub = hood.node("hub")
    assert hub.is_summary and hub.summary == {"call": 20, "phone_use": 10, "association": 1}
    first = expand(ix, "hub", page=0, page_size=12)
    assert first.total == 31 and first.pages == 3 and len(first.items) == 12
    strongest = max(range(30), key=lambda i: strength_of(1 + i, None, "call" if i % 3 else "phone_use"))
    assert strongest == 27  # a shared phone outweighs a call of similar count
    assert first.items[0].b == f"p{strongest:03d}"  # strongest link first
    pages = [expand(ix, "hub", page=p, page_size=12).items for p in range(3)]
    seen = [e.b for page in pages for e in page]
    assert len(seen) == 31 and len(set(seen)) == 31
    assert expand(ix, "hub", page=0, page_size=50, flt=EdgeFilter(types=frozenset({"phone_use"}))).total == 10


def test_shortest_and_k_shortest_paths_prefer_strong_links():
    ix = GraphIndex()
    ix.add_edges([
        Edge("a", "b", "call", count=100, grading="1A"), Edge("b", "z", "call", count=100, grading="1A"),
        Edge("a", "z", "association", grading="3E"),
        Edge("a", "c", "call", count=10, grading="1B"), Edge("c", "z", "call", count=10, grading="1B"),
    ])
    assert shortest_path(ix, "a", "z").nodes == ["a", "b", "z"]
    assert shortest_path(ix, "a", "z", weighted=False).nodes == ["a", "z"]  # fewest hops ignores strength
    paths = k_shortest_paths(ix, "a", "z", k=5)
    assert [p.nodes for p in paths] == [["a", "b", "z"], ["a", "c", "z"], ["a", "z"]]
    assert paths[0].length < paths[1].length < paths[2].length
    calls = EdgeFilter(types=frozenset({"call"}))
    assert [p.nodes for p in k_shortest_paths(ix, "a", "z", k=5, flt=calls)] == [["a", "b", "z"], ["a", "c", "z"]]
    assert ix.distance_graph().numberOfEdges() == 5  # temporary removals were put back
    ix.add_edges([Edge("q", "r", "call")])
    assert shortest_path(ix, "a", "q") is None


def test_communities_recover_two_planted_groups():
    rnd = random.Random(7)
    ix = GraphIndex()
    left, right = [f"L{i}" for i in range(15)], [f"R{i}" for i in range(15)]
    edges = [Edge(a, b, "call", count=3) for grp in (left, right)
             for a, b in itertools.combinations(grp, 2) if rnd.random() < 0.7]
    edges += [Edge(left[0], right[0], "payment", amount=10, currency="GBP")]
    ix.add_edges(edges)
    found = communities(ix)
    assert len(found) == 2
    assert sorted(map(frozenset, (c.members for c in found))) == sorted(map(frozenset, (left, right)))
    assert {c.size for c in communities(ix, algorithm="plm")} == {15}


def test_key_player_of_a_star_is_its_centre():
    ix = GraphIndex()
    ix.add_edges([Edge("centre", f"s{i}", "call") for i in range(8)] + [Edge("s1", "s2", "call")])
    top = key_players(ix, top=3)
    assert top[0].id == "centre" and top[0].degree == 8
    assert top[0].pagerank > top[1].pagerank
    members = ["centre", "s1", "s2", "s3"]
    assert key_players(ix, members=members, top=1)[0].id == "centre"


def test_money_flows_follow_direction_and_sum_amounts():
    ix = GraphIndex()
    ix.add_edges([
        Edge("client", "agent", "payment", amount=3000, currency="GBP"),
        Edge("client", "agent", "payment", amount=2000, currency="GBP"),
        Edge("agent", "hawala", "payment", amount=4500, currency="GBP"),
        Edge("hawala", "boss", "payment", amount=4000, currency="EUR"),
        Edge("boss", "agent", "call"),
        Edge("other", "agent", "payment", amount=99, currency="GBP"),
    ])
    down = follow_money(ix, "client", "downstream", hops=3)
    assert [(f.hop, f.source, f.target, f.amount, f.count) for f in down] == [
        (1, "client", "agent", 5000.0, 2), (2, "agent", "hawala", 4500.0, 1), (3, "hawala", "boss", 4000.0, 1)]
    assert totals(down) == {"GBP": 9500.0, "EUR": 4000.0}
    up = follow_money(ix, "hawala", "upstream", hops=2)
    assert {(f.source, f.target) for f in up} == {("agent", "hawala"), ("client", "agent"), ("other", "agent")}
    assert follow_money(ix, "boss", "downstream") == []  # the call is not money
    flows = money_flows(ix, members=["client", "agent", "hawala"])
    assert [(f.source, f.target, f.amount) for f in flows] == [("client", "agent", 5000.0), ("agent", "hawala", 4500.0)]


def test_timeline_orders_links_by_date(crew):
    events = timeline(crew, "lt1")
    assert [(str(e.first), e.type, e.other) for e in events] == [
        ("2023-06-01", "vehicle_use", "driver"), ("2024-01-05", "call", "boss")]
    assert [e.other for e in timeline(crew, "lt2")] == ["broker", "boss"]  # undated last


def _two_networks_and_a_boat():
    ix = GraphIndex()
    edges = []
    for net in ("a", "b"):
        ms = [f"{net}{i}" for i in range(5)]
        edges += [Edge(x, y, "call", count=3) for x, y in itertools.combinations(ms, 2)]
    boat = [f"pax{i:02d}" for i in range(40)]
    edges += [Edge(x, y, "crossed_together") for x, y in itertools.combinations(boat, 2)]
    # half the boat paid network a's handler, half called network b's recruiter
    edges += [Edge(p, "a0", "payment", amount=2000, currency="EUR") for p in boat[:20]]
    edges += [Edge(p, "b0", "call") for p in boat[20:]]
    ix.add_edges(edges)
    ix.add_events([GraphEvent("boat1", "crossing", date="2024-05-01", involved=boat)])
    return ix, boat


def test_boat_passengers_are_clients_not_members_and_do_not_merge_networks():
    ix, boat = _two_networks_and_a_boat()
    found = communities(ix)
    groups = sorted(sorted(c.members) for c in found)
    assert groups == [[f"a{i}" for i in range(5)], [f"b{i}" for i in range(5)]]
    by_first = {c.members[0]: c for c in found}
    assert set(by_first["a0"].passengers) == set(boat[:20])
    assert set(by_first["b0"].passengers) == set(boat[20:])


def test_money_sink_of_a_network_is_its_organiser_and_a_key_player():
    ix = GraphIndex()
    boss, handlers, recruiters = "boss", ["h1", "h2"], ["r1", "r2"]
    clients = [f"c{i:02d}" for i in range(30)]
    edges = [Edge(h, boss, "payment", count=4, amount=40000, currency="EUR") for h in handlers]
    edges += [Edge(c, handlers[i % 2], "payment", amount=2500, currency="EUR") for i, c in enumerate(clients)]
    edges += [Edge(c, recruiters[i % 2], "call", count=2) for i, c in enumerate(clients)]
    members = [boss, *handlers, *recruiters, "d1", "d2"]
    edges += [Edge(x, y, "call", count=5) for x, y in itertools.combinations(members[1:], 2)]
    edges += [Edge("d1", "van1", "vehicle_use"), Edge("d2", "van2", "vehicle_use")]
    ix.add_edges(edges)
    ix.set_schema({"van1": "Vehicle", "van2": "Vehicle"})
    ix.add_events([GraphEvent("boat", "crossing", involved=clients)])
    team = members + ["van1", "van2"]
    players = key_players(ix, team, top=5)
    assert boss in [p.id for p in players]
    assert all(p.id not in ("van1", "van2") for p in players)  # vehicles shape the scores, are not listed
    roles = {p.id: p.role for p in key_players(ix, team, top=20)}
    assert roles[boss] == "organiser" and roles["h1"] == roles["h2"] == "money handler"
    assert roles["r1"] == "recruiter" and roles["d1"] == "logistics"


def test_routes_put_a_networks_crossings_arrests_and_payments_in_time_order_and_obey_filters():
    ix = GraphIndex()
    ix.add_edges([Edge("h1", "boss", "payment", first="2024-03-02", amount=9000, currency="EUR", statements=["p1"]),
                  Edge("pax1", "h1", "payment", first="2024-01-05", amount=2500, currency="EUR", statements=["p2"]),
                  Edge("h1", "r1", "call", first="2024-01-01")])
    ix.add_events([
        GraphEvent("arrival", "crossing", "Small boat arrival", "2024-02-01", "Dover", "GB", involved=["pax1", "pax2"],
                   involved_statements=[["e1"], ["e2"]], statements=["e0"]),
        GraphEvent("beach", "interception", "Tentative de traversee", "2024-01-20", "Gravelines", "FR", 50.98, 2.12,
                   involved=["pax1"], involved_statements=[["e3"]], statements=["e4"]),
        GraphEvent("stop", "arrest", "ARREST", "2024-04-10", involved=["r1"], involved_statements=[["e5"]]),
        GraphEvent("elsewhere", "crossing", date="2024-01-02", involved=["stranger"]),
    ])
    assert ix.is_passenger(ix.node("pax1")) and not ix.is_passenger(ix.node("h1"))
    stops = routes(ix, ["boss", "h1", "r1", "pax1", "pax2"])
    assert [(str(s.date), s.kind) for s in stops] == [
        ("2024-01-05", "payment"), ("2024-01-20", "interception"), ("2024-02-01", "crossing"),
        ("2024-03-02", "payment"), ("2024-04-10", "arrest")]
    assert stops[1].lat == 50.98 and stops[1].place == "Gravelines" and stops[2].entities == ["pax1", "pax2"]
    crossings = routes(ix, ["pax1", "pax2"], EdgeFilter(types=frozenset({"crossed_together"})))
    assert [s.id for s in crossings] == ["beach", "arrival"]
    window = routes(ix, ["boss", "h1", "r1", "pax1"], EdgeFilter(start="2024-02-01", end="2024-03-31"))
    assert [s.kind for s in window] == ["crossing", "payment"]
    # a viewer who may see only the Dover record and pax2's place on it
    seen = routes(ix, ["pax1", "pax2"], EdgeFilter(visible={"e0", "e2"}.__contains__), with_payments=False)
    assert [(s.id, s.entities) for s in seen] == [("arrival", ["pax2"])]


def test_network_timeline_lists_links_among_members_once_in_time_order():
    ix = GraphIndex()
    ix.add_edges([Edge("a", "b", "call", first="2024-02-01"), Edge("b", "c", "payment", first="2024-01-01",
                                                                    amount=5, currency="GBP"),
                  Edge("c", "outsider", "call", first="2023-01-01")])
    items = network_timeline(ix, ["a", "b", "c"])
    assert [(str(e.first), e.type) for e in items] == [("2024-01-01", "payment"), ("2024-02-01", "call")]
    assert network_timeline(ix, ["a", "b", "c"], EdgeFilter(types=frozenset({"call"})))[0].other in ("a", "b")


def test_organiser_seen_only_as_split_payees_is_still_a_key_player_by_the_money_it_keeps():
    """Resolution leaves a handler as many one-payment payees around a shared account, and the organiser as two
    payees of large sums from further handler stubs: money kept (in minus out) still puts the organiser on top."""
    ix = GraphIndex()
    edges = [Edge("rec", f"m{i}", "call", count=3) for i in range(4)]
    for i in range(12):  # a client pays a handler stub; the stub holds the handler's account; the client called rec
        edges += [Edge(f"client{i}", f"h{i}", "payment", amount=3500, currency="GBP"),
                  Edge(f"h{i}", "acct", "ownership"), Edge(f"client{i}", "rec", "call")]
    for j in range(2):  # handler stubs paying the organiser's stubs
        edges += [Edge(f"hp{j}", f"boss{j}", "payment", amount=50000, currency="GBP"),
                  Edge(f"hp{j}", "acct", "ownership"), Edge(f"boss{j}", f"bossacct{j}", "ownership"),
                  Edge(f"boss{j}", "rec", "call")]
    ix.add_edges(edges)
    ix.set_schema({"acct": "BankAccount", "bossacct0": "BankAccount", "bossacct1": "BankAccount"})
    members = (["rec", "acct", "bossacct0", "bossacct1"] + [f"m{i}" for i in range(4)] + [f"h{i}" for i in range(12)]
               + [f"hp{j}" for j in range(2)] + [f"boss{j}" for j in range(2)] + [f"client{i}" for i in range(12)])
    top = key_players(ix, members, top=5)
    assert {"boss0", "boss1"} & {p.id for p in top[:3]}
    by_id = {p.id: p for p in key_players(ix, members, top=len(members))}
    assert by_id["boss0"].money == 50000 and by_id["hp0"].money == 0  # a payer keeps nothing
    assert by_id["h0"].money == 3500
    # both take members' money; only the one keeping (near) the most of it is taken for the organiser
    assert by_id["boss0"].role == "organiser" and by_id["h0"].role == "money handler"


def test_cores_of_one_network_tied_by_a_few_weak_links_are_one_network_unrelated_ones_are_not():
    """A recruiter's phone circle and a handler's account with its holders, tied only by a payment up the chain
    and a call, are one network (the account's core is folded in); a second crew with no link to them stays apart."""
    ix = GraphIndex()
    edges = [Edge("rec", f"r{i}", "call", count=3) for i in range(6)]
    edges += [Edge(f"r{i}", f"r{i + 1}", "call") for i in range(5)]
    edges += [Edge(f"payee{i}", "acct", "ownership") for i in range(8)]
    edges += [Edge("payee0", "rec", "payment", amount=9000, currency="EUR"),
              Edge("payee1", "r2", "call")]
    edges += [Edge("boss2", f"x{i}", "call", count=2) for i in range(6)] + [Edge("x0", "x1", "payment", amount=10)]
    ix.add_edges(edges)
    found = communities(ix)
    groups = sorted(sorted(c.members) for c in found)
    assert len(groups) == 2
    assert {"rec", "acct", "payee5", "r3"} <= set(next(g for g in groups if "rec" in g))
    assert all("boss2" not in g for g in groups if "rec" in g)


def test_fold_moves_a_core_whose_outside_ties_lead_to_one_network_but_not_one_with_ties_everywhere():
    g = nk.Graph(12, weighted=True)
    for a, b in itertools.combinations(range(4), 2):  # network 0: nodes 0-3
        g.addEdge(a, b, 2.0)
    for a, b in itertools.combinations(range(4, 8), 2):  # network 1: nodes 4-7
        g.addEdge(a, b, 2.0)
    for a in (9, 10, 11):  # a star around 8 with one weak tie to network 0
        g.addEdge(8, a, 1.0)
    g.addEdge(8, 0, 0.1)
    labels = np.array([0] * 4 + [1] * 4 + [2] * 4)
    folded = fold(g, labels)
    assert len(set(folded[[0, 8, 9]])) == 1 and folded[4] != folded[0]
    g.addEdge(9, 4, 0.1)  # ties split evenly between the two networks: nothing says where it belongs
    folded = fold(g, labels)
    assert len(set(folded.tolist())) == 3
    assert len(set(fold(g, labels, least=0.2).tolist())) == 3  # too weak a tie for a demanding threshold
