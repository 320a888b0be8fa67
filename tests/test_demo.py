"""The demo a newcomer runs first: a small world generated, ingested, resolved and scored."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tessera.cli import app


def test_demo_ingests_every_holder_and_resolves_people(tmp_path):
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(app, ["demo", "--people", "400", "--seed", "3", "--out", str(tmp_path / "world"),
                                      "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    holders = {b["agency"] for b in summary["batches"]}
    assert len(holders) >= 8
    assert all(b["records"] > 0 for b in summary["batches"])
    assert summary["resolve"]["multi_clusters"] > 0
    assert summary["evaluation"]["Person"]["pairwise_f1"] > 0.7
