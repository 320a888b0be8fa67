"""The CLI as an analyst or a script drives it: ingest, quarantine, export clusters, exit codes."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from tessera.cli import app

from intake_helpers import HEADER_LINE, mapping_file, write

runner = CliRunner()


def test_ingest_then_export_clusters(store_url, tmp_path):
    csv_file = write(tmp_path / "n.csv", HEADER_LINE + "N1,A B,01/01/1990,,,\nN2,=cmd|' /C calc'!A0,01/01/1990,,,\n")
    result = runner.invoke(app, ["ingest", str(csv_file), "--agency", "UKPOL", "--mapping", str(mapping_file(tmp_path)),
                                 "--classification", "SECRET", "--caveat", "UK EYES ONLY", "--grading", "2B",
                                 "--db", store_url, "--json"])
    assert result.exit_code == 0, result.output
    batch = json.loads(result.stdout)[0]
    assert batch["records"] == 2 and batch["entities"] == 2
    out = tmp_path / "clusters.csv"
    result = runner.invoke(app, ["export", "clusters", "--out", str(out), "--db", store_url])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["agency", "file", "row", "schema", "source_id", "canonical_id"]
    assert [(r["agency"], r["file"], r["row"], r["schema"]) for r in rows] == [
        ("UKPOL", "n.csv", "1", "Person"), ("UKPOL", "n.csv", "2", "Person")]
    assert all(r["canonical_id"] == r["source_id"] for r in rows)


def test_export_neutralises_formulas():
    from io import StringIO

    from tessera.export.csvsafe import write_csv

    buf = StringIO()
    write_csv(buf, ["a"], [["=1+1"], ["+44 7700"], ["@SUM(A1)"], ["-2"], ["plain"]])
    assert buf.getvalue().splitlines()[1:] == ["'=1+1", "'+44 7700", "'@SUM(A1)", "'-2", "plain"]


def test_refused_input_exits_3_and_names_the_file(store_url, tmp_path):
    (tmp_path / "x.csv").write_bytes(b"\x00\x00binary")
    result = runner.invoke(app, ["ingest", str(tmp_path / "x.csv"), "--agency", "UKPOL",
                                 "--mapping", str(mapping_file(tmp_path)), "--db", store_url, "--json"])
    assert result.exit_code == 3
    assert "x.csv" in json.loads(result.stdout)["error"]


def test_unknown_classification_is_refused(tmp_path):
    result = runner.invoke(app, ["ingest", "x.csv", "--agency", "UKPOL", "--classification", "CONFIDENTIAL",
                                 "--db", f"sqlite:///{tmp_path / 't.db'}"])
    assert result.exit_code == 3 and "unknown classification" in result.output


def test_quarantine_list_show_retry(store_url, tmp_path):
    csv_file = write(tmp_path / "n.csv", HEADER_LINE + ",No Key,01/01/1990,,,\n")
    runner.invoke(app, ["ingest", str(csv_file), "--agency", "UKPOL", "--mapping", str(mapping_file(tmp_path)),
                        "--db", store_url])
    listed = json.loads(runner.invoke(app, ["quarantine", "list", "--db", store_url, "--json"]).stdout)
    assert [(q["file_name"], q["record_no"], q["field"]) for q in listed] == [("n.csv", 1, "ref")]
    shown = json.loads(runner.invoke(app, ["quarantine", "show", str(listed[0]["id"]), "--db", store_url,
                                           "--json"]).stdout)
    assert shown["raw"]["name"] == "No Key"
    retried = runner.invoke(app, ["quarantine", "retry", str(listed[0]["id"]), "--set", "ref=N77", "--db", store_url,
                                  "--json"])
    assert retried.exit_code == 0, retried.output
    assert json.loads(retried.stdout)["statements"] == 2
    assert runner.invoke(app, ["quarantine", "show", "999", "--db", store_url]).exit_code == 4


def test_tessera_db_environment_names_the_store(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere.db"
    monkeypatch.setenv("TESSERA_DB", f"sqlite:///{target}")
    csv_file = write(tmp_path / "n.csv", HEADER_LINE + "N1,A B,01/01/1990,,,\n")
    result = runner.invoke(app, ["ingest", str(csv_file), "--agency", "UKPOL", "--mapping", str(mapping_file(tmp_path))])
    assert result.exit_code == 0, result.output
    assert target.exists() and str(target) in result.output
