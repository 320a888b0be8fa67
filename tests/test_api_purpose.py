"""Stated purpose: where purpose.yml says a role must say why it looks, search, profiles, graph queries and exports
refuse without a purpose and record it in the audit entry with one; by default nobody has to."""

from __future__ import annotations

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient

from api_helpers import bearer, build_world
from tessera.access import audit
from tessera.access.purpose import RULES_ENV, roles_requiring_purpose
from tessera.api.app import create_app

V1 = "/api/v1"
WHY = "Op TIDE: tasking 42"


@pytest.fixture
def world(store, tmp_path):
    return build_world(store, tmp_path)


@pytest.fixture
def client(world, tmp_path, monkeypatch):
    rules = tmp_path / "purpose.yml"
    rules.write_text("default: []\nagencies:\n  UKPOL: [analyst]\n")
    monkeypatch.setenv(RULES_ENV, str(rules))
    return TestClient(create_app(store=world.store))


def last_entry(world) -> audit.Entry:
    return audit.show(world.store, limit=1)[0]


def refused(response):
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "purpose" in response.json()["detail"]


def test_the_shipped_rules_require_no_purpose(world, monkeypatch):
    monkeypatch.delenv(RULES_ENV, raising=False)
    assert roles_requiring_purpose("UKPOL") == frozenset()
    client = TestClient(create_app(store=world.store))
    response = client.get(f"{V1}/search", params={"q": "Karimi"}, headers=bearer(world.tokens["alice"]))
    assert response.status_code == 200
    assert last_entry(world).purpose is None


def test_search_and_profiles_refuse_without_a_purpose_and_audit_the_one_given(world, client):
    alice = bearer(world.tokens["alice"])
    refused(client.get(f"{V1}/search", params={"q": "Karimi"}, headers=alice))
    refused(client.get(f"{V1}/search", params={"q": "Karimi"}, headers=alice | {"X-Tessera-Purpose": "  "}))
    found = client.get(f"{V1}/search", params={"q": "Karimi"}, headers=alice | {"X-Tessera-Purpose": WHY})
    assert found.status_code == 200 and found.json()["total"] >= 1
    entry = last_entry(world)
    assert (entry.user, entry.action, entry.purpose) == ("alice", "search", WHY)

    entity = found.json()["results"][0]["id"]
    refused(client.get(f"{V1}/entities/{entity}", headers=alice))
    assert client.get(f"{V1}/entities/{entity}", params={"purpose": WHY}, headers=alice).status_code == 200
    assert (last_entry(world).action, last_entry(world).purpose) == ("entity.view", WHY)
    assert client.get(f"{V1}/entities/nope", params={"purpose": WHY}, headers=alice).status_code == 404
    assert last_entry(world).purpose == f"{WHY}; not found"

    # another agency's analyst, and other roles, are not bound by UKPOL's rule
    amelie = bearer(world.tokens["amelie"])
    assert client.get(f"{V1}/search", params={"q": "Karimi"}, headers=amelie).status_code == 200
    assert last_entry(world).purpose is None


def test_graph_queries_and_exports_refuse_without_a_purpose(world, client):
    alice = bearer(world.tokens["alice"])
    refused(client.get(f"{V1}/graph/networks", headers=alice))
    assert client.get(f"{V1}/graph/networks", headers=alice | {"X-Tessera-Purpose": WHY}).status_code == 200
    assert (last_entry(world).action, last_entry(world).purpose) == ("graph.networks", WHY)
    refused(client.get(f"{V1}/graph/neighbourhood/somebody", headers=alice))
    refused(client.get(f"{V1}/graph/export", params={"entity": "somebody"}, headers=alice))
    refused(client.get(f"{V1}/charts/networks", headers=alice))  # the web app's chart data too
    assert client.get(f"{V1}/charts/networks", headers=alice | {"X-Tessera-Purpose": WHY}).status_code == 200
    assert (last_entry(world).action, last_entry(world).purpose) == ("chart.networks", WHY)

    refused(client.post(f"{V1}/exports", json={"kind": "ftm"}, headers=alice))
    response = client.post(f"{V1}/exports", json={"kind": "ftm", "purpose": WHY}, headers=alice)
    assert response.status_code == 200, response.text
    entry = last_entry(world)
    assert (entry.action, entry.purpose, entry.seq) == ("export.ftm", WHY, int(response.headers["X-Tessera-Audit-Seq"]))
    response = client.post(f"{V1}/exports", json={"kind": "ftm"}, headers=alice | {"X-Tessera-Purpose": "by header"})
    assert response.status_code == 200 and last_entry(world).purpose == "by header"


def test_a_command_line_export_needs_a_purpose_too(world, client, tmp_path):
    from typer.testing import CliRunner

    from tessera.cli import app
    from tessera.cli_common import EXIT_USAGE

    db = world.store.url if world.store.dialect == "postgresql" else str(world.store.engine.url.database)
    args = ["export", "ftm", "--as", "alice", "--out", str(tmp_path / "out.jsonl"), "--db", db]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == EXIT_USAGE and "purpose" in result.output
    assert CliRunner().invoke(app, args + ["--purpose", WHY]).exit_code == 0
    assert (last_entry(world).action, last_entry(world).purpose) == ("export.ftm", WHY)


def test_rules_naming_an_unknown_role_are_refused(tmp_path, monkeypatch):
    rules = tmp_path / "bad-purpose.yml"
    rules.write_text("default: [spy]\n")
    monkeypatch.setenv(RULES_ENV, str(rules))
    with pytest.raises(ValueError, match="spy"):
        roles_requiring_purpose("UKPOL")
