"""Hostile use: every operation of the API's own OpenAPI spec fuzzed; no 500s, nothing of another agency leaks."""

from __future__ import annotations

import io
import json
import re
import zipfile

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pypdf
import pytest
import schemathesis
from fastapi.testclient import TestClient
from sqlalchemy import select
from hypothesis import HealthCheck, given, settings

from api_helpers import bearer, build_world
from tessera.access import identity
from tessera.api.app import create_app
from tessera.store import tables
from tessera.store.store import Store

# MI's subject is SECRET, UK EYES ONLY: a French analyst must never see any of it, under any request.
MI_SECRETS = ("Petrenko", "Viktor", "+447700900555", "1980-12-12")
# Streams never end and webhooks call out to the address given; neither belongs in a bounded, offline fuzz.
SKIP = re.compile(r"stream|/events|webhook")
# Operations the fuzz found failing, owned by other route modules and reported to their owners; remove a
# label once its route is fixed.
KNOWN: set[str] = set()


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    store = Store.open(f"sqlite:///{tmp / 'tessera.db'}")
    world = build_world(store, tmp)
    yield world
    store.close()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_world):
    return create_app(store=fuzz_world.store)


@pytest.fixture(scope="module")
def operations(fuzz_app):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzz_app)
    found = [result.ok() for result in schema.get_all_operations()]
    found = [op for op in found if not SKIP.search(op.path)]
    assert len(found) >= 10, [op.label for op in found]
    return found


def readable(response) -> str:
    """The answer as text, whatever it is: a zip's members and a PDF's text too, so a leak cannot hide in them."""
    body = response.content
    if body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return "\n".join(readable_bytes(archive.read(name)) for name in archive.namelist())
    return readable_bytes(body)


def readable_bytes(body: bytes) -> str:
    if body.startswith(b"%PDF"):
        return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)
    return body.decode("utf-8", "replace")


def content_type(response) -> str:
    value = response.headers.get("content-type") or ""
    return value[0] if isinstance(value, list) else value


def fuzz(operation, examples: int, check) -> None:
    """Run `check` on `examples` generated cases of one operation (derandomised, so a run is repeatable)."""

    @given(operation.as_strategy())
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        check(case)

    run()


def fuzz_all(operations, examples: int, check) -> list[str]:
    """Fuzz every operation; one line per operation that failed (KNOWN ones are left to their owners)."""
    failures = []
    for operation in operations:
        if operation.label in KNOWN:
            continue
        try:
            fuzz(operation, examples, check)
        except Exception as exc:  # noqa: BLE001 - gather every failing operation, then fail once
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            failures.append(f"{operation.label}: {type(exc).__name__}: {first[:300]}")
    return failures


def test_no_operation_fails_or_leaks_to_a_foreign_analyst(operations, fuzz_world):
    def check(case):
        response = case.call(headers=bearer(fuzz_world.tokens["amelie"]))
        where = f"{case.method} {case.formatted_path}"
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
        leaked = [s for s in MI_SECRETS if s in readable(response)]
        assert not leaked, f"{where} showed {leaked} to FRPOL"
        if response.status_code >= 400:
            assert content_type(response).startswith("application/problem+json"), \
                f"{where}: {response.status_code} {response.text[:300]}"

    failures = fuzz_all(operations, 20, check)
    assert not failures, "\n".join(failures)


ID_PARAMS = {"entity", "entity_id", "id", "a", "b", "canonical_id", "subject"}


def test_every_read_given_the_secret_subjects_real_ids_shows_nothing_of_it(fuzz_app, fuzz_world):
    """Random ids rarely hit MI's record: here every GET route is called with its real ids, by two viewers
    who may not see it (a French analyst, and a UK officer cleared only for OFFICIAL)."""
    client = TestClient(fuzz_app)
    e = tables.entities
    with fuzz_world.store.engine.connect() as conn:
        secret_ids = sorted({v for row in conn.execute(select(e.c.id, e.c.canonical_id).where(e.c.agency == "MI"))
                             for v in row if v})
    assert secret_ids
    spec = client.get("/api/v1/openapi.json").json()
    calls = 0
    for path, methods in spec["paths"].items():
        get = methods.get("get")
        if not get or SKIP.search(path):
            continue
        params = [p for p in get.get("parameters", []) if p["in"] in ("path", "query")]
        if not any(p["name"] in ID_PARAMS for p in params):
            continue
        for secret_id in secret_ids:
            url = path
            query = {}
            for p in params:
                if p["name"] in ID_PARAMS:
                    value = secret_id
                elif p.get("required"):
                    value = "Viktor Petrenko" if p["name"] == "q" else "1"
                else:
                    continue
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", value)
                else:
                    query[p["name"]] = value
            for viewer in ("amelie", "olly"):
                response = client.get(url, params=query, headers=bearer(fuzz_world.tokens[viewer]))
                calls += 1
                assert response.status_code < 500, (url, query, response.text[:300])
                body = readable(response).replace("Viktor Petrenko", "") if "q" in query else readable(response)
                leaked = [s for s in MI_SECRETS if s in body]
                assert not leaked, f"GET {url} {query} showed {leaked} to {viewer}"
    assert calls >= 20  # the spec's entity routes were really walked


def test_without_credentials_nothing_but_the_login_and_spec_answers(operations, fuzz_world):
    def check(case):
        response = case.call()
        where = f"{case.method} {case.formatted_path}"
        assert response.status_code < 500, f"{where}: {response.status_code}"
        if case.path != "/api/v1/session" and case.path.startswith("/api/v1/"):
            assert response.status_code in (401, 404, 405, 422, 429), \
                f"{where} answered {response.status_code} without credentials"
        assert not [s for s in MI_SECRETS if s in readable(response)]

    failures = fuzz_all(operations, 2, check)
    assert not failures, "\n".join(failures)


def test_the_fuzz_sees_the_secret_exists(fuzz_app, fuzz_world):
    """The leak check above can fail: a British analyst cleared for MI's subject does see it."""
    client = TestClient(fuzz_app)
    body = client.get("/api/v1/search", params={"q": "Viktor Petrenko"}, headers=bearer(fuzz_world.tokens["alice"]))
    assert "Petrenko" in body.text
    foreign = client.get("/api/v1/search", params={"q": "Viktor Petrenko"},
                         headers=bearer(fuzz_world.tokens["amelie"]))
    assert foreign.status_code == 200 and "Petrenko" not in json.dumps(foreign.json()["results"])
    assert foreign.json()["pointers"]  # MI's open policy: a pointer, with no content


def test_another_agencys_expired_and_revoked_tokens_are_refused(fuzz_app, fuzz_world):
    client = TestClient(fuzz_app)
    store = fuzz_world.store
    with store.engine.begin() as conn:
        short = identity.create_token(conn, "amelie", days=1e-9).token   # expires at once
        revoked = identity.create_token(conn, "amelie").token
        identity.revoke_token(conn, token=revoked)
    for token, why in ((short, "expired"), (revoked, "revoked"), ("tsr_" + "x" * 43, "unknown")):
        response = client.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 401 and why in response.json()["detail"], (why, response.text)
    # a token names its own user: FRPOL's token never acts as UKPOL, whatever the request claims
    as_french = client.get("/api/v1/me", headers=bearer(fuzz_world.tokens["amelie"]) | {"X-Agency": "UKPOL"})
    assert as_french.json()["agency"] == "FRPOL"
    upload = client.post("/api/v1/ingest", headers=bearer(fuzz_world.tokens["amelie"]),
                         data={"agency": "UKPOL"}, files={"file": ("x.csv", b"a\n1\n", "text/csv")})
    assert upload.status_code == 403
