"""Search for common names: pair keys that find a full name among thousands sharing each part, pages read
page by page, and a viewer still seeing only what they are cleared for."""

from __future__ import annotations

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient

from api_helpers import bearer, build_world
from intake_helpers import HEADER_LINE, mapping_file, write
from tessera.api import search as searching
from tessera.api import search_index
from tessera.api.app import create_app
from tessera.api.search import name_key
from tessera.intake.pipeline import BatchMarking, ingest_file

GIVEN = ["Dawit", "Yonas", "Filmon", "Meron", "Senait", "Helen", "Bereket", "Ermias", "Kidane", "Lidya",
         "Mulugeta", "Nahom", "Rahel", "Selam", "Tekle", "Winta", "Zerai", "Abrehet", "Goitom", "Hagos",
         "Isaias", "Luwam", "Robel", "Saba", "Yordanos", "Amanuel", "Biniam", "Fiori", "Hiwet", "Natnael"]
SHOWN = 20     # Tesfayes every analyst of the world may see (UKPOL, OFFICIAL)
HIDDEN = 10    # Tesfayes under MI's SECRET, UK EYES ONLY: a French analyst and an OFFICIAL officer get pointers
LONG = "Amanuel Ghebre Mariam Tekle Haimanot Woldu Kidane Mehret Tsegay Berhe Gebremedhin Araya Abraha Tewolde"


def rows(names: list[str], start: int) -> str:
    return "".join(f"T{start + i},{n},01/02/19{60 + i % 40},07700 91{start + i:04d},ER,\n" for i, n in enumerate(names))


@pytest.fixture(params=["scanned", "indexed"])
def world(request, store, tmp_path):
    built = build_world(store, tmp_path)
    mapping = mapping_file(tmp_path)
    shown = [f"{g} Tesfaye" for g in GIVEN[:SHOWN]] + [f"Dawit {g}" for g in GIVEN[1:6]] + ["Yonas Yonas Haile", LONG]
    hidden = [f"{g} Tesfaye" for g in GIVEN[SHOWN:SHOWN + HIDDEN]]
    ingest_file(store, write(tmp_path / "eritreans.csv", HEADER_LINE + rows(shown, 100)), "UKPOL", mapping,
                BatchMarking.make("OFFICIAL"))
    ingest_file(store, write(tmp_path / "mi-eritreans.csv", HEADER_LINE + rows(hidden, 200)), "MI", mapping,
                BatchMarking.make("SECRET", caveat="UK EYES ONLY"))
    if request.param == "indexed":
        assert search_index.refresh(store)["statements"] > 0
    return built


@pytest.fixture
def client(world):
    return TestClient(create_app(store=world.store))


def ask(client, world, who: str, q: str, **params) -> dict:
    response = client.get("/api/v1/search", params={"q": q, **params}, headers=bearer(world.tokens[who]))
    assert response.status_code == 200, response.text
    return response.json()


def names_in(body) -> list[str]:
    return [n for r in body["results"] for n in r["names"]]


def test_a_full_name_finds_its_holder_among_many_sharing_each_part(client, world):
    body = ask(client, world, "alice", "Dawit Tesfaye")
    assert names_in(body) == ["Dawit Tesfaye"] and body["total"] == 1
    # the parts alone are common: each finds every holder
    assert body["total"] < ask(client, world, "alice", "Dawit")["total"] == 6
    assert ask(client, world, "alice", "Tesfaye")["total"] == SHOWN + HIDDEN


def test_a_repeated_part_must_be_repeated_in_the_name(client, world):
    assert names_in(ask(client, world, "alice", "Yonas Yonas")) == ["Yonas Yonas Haile"]
    assert sorted(names_in(ask(client, world, "alice", "Yonas Haile"))) == ["Yonas Yonas Haile"]


def test_a_name_of_many_parts_is_found_by_any_two_of_them(client, world):
    for q in ("Gebremedhin Haimanot", "Tewolde Amanuel Woldu", "Mehret Araya"):
        assert names_in(ask(client, world, "alice", q)) == [LONG], q
    assert ask(client, world, "alice", "Mehret Tesfaye")["results"] == []


def test_a_common_name_pages_through_every_visible_holder_once(client, world):
    pages = [ask(client, world, "alice", "Tesfaye", limit=7, offset=at) for at in range(0, SHOWN + HIDDEN + 7, 7)]
    assert {p["total"] for p in pages} == {SHOWN + HIDDEN}  # alice (UKPOL, SECRET, British) may see MI's too
    ids = [r["id"] for p in pages for r in p["results"]]
    assert len(ids) == len(set(ids)) == SHOWN + HIDDEN
    assert [len(p["results"]) for p in pages] == [7, 7, 7, 7, 2, 0]
    assert ids == sorted(ids)
    assert sorted(n for p in pages for n in names_in(p)) == sorted(f"{g} Tesfaye" for g in GIVEN[:SHOWN + HIDDEN])


def test_a_search_reads_the_values_of_its_page_only(client, world, monkeypatch):
    asked: list[list[str]] = []
    real = searching._visible_values

    def spy(connection, user, canonical_ids, provenance=False):
        asked.append(list(canonical_ids))
        return real(connection, user, canonical_ids, provenance)

    monkeypatch.setattr(searching, "_visible_values", spy)
    body = ask(client, world, "alice", "Tesfaye", limit=5, offset=10)
    assert body["total"] == SHOWN + HIDDEN and len(body["results"]) == 5
    assert asked == [[r["id"] for r in body["results"]]]


@pytest.mark.parametrize("who", ["amelie", "olly"])
def test_a_common_name_shows_a_viewer_only_what_they_are_cleared_for_and_points_at_the_rest(client, world, who):
    # amelie (FRPOL) is not British; olly (UKPOL) is cleared to OFFICIAL only: neither may see MI's Tesfayes
    pages = [ask(client, world, who, "Tesfaye", limit=6, offset=at) for at in range(0, SHOWN, 6)]
    assert {p["total"] for p in pages} == {SHOWN}
    assert sorted(n for p in pages for n in names_in(p)) == sorted(f"{g} Tesfaye" for g in GIVEN[:SHOWN])
    hidden_names = [f"{g} Tesfaye" for g in GIVEN[SHOWN:SHOWN + HIDDEN]]
    for p in pages:
        assert not any(n.split()[0] in str(p) for n in hidden_names)
        assert len(p["pointers"]) == HIDDEN
        assert {x["agency"] for x in p["pointers"]} == {"MI"}
        assert len({x["reference"] for x in p["pointers"]}) == HIDDEN
        assert all(set(x) == {"agency", "contact", "reference"} for x in p["pointers"])


def test_a_search_of_a_common_part_runs_in_a_worker_thread_with_the_same_answer(client, world, monkeypatch):
    from tessera.api import routes_core

    search_index.refresh(world.store)  # the candidates counted are the index's
    inline = [ask(client, world, who, "Tesfaye", limit=50) for who in ("alice", "olly")]
    calls = []
    real = searching.search

    def spy(connection, user, q, limit, offset, max_tail=None, max_rows=None):
        calls.append(max_rows)
        return real(connection, user, q, limit, offset, max_tail, max_rows)

    monkeypatch.setattr(searching, "search", spy)
    monkeypatch.setattr(routes_core, "INLINE_ROWS", 5)
    assert [ask(client, world, who, "Tesfaye", limit=50) for who in ("alice", "olly")] == inline
    assert calls == [5, None, 5, None]  # refused inline (30 candidates), then run in a thread without a bound
    calls.clear()
    assert names_in(ask(client, world, "olly", "Dawit Tesfaye")) == ["Dawit Tesfaye"]
    assert calls == [5]  # one candidate: answered inline


def test_the_index_keys_each_pair_of_a_name_and_marks_names_too_long_for_pairs():
    keys = search_index.keys_of("name", "Dawit Tesfaye")
    dawit, tesfaye = name_key("Dawit")[0], name_key("Tesfaye")[0]
    assert keys == {"n:" + dawit, "n:" + tesfaye, search_index.pair_key(dawit, tesfaye)}
    assert search_index.pair_key(dawit, tesfaye) == search_index.pair_key(tesfaye, dawit)
    three = search_index.keys_of("name", "Yonas Yonas Haile")
    assert {k for k in three if k.startswith("p:")} == {search_index.pair_key(*name_key("Yonas Yonas")),
                                                       search_index.pair_key(*name_key("Yonas Haile"))}
    long = search_index.keys_of("name", LONG)
    assert search_index.LONG_NAME in long and not any(k.startswith("p:") for k in long)
    assert {"n:" + t for t in name_key(LONG)} <= long
