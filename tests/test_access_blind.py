"""Blind matching: an agency submits only keyed hashes; Tessera finds hits and notices without holding raw values."""

from __future__ import annotations

import json

import alerts_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from alerts_helpers import build_world, every_text_in_store, holds_value
from intake_helpers import write
from tessera.access.blind import keyed_hash
from tessera.alerts.tables import blind_submissions, match_keys
from tessera.cli import app

# The agency's own raw file: never handed to Tessera. Row B1 holds Smith's phone in another spelling,
# B2 the Arabic-script Karimi with UKPOL's Karimi's birth date, B3 someone Tessera has never seen,
# B4 MI's subject's phone.
RAW = ("case_ref,full_name,birth,mobile,passport\n"
       "B1,Jon Smyth,,0044 7700 900999,\n"
       "B2,محمد الكريمي,04/03/1985,,\n"
       "B3,Zofia Wiśniewska-Blind,07/07/1977,+44 7700 912345,ZX9988776\n"
       "B4,,,07700-900-555,\n")
UNSEEN = ["Zofia", "Wiśniewska-Blind", "912345", "ZX9988776", "0044 7700 900999", "07700-900-555", "1977"]
KEY = "federation-key-for-tests-0123456789"


@pytest.fixture
def world(store, tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_FEDERATION_KEY", KEY)
    return build_world(store, tmp_path)


def db_arg(store) -> str:
    return store.url if store.dialect == "postgresql" else str(store.engine.url.database)


def hash_raw(tmp_path, key_file=None) -> tuple:
    raw = write(tmp_path / "raw.csv", RAW)
    hashed = tmp_path / "hashed.jsonl"
    args = ["blind", "hash", str(raw), "--out", str(hashed), "--ref", "case_ref", "--phone", "mobile",
            "--document", "passport", "--name", "full_name", "--dob", "birth", "--dob-format", "%d/%m/%Y", "--json"]
    if key_file:
        args += ["--key-file", str(key_file)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return hashed, json.loads(result.stdout)


def test_the_hash_file_holds_keyed_hashes_and_the_agencys_own_references_only(world, tmp_path):
    hashed, report = hash_raw(tmp_path)
    assert report["rows"] == 4
    text = hashed.read_text()
    for raw_value in UNSEEN + ["Smyth", "Karimi", "الكريمي", "04/03/1985", "1985", "900999", "900555"]:
        assert not holds_value(text, raw_value)
    lines = [json.loads(line) for line in text.splitlines()[1:]]
    assert [line["ref"] for line in lines] == ["B1", "B2", "B3", "B4"]
    assert {k["kind"] for k in lines[2]["keys"]} == {"phone", "document", "namedob"}
    assert {"kind": "phone", "hash": keyed_hash(KEY.encode(), "phone", "+447700900999")} in lines[0]["keys"]


def test_a_blind_submission_finds_hits_and_notices_follow_hit_policies(world, tmp_path):
    hashed, _ = hash_raw(tmp_path)
    result = CliRunner().invoke(app, ["blind", "submit", str(hashed), "--agency", "BF", "--json",
                                      "--db", db_arg(world.store)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["subjects"]) == (4, 3)   # Smith, Karimi (UKPOL) and Petrenko (MI)
    hits = world.notices("BF")
    assert sorted((n["kind"], n["counterpart"], n["own_entity"]) for n in hits) == [
        ("hit", "UKPOL", "B1"), ("hit", "UKPOL", "B2")]        # MI is silent: BF hears nothing of B4
    assert {n["trigger"] for n in world.notices()} == {"blind"}
    assert sorted(n["own_entity"] for n in world.notices("UKPOL")) == sorted([world.entity("UKPOL", 1),
                                                                                world.entity("UKPOL", 2)])
    [seen] = world.notices("MI")
    assert (seen["kind"], seen["counterpart"]) == ("seen", "BF")


def test_the_store_holds_no_raw_value_of_a_blind_submission(world, tmp_path):
    hashed, _ = hash_raw(tmp_path)
    CliRunner().invoke(app, ["blind", "submit", str(hashed), "--agency", "BF", "--db", db_arg(world.store)])
    with world.store.engine.connect() as conn:
        assert conn.execute(select(blind_submissions.c.rows)).scalar_one() == 4
        index = [dict(r._mapping) for r in conn.execute(select(match_keys))]
    assert index and all(len(r["key_hash"]) == 64 and int(r["key_hash"], 16) >= 0 for r in index)
    everything = every_text_in_store(world.store)
    for raw_value in UNSEEN:
        assert not holds_value(everything, raw_value)


def test_a_file_hashed_with_another_key_or_holding_raw_values_is_refused(world, tmp_path):
    other = write(tmp_path / "other.key", "somebody else's key")
    hashed, _ = hash_raw(tmp_path, key_file=other)
    runner = CliRunner()
    result = runner.invoke(app, ["blind", "submit", str(hashed), "--agency", "BF", "--db", db_arg(world.store)])
    assert result.exit_code == 3 and "another federation key" in result.output
    good, _ = hash_raw(tmp_path)
    lines = good.read_text().splitlines()
    lines[1] = json.dumps({"ref": "B1", "keys": [{"kind": "phone", "hash": "+447700900999"}]})
    tampered = write(tmp_path / "tampered.jsonl", "\n".join(lines) + "\n")
    result = runner.invoke(app, ["blind", "submit", str(tampered), "--agency", "BF", "--db", db_arg(world.store)])
    assert result.exit_code == 3 and "other than a keyed hash" in result.output
    assert world.notices() == []
    with world.store.engine.connect() as conn:
        assert conn.execute(select(blind_submissions)).first() is None


def test_a_new_federation_key_re_indexes_every_batch(world, tmp_path, monkeypatch):
    runner = CliRunner()
    first = runner.invoke(app, ["blind", "index", "--json", "--db", db_arg(world.store)])
    assert json.loads(first.stdout)["batches"] == sorted(world.batches.values())
    again = runner.invoke(app, ["blind", "index", "--json", "--db", db_arg(world.store)])
    assert json.loads(again.stdout)["batches"] == []
    monkeypatch.setenv("TESSERA_FEDERATION_KEY", "the federation's next key")
    hashed, _ = hash_raw(tmp_path)
    result = runner.invoke(app, ["blind", "submit", str(hashed), "--agency", "BF", "--json",
                                 "--db", db_arg(world.store)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["subjects"] == 3
    assert len({r for (r,) in _keyrings(world.store)}) == 1


def _keyrings(store):
    from tessera.alerts.tables import keyed_batches

    with store.engine.connect() as conn:
        return list(conn.execute(select(keyed_batches.c.keyring)))
