"""Fixtures: a fresh store on SQLite and, when a server is reachable, on PostgreSQL."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from tessera.store.store import Store

PG_ADMIN = os.environ.get("TESSERA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


PG_OK = _pg_reachable()
REQUIRE_PG = os.environ.get("TESSERA_REQUIRE_PG") == "1"


def _backends():
    yield "sqlite"
    yield pytest.param("postgresql", marks=pytest.mark.postgres)


@pytest.fixture(params=list(_backends()))
def store_url(request, tmp_path):
    """URL of an empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tessera.db'}"
        return
    if not PG_OK:
        if REQUIRE_PG:
            pytest.fail("TESSERA_REQUIRE_PG=1 but no PostgreSQL server on 127.0.0.1:5432")
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    import psycopg

    name = f"tessera_test_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def store(store_url):
    """A fresh, migrated store on each backend."""
    s = Store.open(store_url)
    yield s
    s.close()
