"""`tessera graph …` as a user: answers through the access policy, audited, with a purpose where the rules want one."""

from __future__ import annotations

import json

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from typer.testing import CliRunner

from api_helpers import build_world
from intake_helpers import HEADER_LINE, mapping_file, write
from tessera.access import audit
from tessera.access.purpose import RULES_ENV
from tessera.cli import app
from tessera.intake.pipeline import BatchMarking, ingest_file
from tessera.resolve.engine import resolve
from tessera.store import tables

runner = CliRunner()


@pytest.fixture
def smiths(store, tmp_path):
    """John Smith (UKPOL) and Jane Smith, who shares his phone: two people, one link."""
    world = build_world(store, tmp_path)
    jane = write(tmp_path / "jane.csv", HEADER_LINE + "N3,Jane Smith,02/02/1972,07700 900999,GB,2B\n")
    ingest_file(store, jane, "UKPOL", mapping_file(tmp_path), BatchMarking.make("OFFICIAL"))
    resolve(store)
    with store.engine.connect() as conn:
        e, s = tables.entities, tables.statements
        john = conn.execute(e.select().with_only_columns(e.c.canonical_id, e.c.id)
                            .where(e.c.id == s.select().with_only_columns(s.c.entity_id)
                                   .where(s.c.value == "John Smith").scalar_subquery())).first()
    return world, john.canonical_id or john.id


def graph(store, *args: str):
    return runner.invoke(app, ["graph", *args, "--db", store.engine.url.render_as_string(hide_password=False),
                               "--json"])


def test_a_neighbourhood_read_as_a_user_is_audited_under_their_name(smiths):
    world, john = smiths
    result = graph(world.store, "neighbours", john, "--hops", "1", "--as", "alice", "--purpose", "Op TIDE")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["nodes"]) == 2  # John and Jane
    entry = audit.show(world.store, user="alice")[-1]
    assert (entry.action, entry.purpose) == ("graph.neighbourhood", "Op TIDE") and john in entry.entities


def test_a_user_whose_role_must_state_a_purpose_is_refused_without_one(smiths, tmp_path, monkeypatch):
    world, john = smiths
    rules = tmp_path / "purpose.yml"
    rules.write_text("default: []\nagencies:\n  UKPOL: [analyst]\n")
    monkeypatch.setenv(RULES_ENV, str(rules))
    refused = graph(world.store, "neighbours", john, "--as", "alice")
    assert refused.exit_code == 2 and "purpose" in refused.output
    assert graph(world.store, "networks", "--as", "alice", "--purpose", "Op TIDE").exit_code == 0
    assert audit.show(world.store, user="alice")[-1].action == "graph.networks"


def test_an_unreadable_grading_is_a_usage_error_not_a_crash(smiths):
    world, john = smiths
    result = graph(world.store, "neighbours", john, "--min-grade", "Z9")
    assert result.exit_code == 2 and "not a grading" in result.output
