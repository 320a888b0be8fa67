"""The graph over HTTP: what a viewer may not see does not exist for them, and every question is audited."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import networkx as nx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from api_helpers import bearer
from tessera.access import identity
from tessera.access.tables import audit_log
from tessera.api.app import create_app
from tessera.store import tables

G = "/api/v1/graph"


class _Writer:
    def __init__(self, conn):
        self.conn, self.record = conn, 0

    def batch(self, agency: str, classification: str, caveat: str | None = None) -> int:
        return self.conn.execute(insert(tables.batches).values(
            agency=agency, file_name=f"{agency}-{classification}.csv", file_format="csv",
            content_sha256=f"{agency}{classification}{caveat}".ljust(64, "0")[:64], mapping_sha256="0" * 64,
            received_at=datetime.now(timezone.utc), classification=classification, caveat=caveat)
        ).inserted_primary_key[0]

    def entity(self, batch: int, eid: str, schema: str, props: list[tuple[str, str, str]], agency: str,
               classification: str, caveat: str | None = None) -> None:
        self.record += 1
        self.conn.execute(insert(tables.entities).values(id=eid, schema=schema, agency=agency, batch_id=batch,
                                                         record_no=self.record))
        for prop, prop_type, value in props:
            self.conn.execute(insert(tables.statements).values(
                batch_id=batch, entity_id=eid, schema=schema, prop=prop, prop_type=prop_type, value=value,
                original=value, record_no=self.record, agency=agency, classification=classification,
                caveat=caveat, grading="1B"))


@pytest.fixture
def client(store):
    """A boss paid by a handler who takes a passenger's money; a recruiter tied to the boss only in a SECRET
    report; alice (SECRET) and olly (OFFICIAL) of the same police force."""
    with store.engine.begin() as conn:
        identity.add_agency(conn, "UKPOL", "GB", contact="desk")
        identity.add_agency(conn, "MI", "GB", contact="liaison")
        identity.add_user(conn, "alice", "UKPOL", "SECRET", "pw-alice")
        identity.add_user(conn, "olly", "UKPOL", "OFFICIAL", "pw-olly")
        w = _Writer(conn)
        pol = w.batch("UKPOL", "OFFICIAL")
        mi = w.batch("MI", "SECRET", "UK EYES ONLY")
        for who in ("boss", "h1", "pax1", "pax2"):
            w.entity(pol, who, "Person", [("name", "name", who.title())], "UKPOL", "OFFICIAL")
        w.entity(mi, "r1", "Person", [("name", "name", "R One")], "MI", "SECRET", "UK EYES ONLY")
        w.entity(pol, "pay1", "Payment", [("payer", "entity", "h1"), ("beneficiary", "entity", "boss"),
                                          ("amount", "number", "9000"), ("currency", "string", "EUR"),
                                          ("date", "date", "2024-03-02")], "UKPOL", "OFFICIAL")
        w.entity(pol, "pay2", "Payment", [("payer", "entity", "pax1"), ("beneficiary", "entity", "h1"),
                                          ("amount", "number", "2500"), ("currency", "string", "EUR"),
                                          ("date", "date", "2024-01-05")], "UKPOL", "OFFICIAL")
        w.entity(pol, "boat", "Event", [("name", "string", "Small boat arrival"), ("date", "date", "2024-02-01"),
                                        ("address", "address", "Dover"), ("involved", "entity", "pax1"),
                                        ("involved", "entity", "pax2")], "UKPOL", "OFFICIAL")
        w.entity(mi, "tie", "Associate", [("person", "entity", "r1"), ("associate", "entity", "boss")],
                 "MI", "SECRET", "UK EYES ONLY")
        w.entity(mi, "nick", "Event", [("name", "string", "Arrest"), ("date", "date", "2024-04-10"),
                                       ("involved", "entity", "r1")], "MI", "SECRET", "UK EYES ONLY")
        tokens = {u: identity.create_token(conn, u).token for u in ("alice", "olly")}
    c = TestClient(create_app(store=store))
    c.tokens = tokens
    c.store = store
    return c


def get(client, user, path, **params):
    return client.get(f"{G}{path}", params=params, headers=bearer(client.tokens[user]))


def test_neighbourhood_hides_links_resting_on_unseen_statements(client):
    alice = get(client, "alice", "/neighbourhood/boss", hops=2).json()
    olly = get(client, "olly", "/neighbourhood/boss", hops=2).json()
    assert {n["id"] for n in alice["nodes"]} == {"boss", "h1", "r1", "pax1"}
    assert {n["id"] for n in olly["nodes"]} == {"boss", "h1", "pax1"}
    centre = next(n for n in olly["nodes"] if n["id"] == "boss")
    assert centre["degree"] == 1  # the SECRET tie is not even counted
    # filters: only payments, from February on
    only = get(client, "alice", "/neighbourhood/boss", hops=2, type="payment", since="2024-02-01").json()
    assert {n["id"] for n in only["nodes"]} == {"boss", "h1"}
    # a supernode guard of 1 summarises h1 instead of expanding it, and /expand pages through it
    small = get(client, "alice", "/neighbourhood/boss", hops=2, supernode=1).json()
    assert {n["id"] for n in small["nodes"]} == {"boss"} and small["nodes"][0]["summary"] == {
        "association": 1, "payment": 1}
    page = get(client, "alice", "/expand/boss", page_size=1).json()
    assert page["total"] == 2 and page["pages"] == 2 and len(page["items"]) == 1


def test_an_entity_seen_only_in_secret_does_not_exist_for_an_official_viewer(client):
    assert get(client, "alice", "/neighbourhood/r1").status_code == 200
    r = get(client, "olly", "/neighbourhood/r1")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert get(client, "olly", "/path", a="pax1", b="r1").status_code == 404
    assert get(client, "olly", "/routes", entity="r1").status_code == 404
    assert client.get(f"{G}/neighbourhood/boss").status_code == 401


def test_paths_follow_visible_links(client):
    alice = get(client, "alice", "/path", a="pax1", b="r1").json()
    assert alice["paths"][0]["nodes"] == ["pax1", "h1", "boss", "r1"]
    olly = get(client, "olly", "/path", a="pax1", b="boss", k=3).json()
    assert [p["nodes"] for p in olly["paths"]] == [["pax1", "h1", "boss"]]
    assert get(client, "alice", "/path", a="pax1", b="boss", type="association").json()["paths"] == []


def test_networks_routes_timelines_and_money(client):
    nets = get(client, "alice", "/networks").json()
    assert nets["total"] >= 1
    net = nets["networks"][0]
    assert "pax1" not in [p["id"] for p in net["key_players"]]  # passengers are clients, not members
    full = get(client, "alice", "/networks/0").json()
    members = {m["id"]: m["role"] for m in full["members"]}
    assert {"boss", "h1", "r1"} <= set(members) and "pax1" not in members and full["passengers"] >= 1
    olly_members = {m["id"] for m in get(client, "olly", "/networks/0").json()["members"]}
    assert "r1" not in olly_members
    assert get(client, "alice", "/networks/99").status_code == 404

    stops = get(client, "alice", "/routes", network=0).json()["stops"]
    assert [(s["date"], s["kind"]) for s in stops] == [
        ("2024-01-05", "payment"), ("2024-02-01", "crossing"), ("2024-03-02", "payment"), ("2024-04-10", "arrest")]
    assert stops[1]["place"] == "Dover"
    olly_stops = get(client, "olly", "/routes", network=0).json()["stops"]
    assert "arrest" not in [s["kind"] for s in olly_stops]
    crossings = get(client, "alice", "/routes", entity="pax1", type="crossed_together").json()["stops"]
    assert [s["kind"] for s in crossings] == ["crossing"]

    tl = get(client, "alice", "/timeline", entity="boss").json()["items"]
    assert [i["type"] for i in tl] == ["payment", "association"]  # the undated tie last
    assert [i["type"] for i in get(client, "olly", "/timeline", entity="boss").json()["items"]] == ["payment"]
    assert get(client, "alice", "/timeline", network=0).json()["items"]

    up = get(client, "olly", "/money/follow/boss", direction="upstream", hops=2).json()
    assert [(f["source"], f["target"], f["hop"], f["amount"]) for f in up["flows"]] == [
        ("h1", "boss", 1, 9000.0), ("pax1", "h1", 2, 2500.0)]
    assert up["totals"] == {"EUR": 11500.0}
    flows = get(client, "alice", "/money/flows", entity="h1").json()
    assert flows["totals"] == {"EUR": 11500.0}


def test_exports_open_in_networkx_and_carry_only_visible_links(client):
    r = get(client, "alice", "/export", network=0, format="graphml")
    assert r.status_code == 200
    g = nx.read_graphml(io.BytesIO(r.content))
    assert {"boss", "h1", "r1"} <= set(g.nodes)
    gexf = get(client, "olly", "/export", entity=["boss", "h1"], format="gexf")
    g2 = nx.read_gexf(io.BytesIO(gexf.content))
    assert set(g2.nodes) == {"boss", "h1"} and g2.number_of_edges() == 1
    assert get(client, "olly", "/export", entity=["boss", "r1"]).status_code == 404


def test_every_graph_question_is_audited(client):
    get(client, "alice", "/neighbourhood/boss")
    get(client, "olly", "/neighbourhood/r1")
    get(client, "alice", "/routes", entity="pax1")
    with client.store.engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.user_name, audit_log.c.action, audit_log.c.entities,
                                   audit_log.c.purpose).order_by(audit_log.c.seq)).all()
    graph_rows = [r for r in rows if r.action.startswith("graph.")]
    assert [(r.user_name, r.action) for r in graph_rows] == [
        ("alice", "graph.neighbourhood"), ("olly", "graph.neighbourhood"), ("alice", "graph.routes")]
    assert "boss" in graph_rows[0].entities and graph_rows[1].purpose == "not found"
