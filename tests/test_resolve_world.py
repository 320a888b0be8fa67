"""Entity resolution on a small synthetic world, scored against its truth."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tessera.cli import app
from tessera.demo import run_demo
from tessera.resolve.engine import resolve
from tessera.resolve.evaluate import evaluate
from tessera.store import tables

# Measured on this world (600 people, seed 3), payers and payees of suspicious payments included: Person
# pairwise precision 0.994, recall 0.785, F1 0.877, cluster F1 0.941 (seed 11: F1 0.863, cluster F1 0.962;
# 2,000 people seed 4: P 0.994, R 0.941, F1 0.967, cluster F1 0.947, lowest culture recall 0.82). The floors
# below leave a margin for small changes elsewhere (scenario, intake).
PEOPLE, SEED = 600, 3


def test_people_in_a_synthetic_world_resolve_above_the_measured_floor(store, tmp_path):
    run_demo(store, tmp_path / "world", PEOPLE, SEED)
    result = resolve(store)
    assert result.largest_cluster <= 50
    report = evaluate(store, tmp_path / "world")
    person = report["schemas"]["Person"]
    assert person["true_pairs"] > 50
    assert person["pairwise_precision"] >= 0.95
    assert person["pairwise_f1"] >= 0.85
    # a payer and a payee named in one row are told apart through their Payment, and scored
    assert report["coverage"]["payment_parties"] == _ukfiu_people(store) > 10
    assert person["cluster_f1"] >= 0.91
    assert report["schemas"]["Vehicle"]["pairwise_recall"] == 1.0
    assert set(report["person_recall_by_culture"]) >= {"arabic", "kurdish_sorani", "pashto_dari"}
    # resolving again changes nothing: clusters keep their canonical ids
    again = resolve(store)
    assert again.canonical_changed == 0


def test_two_thousand_people_resolve_above_the_measured_floor_in_every_culture(store, tmp_path):
    if "postgresql" in store.url:
        pytest.skip("accuracy does not depend on the database; one run keeps the suite fast")
    run_demo(store, tmp_path / "world", 2000, 4)
    report = evaluate(store, tmp_path / "world")
    person = report["schemas"]["Person"]
    assert person["true_pairs"] > 300
    assert person["pairwise_f1"] >= 0.94 and person["cluster_f1"] >= 0.93
    recalls = [v["recall"] for v in report["person_recall_by_culture"].values() if v["true_pairs"] >= 20]
    assert min(recalls) >= 0.75


def _ukfiu_people(store) -> int:
    s = tables.statements
    with store.engine.connect() as conn:
        return conn.execute(select(func.count(func.distinct(s.c.entity_id)))
                            .where(s.c.agency == "UKFIU", s.c.schema == "Person")).scalar_one()


def test_resolve_and_evaluate_commands_report_json(store, tmp_path):
    run_demo(store, tmp_path / "world", 300, 5)
    runner = CliRunner()
    done = runner.invoke(app, ["resolve", "--db", store.url, "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["persons"] > 0 and summary["clusters"] < summary["entities"]
    scored = runner.invoke(app, ["evaluate", "--truth", str(tmp_path / "world"), "--db", store.url, "--json"])
    assert scored.exit_code == 0, scored.output
    assert 0 < json.loads(scored.stdout)["schemas"]["Person"]["pairwise_f1"] <= 1
    missing = runner.invoke(app, ["evaluate", "--truth", str(tmp_path / "nowhere"), "--db", store.url, "--json"])
    assert missing.exit_code == 4
