"""Logging in to the web app: a session cookie, logout, the CSRF rule, brute-force limits and the audit trail."""

from __future__ import annotations

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient

from api_helpers import bearer, build_world
from tessera.access import audit
from tessera.api.app import create_app

LOGIN = "/api/v1/session"
XRW = {"X-Requested-With": "tessera"}


@pytest.fixture
def world(store, tmp_path):
    return build_world(store, tmp_path)


@pytest.fixture
def client(world):
    return TestClient(create_app(store=world.store), base_url="http://testserver")


def problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_login_sets_a_strict_httponly_cookie_that_authenticates(client):
    response = client.post(LOGIN, json={"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200, response.text
    assert response.json()["agency"] == "UKPOL"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("tessera_session=tss_")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["name"] == "alice"
    found = client.get("/api/v1/search", params={"q": "Karimi"}).json()
    assert found["total"] >= 1


def test_login_by_form_as_a_browser_posts_it(client):
    response = client.post(LOGIN, data={"username": "amelie", "password": "pw-amelie"})
    assert response.status_code == 200, response.text
    assert client.get("/api/v1/me").json()["agency"] == "FRPOL"


@pytest.mark.parametrize("body", [{"username": "alice", "password": "wrong"},
                                  {"username": "nobody", "password": "pw-alice"}])
def test_a_wrong_password_or_unknown_user_gets_401_and_no_cookie(client, body):
    response = client.post(LOGIN, json=body)
    problem(response, 401)
    assert "set-cookie" not in response.headers
    problem(client.get("/api/v1/me"), 401)


def test_logout_ends_the_session_server_side(client):
    client.post(LOGIN, json={"username": "alice", "password": "pw-alice"})
    token = client.cookies.get("tessera_session")
    assert client.delete(LOGIN, headers=XRW).status_code == 204
    assert client.cookies.get("tessera_session") is None
    client.cookies.set("tessera_session", token)  # a copy of the cookie kept elsewhere is dead too
    assert "ended" in problem(client.get("/api/v1/me"), 401)["detail"]


def test_cookie_authenticated_changes_need_the_csrf_header_or_same_origin(client):
    client.post(LOGIN, json={"username": "alice", "password": "pw-alice"})
    problem(client.delete(LOGIN), 403)
    problem(client.delete(LOGIN, headers={"Origin": "http://evil.example"}), 403)
    assert client.get("/api/v1/me").status_code == 200   # still logged in: the forged logouts did nothing
    assert client.delete(LOGIN, headers={"Origin": "http://testserver"}).status_code == 204


def test_login_from_another_origin_is_refused(client):
    problem(client.post(LOGIN, json={"username": "alice", "password": "pw-alice"},
                        headers={"Origin": "http://evil.example"}), 403)


def test_a_bearer_token_wins_over_a_cookie(client, world):
    client.post(LOGIN, json={"username": "alice", "password": "pw-alice"})
    assert client.get("/api/v1/me", headers=bearer(world.tokens["amelie"])).json()["name"] == "amelie"
    problem(client.get("/api/v1/me", headers=bearer("tsr_forged")), 401)


def test_brute_force_is_limited_per_user_name_and_per_address(client, world):
    for _ in range(5):
        problem(client.post(LOGIN, json={"username": "alice", "password": "guess"}), 401)
    limited = client.post(LOGIN, json={"username": "alice", "password": "pw-alice"})
    problem(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # the same address is also blocked for other names it tries
    problem(client.post(LOGIN, json={"username": "amelie", "password": "pw-amelie"}), 429)
    # another address may still log in as another user, but not as the attacked name
    other = TestClient(client.app, client=("10.9.9.9", 5000))
    assert other.post(LOGIN, json={"username": "amelie", "password": "pw-amelie"}).status_code == 200
    problem(other.post(LOGIN, json={"username": "alice", "password": "pw-alice"}), 429)
    actions = [e.action for e in audit.show(world.store, user="alice")]
    assert actions.count("session.failed") == 5 and "session.refused" in actions
    assert "session.create" in [e.action for e in audit.show(world.store, user="amelie")]


def test_the_window_slides(world):
    app = create_app(store=world.store)
    clock = [1000.0]
    from tessera.api.login_limit import LoginLimiter
    app.state.login_limiter = LoginLimiter(max_failures=2, window=60, clock=lambda: clock[0])
    client = TestClient(app)
    for _ in range(2):
        problem(client.post(LOGIN, json={"username": "olly", "password": "x"}), 401)
    problem(client.post(LOGIN, json={"username": "olly", "password": "pw-olly"}), 429)
    clock[0] += 61
    assert client.post(LOGIN, json={"username": "olly", "password": "pw-olly"}).status_code == 200


@pytest.mark.parametrize("body", ['{"username": 3, "password": "x"}', "[]", "not json", '{"username": "a"}'])
def test_malformed_logins_are_422_problems(client, body):
    problem(client.post(LOGIN, content=body, headers={"content-type": "application/json"}), 422)
