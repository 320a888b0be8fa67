"""The API's search: names across scripts, identifiers in any format, grouping, and pointers instead of content."""

from __future__ import annotations

import json

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api_helpers import bearer, build_world
from intake_helpers import write
from tessera.access import audit
from tessera.api import search_index
from tessera.api.app import create_app
from tessera.api.search import pointer_reference
from tessera.intake.pipeline import ingest_file
from tessera.store import tables


@pytest.fixture(params=["scanned", "indexed"])
def world(request, store, tmp_path):
    """The world searched by scanning statements, and again through the search-key index (later batches
    then sit in the index's tail, which is scanned)."""
    built = build_world(store, tmp_path)
    if request.param == "indexed":
        assert search_index.refresh(store)["statements"] > 0
    return built


@pytest.fixture
def client(world):
    return TestClient(create_app(store=world.store))


def names_in(body) -> set[str]:
    return {n for r in body["results"] for n in r["names"]}


def test_searching_muhammad_karimi_finds_arabic_and_latin_spellings(client, world):
    response = client.get("/api/v1/search", params={"q": "Muhammad Karimi"}, headers=bearer(world.tokens["alice"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert names_in(body) == {"محمد الكريمي", "Mohammed Al-Karimi"}
    assert body["total"] == 2
    agencies = {r["properties"]["name"][0]["agency"] for r in body["results"]}
    assert agencies == {"UKPOL", "FRPOL"}
    assert "John Smith" not in names_in(body)


def test_results_are_grouped_by_canonical_entity(client, world):
    with world.store.engine.begin() as conn:
        conn.execute(update(tables.entities).where(tables.entities.c.schema == "Person")
                     .where(tables.entities.c.agency.in_(["UKPOL", "FRPOL"]))
                     .where(tables.entities.c.record_no == 1).values(canonical_id="P-karimi"))
    body = client.get("/api/v1/search", params={"q": "محمد كريمي"}, headers=bearer(world.tokens["alice"])).json()
    assert body["total"] == 1
    [hit] = body["results"]
    assert hit["id"] == "P-karimi"
    assert set(hit["names"]) == {"محمد الكريمي", "Mohammed Al-Karimi"}
    assert {v["agency"] for v in hit["properties"]["phone"]} == {"UKPOL", "FRPOL"}


def test_a_phone_in_any_format_finds_its_owner(client, world):
    for spelling in ("07700 900123", "+44 7700 900123", "0044 7700 900123", "(07700) 900-123", "+447700900123"):
        body = client.get("/api/v1/search", params={"q": spelling}, headers=bearer(world.tokens["alice"])).json()
        assert names_in(body) == {"Mohammed Al-Karimi"}, spelling
    body = client.get("/api/v1/search", params={"q": "07700 900124"}, headers=bearer(world.tokens["alice"])).json()
    assert body["results"] == []


def test_a_french_analyst_searching_a_uk_eyes_only_subject_gets_a_pointer_not_the_name(client, world):
    response = client.get("/api/v1/search", params={"q": "Viktor Petrenko"}, headers=bearer(world.tokens["amelie"]))
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [] and body["total"] == 0
    [pointer] = body["pointers"]
    assert pointer["agency"] == "MI"
    assert pointer["contact"] == "MI liaison officer, +44 20 7946 0000"
    shown = json.dumps(body["pointers"]) + json.dumps(body["results"])
    assert "Petrenko" not in shown and "Viktor" not in shown and "1980" not in shown and "900555" not in shown
    entity_id = world.store.engine.connect().execute(
        tables.entities.select().where(tables.entities.c.agency == "MI")).first().id
    assert entity_id not in shown
    assert pointer["reference"] == pointer_reference(entity_id)
    # the owner can learn of the hit from the audit log
    [entry] = [e for e in audit.show(world.store, user="amelie") if e.action == "search.pointer"]
    assert entity_id in entry.entities and "agency:MI" in entry.entities and entry.query == "Viktor Petrenko"


def test_a_uk_analyst_sees_the_eyes_only_subject_and_no_pointer(client, world):
    body = client.get("/api/v1/search", params={"q": "petrenko"}, headers=bearer(world.tokens["alice"])).json()
    assert names_in(body) == {"Viktor Petrenko"} and body["pointers"] == []


def test_no_pointer_from_an_agency_whose_hit_policy_is_not_open(client, world):
    with world.store.engine.begin() as conn:
        conn.execute(update(tables.agencies).where(tables.agencies.c.code == "MI").values(hit_policy="silent"))
    body = client.get("/api/v1/search", params={"q": "Viktor Petrenko"}, headers=bearer(world.tokens["amelie"])).json()
    assert body["results"] == [] and body["pointers"] == []
    assert not [e for e in audit.show(world.store, user="amelie") if e.action == "search.pointer"]


def test_an_official_cleared_officer_counts_only_what_they_may_see(client, world):
    # olly (OFFICIAL) sees FRPOL's OFFICIAL record but not UKPOL's OFFICIAL-SENSITIVE one
    body = client.get("/api/v1/search", params={"q": "Karimi", "limit": 1},
                      headers=bearer(world.tokens["olly"])).json()
    assert body["total"] == 1 and names_in(body) == {"محمد الكريمي"}
    # the UKPOL record is hidden from him but his own agency holds it: a pointer, never the name
    assert "Mohammed Al-Karimi" not in str(body)


def test_pagination_counts_visible_entities(client, world):
    headers = bearer(world.tokens["alice"])
    first = client.get("/api/v1/search", params={"q": "Karimi", "limit": 1}, headers=headers).json()
    second = client.get("/api/v1/search", params={"q": "Karimi", "limit": 1, "offset": 1}, headers=headers).json()
    assert first["total"] == second["total"] == 2
    assert len(first["results"]) == len(second["results"]) == 1
    assert first["results"][0]["id"] != second["results"][0]["id"]


def test_every_search_is_audited_with_the_entities_shown(client, world):
    body = client.get("/api/v1/search", params={"q": "Karimi"}, headers=bearer(world.tokens["alice"])).json()
    [entry] = [e for e in audit.show(world.store, user="alice") if e.action == "search"]
    assert entry.query == "Karimi" and sorted(entry.entities) == sorted(r["id"] for r in body["results"])
    assert audit.verify(world.store).ok


VEHICLE_MAPPING = """
vehicles:
  queries:
    - entities:
        vehicle:
          schema: Vehicle
          keys: [plate]
          key_literal: vehicle
          properties:
            registrationNumber: {column: plate}
        account:
          schema: BankAccount
          keys: [iban]
          key_literal: account
          properties:
            iban: {column: iban}
"""


def test_a_plate_or_an_iban_with_or_without_spaces_finds_its_record(client, world, tmp_path):
    csv = write(tmp_path / "sightings.csv", "plate,iban\nAB12 CDE,GB82 WEST 1234 5698 7654 32\n")
    ingest_file(world.store, csv, "UKPOL", write(tmp_path / "vehicles.yml", VEHICLE_MAPPING))
    headers = bearer(world.tokens["alice"])
    for q, prop, value in (("ab12cde", "registrationNumber", "AB12 CDE"), ("AB12 CDE", "registrationNumber", "AB12 CDE"),
                           ("GB82WEST12345698765432", "iban", None), ("gb82 west 1234 5698 7654 32", "iban", None)):
        body = client.get("/api/v1/search", params={"q": q}, headers=headers).json()
        assert len(body["results"]) == 1, q
        [hit] = body["results"]
        assert prop in hit["properties"] and hit["properties"][prop][0]["agency"] == "UKPOL"
        if value:
            assert hit["properties"][prop][0]["value"] == value


def test_the_index_holds_name_tokens_and_identifier_spellings_and_rebuilds_when_keying_changes(world, monkeypatch):
    from sqlalchemy import select as sql_select

    from tessera.api.search import name_key
    store = world.store
    search_index.refresh(store)
    s = tables.statements
    with store.engine.connect() as conn:
        upto = search_index.covered(conn)
        karimi = {r.id for r in conn.execute(sql_select(s.c.id, s.c.value).where(s.c.prop == "name"))
                  if "Karimi" in r.value or "الكريمي" in r.value}
        found = search_index.statements_with_all(conn, ["n:" + t for t in name_key("Muhammad Karimi")], upto)
        assert set(found) == karimi and len(karimi) == 2
        phone = search_index.statements_with_any(conn, ["v:+447700900123"], upto)
        assert [conn.execute(sql_select(s.c.prop).where(s.c.id == i)).scalar_one() for i in phone] == ["phone"]
    monkeypatch.setattr(search_index, "_fingerprint", "keyed-another-way")
    with store.engine.connect() as conn:
        assert search_index.covered(conn) == 0      # search scans until the index is rebuilt
    rebuilt = search_index.refresh(store)
    assert rebuilt["rebuilt"] is True and rebuilt["upto"] == upto
    with store.engine.connect() as conn:
        assert search_index.covered(conn) == upto


PASSPORT_MAPPING = """
arrivals:
  queries:
    - entities:
        person:
          schema: Person
          keys: [ref]
          key_literal: arrival
          properties:
            name: {column: name}
            passportNumber: {column: passport}
"""


def test_a_passport_number_as_written_or_without_its_spaces_finds_its_holder(client, world, tmp_path):
    csv = write(tmp_path / "arrivals.csv", "ref,name,passport\nA1,Dawit Tesfaye,ER 0123 4567\n")
    ingest_file(world.store, csv, "UKPOL", write(tmp_path / "arrivals.yml", PASSPORT_MAPPING))
    for q in ("ER 0123 4567", "er01234567", "ER01234567"):
        body = client.get("/api/v1/search", params={"q": q}, headers=bearer(world.tokens["alice"])).json()
        assert [r["names"] for r in body["results"]] == [["Dawit Tesfaye"]], q
        assert body["results"][0]["properties"]["passportNumber"][0]["value"] == "ER 0123 4567"
    other = client.get("/api/v1/search", params={"q": "ER 0123 4568"}, headers=bearer(world.tokens["alice"])).json()
    assert other["results"] == []


def test_search_keys_fold_spellings_of_one_sound_but_keep_different_names_apart():
    from tessera.api.search import name_key, matches

    assert name_key("Carwan Uthman") == name_key("Karwan Othman")
    assert name_key("Khalid Qasim") == name_key("Chalid Kasim")
    assert matches(name_key("Muhammad Karimi"), name_key("محمد الكريمي"))
    assert not matches(name_key("Mehdi Karimi"), name_key("Mohammed Al-Karimi"))
    assert not matches(name_key("Karwan Othman"), name_key("Karim Osman"))


def test_a_search_run_in_a_worker_thread_answers_as_one_run_on_the_event_loop(client, world, monkeypatch):
    """Past INLINE_TAIL un-indexed statements a search is run in a worker thread: same results, same pointer, the
    owner still told (a silent owner too) and the search still audited."""
    from tessera.alerts.tables import notices
    from tessera.api import routes_core, search as searching

    def ask(q, who):
        return client.get("/api/v1/search", params={"q": q}, headers=bearer(world.tokens[who])).json()

    inline = [ask("Viktor Petrenko", "amelie"), ask("07700 900123", "alice")]
    threaded_calls = []
    real = searching.search

    def spy(connection, user, q, limit, offset, max_tail=None, max_rows=None):
        threaded_calls.append(max_tail)
        return real(connection, user, q, limit, offset, max_tail, max_rows)

    monkeypatch.setattr(searching, "search", spy)
    monkeypatch.setattr(routes_core, "INLINE_TAIL", -1)  # every search has a tail longer than this
    threaded = [ask("Viktor Petrenko", "amelie"), ask("07700 900123", "alice")]
    assert threaded_calls == [-1, None, -1, None]  # refused inline, then run without a bound in the thread
    assert threaded == inline
    assert threaded[0]["pointers"][0]["agency"] == "MI"
    with world.store.engine.connect() as conn:
        told = conn.execute(notices.select().where(notices.c.recipient == "MI")
                            .where(notices.c.kind == "searched")).all()
    assert len(told) == 2  # one per search, inline and threaded
    searches = [e for e in audit.show(world.store, user="amelie") if e.action == "search.pointer"]
    assert len(searches) == 2
