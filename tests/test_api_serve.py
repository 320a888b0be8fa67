"""`tessera serve` really serves: a subprocess on a free port answers a search with a bearer token."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import httpx

from api_helpers import bearer, build_world
from tessera.store.store import Store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tessera_serve_answers_a_search_over_http(tmp_path):
    db = tmp_path / "served.db"
    store = Store.open(f"sqlite:///{db}")
    world = build_world(store, tmp_path)
    store.close()
    port = free_port()
    env = dict(os.environ, TESSERA_ARGON2_TIME_COST="1", TESSERA_ARGON2_MEMORY_KIB="1024")
    server = subprocess.Popen([sys.executable, "-m", "tessera.cli", "serve", "--port", str(port), "--db", str(db)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 20
        while True:
            assert server.poll() is None, server.stdout.read().decode()
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        response = httpx.get(f"{base}/search", params={"q": "Muhammad Karimi"},
                             headers=bearer(world.tokens["alice"]), timeout=10)
        assert response.status_code == 200, response.text
        assert {n for r in response.json()["results"] for n in r["names"]} == {"محمد الكريمي", "Mohammed Al-Karimi"}
        refused = httpx.get(f"{base}/search", params={"q": "Karimi"}, timeout=10)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
