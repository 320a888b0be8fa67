"""The API's door and profiles: bearer tokens, problem+json errors, provenance and grading of each value."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api_helpers import bearer, build_world
from tessera.access import audit, identity
from tessera.access.tables import api_tokens
from tessera.api.app import create_app
from tessera.store import tables


@pytest.fixture
def world(store, tmp_path):
    return build_world(store, tmp_path)


@pytest.fixture
def client(world):
    return TestClient(create_app(store=world.store))


def entity_of(world, agency: str) -> str:
    with world.store.engine.connect() as conn:
        return conn.execute(select(tables.entities.c.id).where(tables.entities.c.agency == agency)
                            .order_by(tables.entities.c.record_no)).first()[0]


def assert_problem(response, status: int):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and "type" in body and "detail" in body
    return body


def test_an_expired_or_revoked_token_is_refused_with_problem_json(client, world):
    token = world.tokens["alice"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    with world.store.engine.begin() as conn:
        conn.execute(update(api_tokens).values(expires_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
    body = assert_problem(client.get("/api/v1/search", params={"q": "Karimi"}, headers=bearer(token)), 401)
    assert "expired" in body["detail"]

    with world.store.engine.begin() as conn:
        fresh = identity.create_token(conn, "alice").token
    assert client.get("/api/v1/me", headers=bearer(fresh)).json()["name"] == "alice"
    with world.store.engine.begin() as conn:
        identity.revoke_token(conn, token=fresh)
    body = assert_problem(client.get("/api/v1/me", headers=bearer(fresh)), 401)
    assert "revoked" in body["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer tsr_not-a-token"},
                                     {"Authorization": "Basic YWxpY2U6cHc="}])
def test_a_missing_or_unknown_token_is_refused(client, headers):
    response = client.get("/api/v1/search", params={"q": "Karimi"}, headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_disabled_user_token_is_refused(client, world):
    with world.store.engine.begin() as conn:
        identity.set_disabled(conn, "alice")
    assert_problem(client.get("/api/v1/me", headers=bearer(world.tokens["alice"])), 401)


def test_me_says_who_the_caller_is(client, world):
    body = client.get("/api/v1/me", headers=bearer(world.tokens["amelie"])).json()
    assert body == dict(name="amelie", agency="FRPOL", country="FR", clearance="SECRET", nationality="FR",
                        roles=["analyst"])


def test_a_profile_shows_provenance_and_grading_of_each_value(client, world):
    eid = entity_of(world, "UKPOL")
    response = client.get(f"/api/v1/entities/{eid}", headers=bearer(world.tokens["alice"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == eid and body["caption"] == "Mohammed Al-Karimi"
    by_prop = {v["prop"]: v for v in body["values"]}
    assert by_prop["phone"]["value"] == "+447700900123" and by_prop["phone"]["original"] == "07700 900123"
    for value in body["values"]:
        assert value["agency"] == "UKPOL" and value["file"] == "ukpol.csv" and value["row"] == 1
        assert value["received_at"] and value["grading"] == "1A"
        assert value["marking"]["classification"] == "OFFICIAL-SENSITIVE"
    [entry] = [e for e in audit.show(world.store, user="alice") if e.action == "entity.view"]
    assert entry.entities == [eid]


def test_a_profile_by_canonical_id_joins_agencies(client, world):
    with world.store.engine.begin() as conn:
        conn.execute(update(tables.entities).where(tables.entities.c.id.in_(
            [entity_of(world, "UKPOL"), entity_of(world, "FRPOL")])).values(canonical_id="P-karimi"))
    body = client.get("/api/v1/entities/P-karimi", headers=bearer(world.tokens["alice"])).json()
    assert body["agencies"] == ["FRPOL", "UKPOL"]
    assert {v["value"] for v in body["values"] if v["prop"] == "name"} == {"Mohammed Al-Karimi", "محمد الكريمي"}
    grades = {v["agency"]: v["grading"] for v in body["values"]}
    assert grades == {"UKPOL": "1A", "FRPOL": "2C"}
    # an OFFICIAL-cleared officer sees only the OFFICIAL part of the same entity
    body = client.get("/api/v1/entities/P-karimi", headers=bearer(world.tokens["olly"])).json()
    assert body["agencies"] == ["FRPOL"]


def test_an_entity_the_caller_cannot_see_is_404_not_403(client, world):
    eid = entity_of(world, "MI")
    hidden = client.get(f"/api/v1/entities/{eid}", headers=bearer(world.tokens["amelie"]))
    missing = client.get("/api/v1/entities/no-such-entity", headers=bearer(world.tokens["amelie"]))
    assert_problem(hidden, 404)
    assert_problem(missing, 404)
    assert hidden.json()["title"] == missing.json()["title"]
    assert "Petrenko" not in hidden.text
    assert client.get(f"/api/v1/entities/{eid}", headers=bearer(world.tokens["alice"])).status_code == 200


def test_openapi_is_published_and_errors_are_problems(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/search", "/api/v1/entities/{entity_id}", "/api/v1/me"} <= set(spec["paths"])
    assert_problem(client.get("/api/v1/nowhere"), 404)


def test_a_bad_limit_is_a_problem(client, world):
    response = client.get("/api/v1/search", params={"q": "x", "limit": 0}, headers=bearer(world.tokens["alice"]))
    assert_problem(response, 422)
