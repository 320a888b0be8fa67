"""One policy, every door: on random worlds no read path hands a user anything the access policy hides.

Hypothesis draws small worlds -- agencies of two countries with open, silent or no hit policy, users with
clearances and nationalities, person records with random classification, caveat and release-to, some sharing
a phone or a name and birth date with another agency's record (so resolution joins them and links appear),
associations and not-same judgements -- and ingests them through the normal pipeline. Every record carries
marker strings (a surname and a phone number of its own). Then each user walks every read path of the API:
search, profiles, graph and chart queries, explanations, judgements, the change feed, notices and exports.
No answer may contain a marker, a source id or a canonical id that only statements hidden from that user
carry; no link may appear that statements the user may see do not make; an id the user may not see is
answered exactly like an id that does not exist; and counts reveal hidden records only as pointers to
agencies whose hit policy is open.
"""

from __future__ import annotations

import io
import json
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import api_helpers  # noqa: F401  (cheap argon2)
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from api_helpers import bearer
from tessera.access import identity
from tessera.access.policy import may_see_statement
from tessera.api.app import create_app
from tessera.graph.build import build
from tessera.intake.pipeline import ingest_file
from tessera.resolve import judgements as jm
from tessera.resolve.engine import resolve
from tessera.store import tables
from tessera.store.store import Store

AGENCY_CODES = ["KAPPA", "LAMBDA", "MU", "NU"]
CLASSIFICATIONS = ["OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET"]
CAVEATS = ["", "UK EYES ONLY", "UK/FR EYES ONLY"]
SURNAMES = ["Quenbyfield", "Thistlewaite", "Okonkwozor", "Vargaszek", "Lindqvistra", "Moreauville",
            "Dunmorrow", "Haverbrook", "Ishikawara", "Petrakidou", "Zelenkova", "Abernethyx",
            "Castellanor", "Fairweathers", "Gundersby", "Kowalczykow"]
FORENAMES = ["Albrecht", "Benedikta", "Cosimo", "Dragomir", "Evangelia", "Florentyn", "Gwendolyn", "Horatio",
             "Ignatius", "Jozefina", "Kasimir", "Leopoldina", "Maximilian", "Nikodem", "Ottoline", "Perpetua"]
RELATIONS = ["Brotherinlawzx", "Cellmatequv", "Landlordwyk", "Couriertrop", "Fixerglom", "Drivermunk",
             "Lenderplox", "Recruiterbz"]
REASONS = ["Reasonalpha", "Reasonbravo", "Reasoncharlie", "Reasondelta"]
GHOST = "c-00000000000000000000000000000000deadbeef"  # an id that exists nowhere

PERSON_MAPPING = """
persons:
  queries:
    - marking:
        classification_column: class
        caveat_column: caveat
        release_to_column: release
      entities:
        person:
          schema: Person
          keys: [ref]
          key_literal: nominal
          properties:
            name: {column: name}
            birthDate: {column: dob, format: "%d/%m/%Y"}
            phone: {column: phone}
"""
LINK_MAPPING = """
links:
  queries:
    - marking:
        classification_column: class
        caveat_column: caveat
        release_to_column: release
      entities:
        a:
          schema: Person
          keys: [a_ref]
          key_literal: nominal
        b:
          schema: Person
          keys: [b_ref]
          key_literal: nominal
        link:
          schema: Associate
          keys: [link_id]
          key_literal: link
          properties:
            person: {entity: a}
            associate: {entity: b}
            relationship: {column: rel}
"""


# --- the worlds -----------------------------------------------------------------------------------------

marking = st.tuples(st.sampled_from(CLASSIFICATIONS), st.sampled_from(CAVEATS),
                    st.sampled_from(["", "", "GB", "FR"] + AGENCY_CODES))


@st.composite
def worlds(draw):
    n_agencies = draw(st.integers(2, 4))
    agencies = [(AGENCY_CODES[i], draw(st.sampled_from(["GB", "FR"])),
                 draw(st.sampled_from(["open", "silent", "none"]))) for i in range(n_agencies)]
    users = [(draw(st.integers(0, n_agencies - 1)), draw(st.sampled_from(CLASSIFICATIONS)),
              draw(st.sampled_from([None, None, "GB", "FR"]))) for _ in range(draw(st.integers(2, 4)))]
    records = []  # (agency index, marking, shares: None | ("phone" | "name", index of an earlier record))
    for i in range(draw(st.integers(3, 8))):
        others = [k for k, r in enumerate(records)]
        share = None
        if others and draw(st.booleans()):
            share = (draw(st.sampled_from(["phone", "name"])), draw(st.sampled_from(others)))
        records.append((draw(st.integers(0, n_agencies - 1)), draw(marking), share))
    links = []  # (record a, record b, marking): within one agency
    for k in range(draw(st.integers(0, 3))):
        a, b = draw(st.integers(0, len(records) - 1)), draw(st.integers(0, len(records) - 1))
        if a != b and records[a][0] == records[b][0]:
            links.append((a, b, draw(marking)))
    judged = None
    if draw(st.booleans()):
        judged = (draw(st.integers(0, len(records) - 1)), draw(st.integers(0, len(records) - 1)),
                  draw(st.integers(0, len(users) - 1)))
    return dict(agencies=agencies, users=users, records=records, links=links, judged=judged)


@dataclass
class Built:
    store: Store
    tokens: dict[str, str]
    users: dict[str, object]
    policy: dict[str, str]                       # agency -> hit policy
    markers: list[str]                           # every marker string in the world
    statements: list[dict] = field(default_factory=list)
    canon: dict[str, str] = field(default_factory=dict)   # source id -> canonical id
    owner: dict[str, str] = field(default_factory=dict)   # source id -> agency
    record_ids: list[str] = field(default_factory=list)  # record index -> source id
    judgements: list = field(default_factory=list)


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n", encoding="utf-8")
    return path


def build_world(spec: dict, tmp: Path) -> Built:
    store = Store.open(f"sqlite:///{tmp / 'world.db'}")
    with store.engine.begin() as conn:
        for code, country, policy in spec["agencies"]:
            identity.add_agency(conn, code, country, contact=f"{code} desk", hit_policy=policy)
        users = {}
        for k, (agency, clearance, nationality) in enumerate(spec["users"]):
            name = f"user{k}"
            users[name] = identity.add_user(conn, name, spec["agencies"][agency][0], clearance, "pw",
                                            nationality=nationality)
    person = []
    for i, (agency, _, share) in enumerate(spec["records"]):
        name, dob, phone = f"{FORENAMES[i]} {SURNAMES[i]}", f"{1 + i:02d}/0{1 + i % 9}/19{60 + i}", f"+4477009001{i:02d}"
        if share and share[0] == "phone":
            phone = person[share[1]][2]
        elif share:
            name, dob = person[share[1]][0], person[share[1]][1]
        person.append((name, dob, phone))
    markers = [SURNAMES[i] for i in range(len(person))] + [f"77009001{i:02d}" for i in range(len(person))]
    markers += RELATIONS[:len(spec["links"])] + REASONS
    mapping = tmp / "persons.yml"
    mapping.write_text(PERSON_MAPPING, encoding="utf-8")
    link_mapping = tmp / "links.yml"
    link_mapping.write_text(LINK_MAPPING, encoding="utf-8")
    for a, (code, _, _) in enumerate(spec["agencies"]):
        rows = [[f"r{i}", person[i][0], person[i][1], person[i][2], *m]
                for i, (agency, m, _) in enumerate(spec["records"]) if agency == a]
        if rows:
            ingest_file(store, _csv(tmp / f"{code}.csv", ["ref", "name", "dob", "phone", "class", "caveat",
                                                           "release"], rows), code, mapping)
        links = [[f"l{k}", f"r{x}", f"r{y}", RELATIONS[k], *m] for k, (x, y, m) in enumerate(spec["links"])
                 if spec["records"][x][0] == a]
        if links:
            ingest_file(store, _csv(tmp / f"{code}-links.csv", ["link_id", "a_ref", "b_ref", "rel", "class",
                                                                 "caveat", "release"], links), code, link_mapping)
    resolve(store)
    built = Built(store, {}, users, {c: p for c, _, p in spec["agencies"]}, markers)
    _load(built)
    names = {s["value"]: s["entity_id"] for s in built.statements if s["prop"] == "name"}
    built.record_ids = [names.get(person[i][0]) for i in range(len(person))]
    if spec["judged"]:
        x, y, judge = spec["judged"]
        a, b = built.record_ids[x], built.record_ids[y]
        if a and b and built.canon[a] != built.canon[b]:
            user = users[f"user{judge}"]
            with store.engine.begin() as conn:
                jm.add_judgement(conn, "not-same", a, b, REASONS[judge % len(REASONS)], user.name, user.agency)
            resolve(store)
            _load(built)
    with store.engine.begin() as conn:
        built.tokens = {name: identity.create_token(conn, name).token for name in users}
    return built


def _load(built: Built) -> None:
    s, e = tables.statements, tables.entities
    with built.store.engine.connect() as conn:
        built.statements = [dict(r) for r in conn.execute(select(s)).mappings()]
        built.canon = {eid: cid or eid for eid, cid in conn.execute(select(e.c.id, e.c.canonical_id))}
    built.owner = {st_["entity_id"]: st_["agency"] for st_ in built.statements}


# --- what a user may and may not learn ------------------------------------------------------------------

@dataclass
class Sight:
    """What one user may see of a built world, from the Python form of the policy."""

    visible: list[dict]
    hidden: list[dict]
    seen_sources: set[str]          # source entities of which the user sees a statement
    seen_canon: set[str]            # canonical entities with such a member
    forbidden: set[str]             # strings no answer may contain

    def leaks(self, text: str) -> list[str]:
        return sorted(m for m in self.forbidden if m in text)


def sight_of(built: Built, user) -> Sight:
    visible = [s for s in built.statements if may_see_statement(user, s)]
    hidden = [s for s in built.statements if not may_see_statement(user, s)]
    seen_sources = {s["entity_id"] for s in visible}
    referenced = {s["value"] for s in visible if s["prop_type"] == "entity"}
    named = seen_sources | referenced
    seen_canon = {built.canon.get(x, x) for x in named}
    shown_text = " ".join(s["value"] + " " + (s["original"] or "") for s in visible)
    forbidden = {m for m in built.markers if m not in shown_text
                 and any(m in s["value"] or m in (s["original"] or "") for s in hidden)}
    forbidden |= {x for x in built.canon if x not in named}
    forbidden |= {c for c in built.canon.values() if c not in seen_canon}
    return Sight(visible, hidden, seen_sources, seen_canon, forbidden)


def oracle_pairs(built: Built, user, tmp: Path) -> set[frozenset]:
    """The linked pairs of the graph built from only the statements the user may see."""
    copy = tmp / f"oracle-{user.name}.db"
    with sqlite3.connect(tmp / "world.db") as source, sqlite3.connect(copy) as target:
        source.backup(target)
    store = Store.open(f"sqlite:///{copy}")
    hidden = [s["id"] for s in built.statements if not may_see_statement(user, s)]
    with store.engine.begin() as conn:
        for i in range(0, len(hidden), 500):
            conn.execute(delete(tables.statements).where(tables.statements.c.id.in_(hidden[i:i + 500])))
    ix = build(store)
    pairs = {frozenset((ix.id_of(u), ix.id_of(v))) for u in range(ix.num_nodes) for v in ix.neighbours(u)}
    store.close()
    return pairs


# --- the walk through every door ------------------------------------------------------------------------

class Walker:
    """One user's walk through the API, checking each answer as it comes."""

    def __init__(self, client: TestClient, built: Built, name: str, tmp: Path):
        self.client, self.built, self.name = client, built, name
        self.user = built.users[name]
        self.sight = sight_of(built, self.user)
        self.headers = bearer(built.tokens[name])
        self.pairs = oracle_pairs(built, self.user, tmp)

    def get(self, url: str, params: dict | None = None, **more):
        params = (params or {}) | more
        response = self.client.get(url, params=params, headers=self.headers)
        assert response.status_code in (200, 404), (url, params, response.status_code, response.text)
        self.check(response, url, params)
        return response

    def check(self, response, url, params) -> None:
        text = response.text
        for value in [*params.values(), *url.split("/")]:  # what the caller asked is echoed back: their own
            text = text.replace(str(value), "") if value else text
        leaks = self.sight.leaks(text + json.dumps(dict(response.headers)))
        assert not leaks, f"{self.name} ({self.user}) learns {leaks} from {url} {params}: {response.text[:2000]}"

    def same_as_ghost(self, request_of) -> None:
        """A hidden id is answered exactly as an id that exists nowhere (status and body, the id aside)."""
        for hidden in sorted(x for x in self.sight.forbidden if x in self.built.canon
                             or x in self.built.canon.values()):
            got = self.get(*request_of(hidden))
            ghost = self.get(*request_of(GHOST))
            assert got.status_code == ghost.status_code == 404, (request_of(hidden), got.text)
            assert got.text.replace(hidden, "?") == ghost.text.replace(GHOST, "?"), (request_of(hidden), got.text)

    def edges_ok(self, edges, url) -> None:
        for edge in edges:
            pair = frozenset((edge["a"], edge["b"]))
            assert pair in self.pairs, f"{self.name} sees a link {sorted(pair)} from {url} that rests on hidden statements"

    def degrees_ok(self, nodes, url) -> None:
        for node in nodes:
            if "degree" in node:
                real = sum(1 for p in self.pairs if node["id"] in p)
                assert node["degree"] <= real, f"{self.name}: degree of {node['id']} counts hidden links ({url})"

    def walk(self) -> None:
        b, sight = self.built, self.sight
        for i, source in enumerate(b.record_ids):
            for q in (SURNAMES[i], f"+4477009001{i:02d}"):
                r = self.get("/api/v1/search", q=q, limit=200).json()
                assert r["total"] == len(r["results"])
                assert {x["id"] for x in r["results"]} <= sight.seen_canon
                for pointer in r["pointers"]:
                    assert b.policy[pointer["agency"]] == "open", f"{self.name} gets a pointer to a closed agency"
        ids = sorted(set(b.canon) | set(b.canon.values()))
        for ident in ids:
            r = self.get(f"/api/v1/entities/{ident}")
            if r.status_code == 200:
                assert set(r.json()["source_entities"]) <= sight.seen_sources
        self.same_as_ghost(lambda x: (f"/api/v1/entities/{x}",))
        # the graph
        for ident in sorted(set(b.canon.values())):
            for url in (f"/api/v1/graph/neighbourhood/{ident}", f"/api/v1/graph/expand/{ident}"):
                r = self.get(url)
                if r.status_code == 200:
                    body = r.json()
                    self.edges_ok(body.get("edges", []), url)
                    self.degrees_ok(body.get("nodes", []), url)
                    if "items" in body:
                        assert body["total"] == len(body["items"])
                        self.edges_ok(body["items"], url)
            for url in ("/api/v1/charts/graph/neighbourhood", "/api/v1/charts/graph/expand"):
                r = self.get(url, entity=ident)
                if r.status_code == 200:
                    self.edges_ok(r.json().get("edges", []), url)
                    self.degrees_ok(r.json().get("nodes", []), url)
            self.get("/api/v1/graph/timeline", entity=ident)
        self.same_as_ghost(lambda x: (f"/api/v1/graph/neighbourhood/{x}",))
        self.same_as_ghost(lambda x: ("/api/v1/charts/graph/neighbourhood", dict(entity=x)))
        self.same_as_ghost(lambda x: ("/api/v1/explain", dict(a=x, b=x)))
        self.same_as_ghost(lambda x: ("/api/v1/judgements", dict(entity=x)))
        networks = self.get("/api/v1/graph/networks", limit=100).json()
        for n in range(networks["total"]):
            members = self.get(f"/api/v1/graph/networks/{n}").json()["members"]
            assert {m["id"] for m in members} <= sight.seen_canon
        self.get("/api/v1/charts/networks", top=100)
        visible_canon = sorted(set(b.canon.values()) & sight.seen_canon)
        for x in visible_canon:
            for y in visible_canon:
                if x < y:
                    r = self.get("/api/v1/charts/graph/path", a=x, b=y)
                    if r.status_code == 200:
                        self.edges_ok(r.json().get("edges", []), "chart path")
                    r = self.get("/api/v1/graph/path", a=x, b=y, k=3)
                    if r.status_code == 200:
                        for path in r.json()["paths"]:  # each step of a path is a link the user may see
                            steps = zip(path["nodes"], path["nodes"][1:])
                            self.edges_ok([dict(a=u, b=v) for u, v in steps], "graph path")
            self.get("/api/v1/graph/money/flows", entity=x)
            self.get(f"/api/v1/graph/money/follow/{x}")
            self.get("/api/v1/graph/routes", entity=x)
            self.get("/api/v1/charts/money", entity=x)
            self.get("/api/v1/charts/events", entity=x)
        if visible_canon:
            self.get("/api/v1/graph/export", entity=visible_canon, format="graphml")
        # explanations, judgements, the change feed, notices
        canonical = sorted(set(b.canon.values()))
        pairs = [(x, y) for x in canonical for y in canonical if x < y][:12] + [(x, c) for x, c in b.canon.items() if x != c]
        for x, y in pairs:
            r = self.get("/api/v1/explain", a=x, b=y)
            if r.status_code == 200:
                self.explained_ok(r.json())
        for j in self.get("/api/v1/judgements", include_withdrawn=True).json()["judgements"]:
            self.withheld_ok(j["withheld_members"], j["a_members"] + j["b_members"], "judgement")
            if j["agency"] != self.user.agency:  # another agency's judgement tells of no closed agency's record
                with self.built.store.engine.connect() as conn:
                    whole = jm.get_judgement(conn, j["id"])
                hidden = (set(whole.a_members) | set(whole.b_members)) - self.sight.seen_sources
                assert all(self.built.policy[self.built.owner[x]] == "open" for x in hidden), (j, hidden)
        for change in self.get("/api/v1/changes", limit=1000).json()["changes"]:
            self.withheld_ok(change["related_withheld"], change["related"], "the change feed")
            self.withheld_ok(change["members"] - self._seen_count(change), [], "the change feed's members")
            assert change["new_members"] <= change["members"], change
        self.get("/api/v1/notices")
        self.get("/api/v1/alerts")
        # exports, each kind zipped with its manifest (i2 is a zip of its own)
        for kind in ("ftm", "graphml", "gexf", "report", "i2"):
            response = self.client.post("/api/v1/exports", json=dict(kind=kind, manifest=True), headers=self.headers)
            assert response.status_code == 200, response.text
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                text = " ".join(archive.read(n).decode("utf-8") for n in archive.namelist())
            leaks = sight.leaks(text + json.dumps(dict(response.headers)))
            assert not leaks, f"{self.name} exports {leaks} in {kind}"

    def withheld_ok(self, withheld: int, shown: list[str], what: str) -> None:
        """A withheld count names only hidden records of agencies with an open hit policy."""
        assert withheld <= sum(1 for x, a in self.built.owner.items()
                               if x not in self.sight.seen_sources and self.built.policy[a] == "open"), \
            f"{self.name}: {what} counts {withheld} hidden records of closed agencies"

    def _seen_count(self, change: dict) -> int:
        """How many source entities of a change's canonical entity (as it is now) the user sees."""
        cid = change["canonical_id"]
        return sum(1 for x, c in self.built.canon.items() if c == cid and x in self.sight.seen_sources) if cid else 0

    def _open_hidden(self, body: dict) -> bool:
        ids = {x for x, c in self.built.canon.items() if body["a"] in (x, c) or body["b"] in (x, c)}
        return any(x not in self.sight.seen_sources and self.built.policy[self.built.owner[x]] == "open"
                   for x in ids if x in self.built.owner)

    def explained_ok(self, body: dict) -> None:
        members = body["a_members"] + body["b_members"]
        assert set(members) <= self.sight.seen_sources
        self.withheld_ok(body["withheld_members"], members, "explanation")
        if not self._open_hidden(body):  # every record hidden here belongs to a silent or closed agency
            assert body["withheld_members"] == body["withheld_pairs"] == body["withheld_shared_keys"] == 0, body
        schemas = {s["schema"] for s in self.sight.visible if s["entity_id"] in members}
        assert set(body["schemas"]) <= schemas | {"Person"}, body["schemas"]
        if any(h["schema"] == "Person" for h in self.sight.hidden):  # name and phone counts cover those too
            for pair in body["pairs"]:
                assert pair["adjustments_withheld"] and not {"name_frequency", "adjustments", "total"} & set(pair)


@settings(max_examples=15, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(worlds())
def test_no_read_path_shows_a_user_what_the_policy_hides(spec):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        built = build_world(spec, tmp)
        try:
            with TestClient(create_app(store=built.store)) as client:
                for name in built.users:
                    Walker(client, built, name, tmp).walk()
        finally:
            built.store.close()
