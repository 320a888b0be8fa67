"""`tessera situation` commands: import, total (people on the last line), compare, series, ytd."""

import json

import typer
from typer.testing import CliRunner

from tessera.situation.cli import register

runner = CliRunner()


def _app():
    app = typer.Typer()
    register(app)

    @app.callback()
    def main():
        pass

    return app


def test_import_total_compare(store_url, tmp_path):
    csv = tmp_path / "s.csv"
    csv.write_text("full_date,migrants_arrived,boats_arrived\n"
                   "2024-01-01,100,2\n2024-01-02,50,1\n2025-01-01,300,5\n2025-01-02,0,0\n")
    app = _app()
    r = runner.invoke(app, ["situation", "import", str(csv), "--db", store_url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["situation", "import", str(csv), "--db", store_url, "--json"])
    assert json.loads(r.output)["already_imported"] is True
    r = runner.invoke(app, ["situation", "total", "--from", "2025-01-01", "--to", "2025-01-02", "--db", store_url])
    assert r.exit_code == 0 and r.output.strip().splitlines()[-1] == "300"
    r = runner.invoke(app, ["situation", "compare", "--from", "2025-01-01", "--to", "2025-01-02",
                            "--db", store_url, "--json"])
    c = json.loads(r.output)
    assert c["year_earlier"]["people"] == 150 and c["record"] and c["period"]["per_boat"] == 60.0
    r = runner.invoke(app, ["situation", "series", "--by", "year", "--db", store_url, "--json"])
    assert [(p["period"], p["people"]) for p in json.loads(r.output)] == [("2024", 150), ("2025", 300)]
    r = runner.invoke(app, ["situation", "ytd", "--db", store_url])
    assert r.output.strip().splitlines()[-1] == "300"


def test_bad_file_is_refused_with_exit_3(store_url, tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("full_date,migrants_arrived,boats_arrived\n2025-01-01,-1,0\n")
    r = runner.invoke(_app(), ["situation", "import", str(csv), "--db", store_url, "--json"])
    assert r.exit_code == 3
    assert json.loads(r.output)["problems"] == ["bad.csv, row 2, column migrants_arrived: negative: '-1'"]


def test_total_on_empty_store_says_what_to_do(store_url):
    r = runner.invoke(_app(), ["situation", "total", "--db", store_url])
    assert r.exit_code == 4
