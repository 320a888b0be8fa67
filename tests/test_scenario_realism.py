"""The world is as messy as the field: name variants, scripts, estimated dates, shared hostels and phones."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from tessera.cli import app
from tessera.scenario.generate import generate


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("realism") / "w"
    generate(out, 3000, seed=5)
    return out


def people(world):
    return list(csv.DictReader(open(world / "truth/people.csv", encoding="utf-8")))


def bf_rows(world):
    rows = []
    for path in sorted((world / "bf").glob("*.xlsx")):
        it = openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True)
        header = next(it)
        rows += [dict(zip(header, r)) for r in it]
    return rows


def test_cli_generates_a_world_and_reports_json(tmp_path):
    result = CliRunner().invoke(app, ["scenario", "generate", "--people", "300", "--seed", "2",
                                      "--out", str(tmp_path / "w"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["people"] == 300 and summary["files"] >= 8
    assert (tmp_path / "w/manifest.json").exists()


def test_border_force_often_records_first_of_january(world):
    dobs = [r["DOB"] for r in bf_rows(world) if r["DOB"]]
    share = sum(d.startswith("01/01/") for d in dobs) / len(dobs)
    assert 0.2 < share < 0.7


def test_the_same_person_is_spelled_differently_across_holders(world):
    records = defaultdict(set)
    with open(world / "truth/records.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["schema"] == "Person" and r["agency"] == "BF":
                records[r["entity"]].add((r["file"], int(r["row"])))
    rows = {}
    for path in sorted((world / "bf").glob("*.xlsx")):
        it = openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True)
        next(it)
        for i, r in enumerate(it, 1):
            rows[(path.name, i)] = f"{r[3]} {r[2]}"
    fr = list(csv.DictReader((world / "frpol/interpellations.csv").read_text(encoding="utf-8-sig").splitlines(),
                             delimiter=";"))
    assert fr
    assert records
    variants = {v for v in rows.values()}
    assert any(re.search(r"Mohammed|Muhammad|Mohamad|Mohamed|Mohammad", v) for v in variants)
    assert sum(1 for v in variants if "Muhammad" in v) and sum(1 for v in variants if "Mohammed" in v)


def test_scripts_and_diacritics_appear(world):
    mi = (world / "mi/subjects.csv").read_text(encoding="utf-8")
    socmed = (world / "socmed/advert_accounts.jsonl").read_text(encoding="utf-8")
    assert re.search(r"[\u0600-\u06ff]", mi + socmed)
    names = " ".join(f"{r['Given Name(s)']} {r['Family Name']}" for r in bf_rows(world))
    assert re.search(r"Nguyễn|Trần|Phạm|Lê|Hùng|Thị|Văn", names)
    assert re.search(r"\b(Nguyen|Tran|Pham|Le|Hung|Thi|Van)\b", names)


def test_hostels_house_unrelated_people_and_families_share_a_surname(world):
    ps = people(world)
    by_address = defaultdict(set)
    for p in ps:
        if p["address"]:
            by_address[p["address"]].add(p["family"] or p["id"])
    assert max(len(v) for v in by_address.values()) > 5
    fams = defaultdict(set)
    for p in ps:
        if p["family"] and p["culture"] not in ("tigrinya", "pashto_dari"):
            fams[p["family"]].add(p["family_name"])
    assert fams and all(len(v) == 1 for v in fams.values())


def test_networks_overlap_and_reform(world):
    ps = people(world)
    assert any(";" in p["network"] for p in ps if p["role"] != "migrant")
    nets = list(csv.DictReader(open(world / "truth/networks.csv", encoding="utf-8")))
    assert len(nets) >= 3
    common = Counter((p["given_name"], p["family_name"]) for p in ps)
    assert common.most_common(1)[0][1] > 3  # different people with the same common name
