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
from intake_helpers import HEADER_LINE, mapping_file, write
from tessera.store.store import Store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ENV = dict(os.environ, TESSERA_ARGON2_TIME_COST="1", TESSERA_ARGON2_MEMORY_KIB="1024")


def serve(db, port: int) -> subprocess.Popen:
    """`tessera serve --port P` in a subprocess, returned once it answers."""
    server = subprocess.Popen([sys.executable, "-m", "tessera.cli", "serve", "--port", str(port), "--db", str(db)],
                              env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        assert server.poll() is None, server.stdout.read().decode()
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1)
            return server
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def tessera(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "tessera.cli", *args], input=stdin, env=ENV, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def test_an_administrator_sets_up_two_agencies_and_each_analyst_searches_as_the_markings_allow(tmp_path):
    """The acceptance path, command for command: agencies, users, tokens, a marked ingest, serve, search."""
    db = str(tmp_path / "tessera.db")
    tessera("agency", "add", "UKPOL", "--country", "GB", "--db", db)
    tessera("agency", "add", "FRPOL", "--country", "FR", "--db", db)
    tessera("user", "add", "alice", "--agency", "UKPOL", "--clearance", "SECRET", "--password-stdin", "--db", db,
            stdin="pw-alice\n")
    tessera("user", "add", "amelie", "--agency", "FRPOL", "--clearance", "SECRET", "--password-stdin", "--db", db,
            stdin="pw-amelie\n")
    tokens = {name: tessera("token", "create", name, "--db", db).strip().splitlines()[-1]
              for name in ("alice", "amelie")}
    rows = write(tmp_path / "nominals.csv", HEADER_LINE + "N1,Karwan Othman,04/03/1985,07700 900123,IQ,\n")
    tessera("ingest", str(rows), "--agency", "UKPOL", "--mapping", str(mapping_file(tmp_path)),
            "--classification", "SECRET", "--caveat", "UK EYES ONLY", "--db", db)
    port = free_port()
    server = serve(db, port)
    try:
        search = f"http://127.0.0.1:{port}/api/v1/search"
        seen = httpx.get(search, params={"q": "Carwan Uthman"}, headers=bearer(tokens["alice"]), timeout=10).json()
        assert [r["names"] for r in seen["results"]] == [["Karwan Othman"]]
        assert seen["results"][0]["properties"]["phone"][0]["value"] == "+447700900123"
        hidden = httpx.get(search, params={"q": "Karwan Othman"}, headers=bearer(tokens["amelie"]), timeout=10)
        assert hidden.status_code == 200 and hidden.json()["results"] == []
        assert "+447700900123" not in hidden.text and "1985" not in hidden.text
        assert [p["agency"] for p in hidden.json()["pointers"]] == ["UKPOL"]  # a pointer, by the open default
    finally:
        stop(server)


def test_tessera_serve_answers_a_search_over_http(tmp_path):
    db = tmp_path / "served.db"
    store = Store.open(f"sqlite:///{db}")
    world = build_world(store, tmp_path)
    store.close()
    port = free_port()
    server = serve(db, port)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        response = httpx.get(f"{base}/search", params={"q": "Muhammad Karimi"},
                             headers=bearer(world.tokens["alice"]), timeout=10)
        assert response.status_code == 200, response.text
        assert {n for r in response.json()["results"] for n in r["names"]} == {"محمد الكريمي", "Mohammed Al-Karimi"}
        refused = httpx.get(f"{base}/search", params={"q": "Karimi"}, timeout=10)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
    finally:
        stop(server)
