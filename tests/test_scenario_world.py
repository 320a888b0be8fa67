"""The synthetic world: deterministic, its truth matches its files, and every file is what it claims to be."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
import yaml
from followthemoney import model

from tessera.scenario.generate import generate

PEOPLE = 800


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scenario") / "w"
    generate(out, PEOPLE, seed=7)
    return out


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def manifest(root: Path) -> list[dict]:
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))["files"]


def read_records(root: Path, entry: dict) -> list:
    """The records of one export, read the way its holder wrote it."""
    path = root / entry["file"]
    if path.suffix == ".xlsx":
        ws = openpyxl.load_workbook(path, read_only=True).active
        rows = list(ws.iter_rows(values_only=True))
        header = rows[0]
        return [dict(zip(header, r)) for r in rows[1:]]
    if path.name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    raw = path.read_bytes()
    encoding = "cp1252" if entry["holder"] == "UKFIU" else "utf-8-sig"
    delimiter = ";" if entry["holder"] == "FRPOL" else ","
    return list(csv.DictReader(raw.decode(encoding).splitlines(), delimiter=delimiter))


def test_same_seed_gives_identical_bytes_and_another_seed_differs(world, tmp_path):
    generate(tmp_path / "again", PEOPLE, seed=7)
    generate(tmp_path / "other", PEOPLE, seed=8)
    assert digest(world) == digest(tmp_path / "again")
    other = digest(tmp_path / "other")
    assert other["truth/people.csv"] != digest(world)["truth/people.csv"]


def test_world_has_the_people_asked_for_with_networks_and_roles(world):
    people = list(csv.DictReader(open(world / "truth/people.csv", encoding="utf-8")))
    assert len(people) == PEOPLE
    assert len({p["id"] for p in people}) == PEOPLE
    roles = Counter(p["role"] for p in people)
    for role in ("organiser", "recruiter", "money_handler", "logistics", "driver", "pilot", "migrant"):
        assert roles[role] > 0, role
    assert roles["migrant"] > PEOPLE * 0.8
    links = Counter(r["type"] for r in csv.DictReader(open(world / "truth/links.csv", encoding="utf-8")))
    for kind in ("call", "payment", "association", "family", "co-travel", "membership"):
        assert links[kind] > 0, kind


def test_at_least_eight_holders_in_several_formats(world):
    entries = manifest(world)
    holders = {e["holder"] for e in entries}
    assert {"UKPOL", "BF", "NCA", "MI", "UKFIU", "FRPOL", "EUROPOL", "SOCMED"} <= holders
    suffixes = {Path(e["file"]).suffix for e in entries}
    assert {".csv", ".xlsx", ".jsonl"} <= suffixes
    assert any(e["mapping"] is None for e in entries)  # the FtM entity stream
    mi = next(e for e in entries if e["holder"] == "MI")
    assert mi["classification"] == "SECRET" and mi["caveat"] == "UK EYES ONLY"


def test_truth_records_match_every_file_row_for_row(world):
    truth = Counter()
    seen = {}
    with open(world / "truth/records.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            truth[(r["agency"], r["file"])] = max(truth[(r["agency"], r["file"])], int(r["row"]))
            seen.setdefault((r["agency"], r["file"]), set()).add(int(r["row"]))
    for entry in manifest(world):
        key = (entry["holder"], Path(entry["file"]).name)
        records = read_records(world, entry)
        assert len(records) == entry["rows"] > 0, key
        assert truth[key] == len(records), key
        assert seen[key] == set(range(1, len(records) + 1)), key  # every record has its truth


def test_bad_rows_are_a_few_per_holder_and_really_bad(world):
    bad = list(csv.DictReader(open(world / "truth/bad_rows.csv", encoding="utf-8")))
    per_holder = Counter(b["agency"] for b in bad)
    assert set(per_holder) >= {"UKPOL", "BF", "NCA", "UKFIU", "FRPOL", "SOCMED", "EUROPOL"}
    entries = {(e["holder"], Path(e["file"]).name): e for e in manifest(world)}
    for b in bad:
        rec = read_records(world, entries[(b["agency"], b["file"])])[int(b["row"]) - 1]
        values = rec.values() if not isinstance(rec, dict) else rec.values()
        assert "empty" in b["reason"] or "unparsable" in b["reason"]
        if "empty" in b["reason"]:
            assert any(v in ("", None) for v in values)


def test_cp1252_file_is_windows_1252_and_not_utf8(world):
    raw = (world / "ukfiu/sar_transactions.csv").read_bytes()
    text = raw.decode("cp1252")
    assert "£" in text
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_french_file_uses_semicolons_and_surnames_in_capitals(world):
    rows = read_records(world, {"file": "frpol/interpellations.csv", "holder": "FRPOL"})
    assert rows and "NOM" in rows[0]
    names = [r["NOM"] for r in rows if r["NOM"]]
    assert all(n == n.upper() for n in names)
    assert any("/" in r["DATE_FAITS"] for r in rows)


def test_europol_stream_is_valid_followthemoney(world):
    bad_ids = 0
    for line in (world / "europol/entities.ftm.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        if not data["id"]:
            bad_ids += 1
            continue
        proxy = model.get_proxy(data, cleaned=False)
        assert proxy.schema.name in {"Person", "Vehicle", "BankAccount", "Ownership"}
    assert bad_ids >= 1


def test_every_mapping_loads_in_followthemoney(world):
    for entry in manifest(world):
        if entry["mapping"] is None:
            continue
        doc = yaml.safe_load((world / entry["mapping"]).read_text(encoding="utf-8"))
        (dataset, spec), = doc.items()
        for query in spec["queries"]:
            q = {k: v for k, v in query.items() if k not in ("marking", "region")}
            q["csv_url"] = str(world / entry["file"])
            mapping = model.make_mapping(q, key_prefix=dataset)
            assert mapping.entities
            literals = [e.get("key_literal") for e in query["entities"].values()]
            assert len(set(literals)) == len(literals)
