"""Deconfliction: a landed batch meets other agencies' subjects at once, and each owner's hit policy decides who hears."""

from __future__ import annotations

import json

import alerts_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from alerts_helpers import build_world
from intake_helpers import HEADER_LINE, mapping_file, write
from tessera.access import deconfliction
from tessera.access.deconfliction import deconflict_batch, deconflict_canonical, list_notices, reference
from tessera.access.identity import create_token
from tessera.alerts.pump import after_batch, pump_once
from tessera.api.app import create_app
from tessera.api.search import pointer_reference
from tessera.cli import app
from tessera.store import tables


@pytest.fixture
def world(store, tmp_path):
    return build_world(store, tmp_path)


def test_an_open_owner_and_the_submitter_each_learn_of_the_other(world):
    batch = world.ingest("FRPOL", "F9,Jean Dupont,05/05/1975,+44 7700 900999,FR,\n")
    assert after_batch(world.store, batch)["notices"] == 2
    [hit] = world.notices("FRPOL")
    assert (hit["kind"], hit["counterpart"], hit["contact"]) == ("hit", "UKPOL", "UK police intelligence desk")
    assert hit["own_entity"] == world.entity("FRPOL")            # FRPOL's own record, nothing of UKPOL's
    [seen] = world.notices("UKPOL")
    assert (seen["kind"], seen["counterpart"], seen["contact"]) == ("seen", "FRPOL", None)
    assert seen["own_entity"] == world.entity("UKPOL", 2)          # Smith, whose phone it is
    assert hit["reference"] == seen["reference"] == pointer_reference(seen["subject"])
    with world.store.engine.connect() as conn:
        assert list_notices(conn, "FRPOL")[0]["message"] == (
            f"UKPOL holds this subject; contact UK police intelligence desk; reference {hit['reference']}")


def test_a_notice_carries_no_names_and_no_values(world):
    batch = world.ingest("FRPOL", "F9,Jean Dupont,05/05/1975,+44 7700 900999,FR,\n")
    deconflict_batch(world.store, batch)
    notices = world.notices()
    assert len(notices) == 2
    s = tables.statements
    with world.store.engine.connect() as conn:
        values = {v for row in conn.execute(select(s.c.value, s.c.original)) for v in row if len(v) > 2}
    for notice in notices:
        text = json.dumps(notice, default=str)
        assert not [v for v in values if v in text], notice


def test_a_silent_owner_alone_is_told(world):
    batch = world.ingest("FRPOL", "F8,V. Petrenko,,+44 7700 900555,UA,\n")
    deconflict_batch(world.store, batch)
    assert world.notices("FRPOL") == []
    [seen] = world.notices("MI")
    assert (seen["kind"], seen["counterpart"], seen["trigger"]) == ("seen", "FRPOL", "ingest")


def test_an_owner_whose_policy_is_none_tells_nobody(world):
    batch = world.ingest("FRPOL", "F7,L Okafor,,+44 7700 900777,GB,\n")
    assert deconflict_batch(world.store, batch) == 0
    assert world.notices() == []
    with world.store.engine.begin() as conn:  # the same record meets NCA's subject once NCA opens up
        conn.execute(update(tables.agencies).where(tables.agencies.c.code == "NCA").values(hit_policy="open"))
    assert deconflict_batch(world.store, batch) == 2


def test_name_and_birth_date_meet_across_scripts_without_any_shared_identifier(world):
    batch = world.ingest("FRPOL", "F1,محمد الكريمي,04/03/1985,+33 6 12 34 56 78,FR,\n"
                                  "F2,محمد الكريمي,05/03/1985,+33 6 12 34 56 79,FR,\n")
    deconflict_batch(world.store, batch)
    [hit] = world.notices("FRPOL")
    assert hit["own_entity"] == world.entity("FRPOL", 1)  # the same birth date; F2's differs by a day


def test_matches_inside_one_agency_and_repeated_runs_make_no_notices(world):
    batch = world.ingest("UKPOL", "N3,J. Smith,,07700 900999,GB,\n")
    assert deconflict_batch(world.store, batch) == 0
    other = world.ingest("FRPOL", "F9,Jean Dupont,05/05/1975,+44 7700 900999,FR,\n")
    first = deconflict_batch(world.store, other)
    assert first == 4  # UKPOL holds it twice (N2 and N3): two subjects, each told both ways
    assert deconflict_batch(world.store, other) == 0
    assert pump_once(world.store)["notices"] == 0
    assert len(world.notices()) == 4


def test_resolution_joins_what_no_key_joined_and_the_change_feed_brings_the_notices(world):
    from tessera.resolve.changes import record_changes

    batch = world.ingest("FRPOL", "F5,Ivan Petrenko-Kovalenko,1980,+33 6 00 00 00 01,UA,\n")
    pump_once(world.store)
    assert world.notices() == []
    mine, theirs = world.entity("FRPOL"), world.entity("UKPOL", 2)
    e = tables.entities
    with world.store.engine.begin() as conn:
        conn.execute(update(e).where(e.c.id.in_([mine, theirs])).values(canonical_id="c-77"))
        record_changes(conn, {mine: None, theirs: None}, {mine: "c-77", theirs: "c-77"})
    report = pump_once(world.store)
    assert report["changes"] == 1 and report["notices"] == 2
    [hit] = world.notices("FRPOL")
    assert (hit["trigger"], hit["reference"], hit["batch_id"]) == ("resolution", reference("c-77"), batch)
    assert deconflict_canonical(world.store) == 0  # the full pass finds nothing new


def test_tessera_ingest_tells_at_once_and_a_failing_notice_never_fails_the_ingest(store, tmp_path, monkeypatch):
    world = build_world(store, tmp_path)
    db = store.url if store.dialect == "postgresql" else str(store.engine.url.database)
    runner = CliRunner()
    mapping = mapping_file(tmp_path)
    path = write(tmp_path / "fr.csv", HEADER_LINE + "F9,Jean Dupont,05/05/1975,+44 7700 900999,FR,\n")
    result = runner.invoke(app, ["ingest", str(path), "--agency", "FRPOL", "--mapping", str(mapping), "--db", db])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["notices", "list", "--agency", "FRPOL", "--json", "--db", db])
    assert [n["counterpart"] for n in json.loads(listed.stdout)] == ["UKPOL"]

    def broken(*_args, **_kwargs):
        raise RuntimeError("notice store unavailable")

    monkeypatch.setattr(deconfliction, "deconflict_batch", broken)
    path = write(tmp_path / "fr2.csv", HEADER_LINE + "F10,Jean Dupont,05/05/1975,+44 7700 900123,FR,\n")
    result = runner.invoke(app, ["ingest", str(path), "--agency", "FRPOL", "--mapping", str(mapping), "--db", db])
    assert result.exit_code == 0, result.output
    assert "batch" in result.output
    assert len(world.notices("FRPOL")) == 1  # the second batch landed; its notices come with the next pump
    monkeypatch.undo()
    pump_once(world.store)
    assert len(world.notices("FRPOL")) == 2


def test_searching_a_subject_one_cannot_see_tells_its_owner(world):
    with world.store.engine.begin() as conn:
        token = create_token(conn, "amelie").token
    client = TestClient(create_app(store=world.store))
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/search", params={"q": "07700 900555"}, headers=headers).json()
    assert body["results"] == [] and body["pointers"] == []       # MI is silent: no pointer for FRPOL
    [told] = world.notices("MI")
    assert (told["kind"], told["counterpart"], told["trigger"]) == ("searched", "FRPOL", "search")
    world.ingest("UKPOL", "N5,Ali Rezaei,03/03/1990,07700 900321,GB,1A\n", "OFFICIAL", caveat="UK EYES ONLY")
    body = client.get("/api/v1/search", params={"q": "+44 7700 900321"}, headers=headers).json()
    [pointer] = body["pointers"]
    [told] = world.notices("UKPOL")
    assert told["reference"] == pointer["reference"] and told["counterpart"] == "FRPOL"
    client.get("/api/v1/search", params={"q": "07700 900777"}, headers=headers)
    assert world.notices("NCA") == []                            # policy none: nobody is told
    assert not [n for n in world.notices() if "900555" in json.dumps(n, default=str)]  # no query, no value
