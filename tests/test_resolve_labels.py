"""Analysts' judgements as labels (the weights corrected by what they say) and the review queue a run leaves."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from intake_helpers import write
from tessera.cli import app as cli
from tessera.intake.pipeline import ingest_file
from tessera.resolve import judgements as jm
from tessera.resolve.engine import load_model, resolve, run_model
from tessera.resolve.labels import fit_corrections
from tessera.resolve.review import review_queue

runner = CliRunner()


def test_the_fit_finds_the_bits_a_level_is_undervalued_by_and_the_prior_it_is_off_by():
    rng = np.random.default_rng(7)
    offset = rng.uniform(-6, 6, 20_000)
    level = rng.integers(0, 2, 20_000).astype(float)
    truth = 1 / (1 + np.exp(-np.log(2) * (offset + 2.0 * level - 0.5)))
    y = (rng.random(20_000) < truth).astype(float)
    bits = fit_corrections(offset, level[:, None], y, np.ones(20_000), penalty=0.01)
    assert bits[0] == pytest.approx(-0.5, abs=0.2)
    assert bits[1] == pytest.approx(2.0, abs=0.2)


def test_the_penalty_keeps_a_few_judgements_from_moving_the_weights_far():
    offset = np.zeros(10)
    level = np.ones((10, 1))
    y = np.ones(10)  # ten matches at a level the weights put exactly on the threshold
    loose = fit_corrections(offset, level, y, np.ones(10), penalty=0.01)
    held = fit_corrections(offset, level, y, np.ones(10), penalty=10.0)
    assert loose[1] > 2.0
    assert 0 < held[1] < 0.5


def person(pid, name, dob, nationality):
    return {"id": pid, "schema": "Person",
            "properties": {"name": [name], "birthDate": [dob], "nationality": [nationality]}}


@pytest.fixture
def namesakes(store, tmp_path):
    """Pairs of records, each pair one name and birth year at two agencies: four pairs of Hevar Ahmed (born
    1990, Iraqi), three of Karwan Salih (born 1987, Iranian)."""
    ents = {"NCA": [], "BF": []}
    for k in range(4):
        ents["NCA"].append(person(f"h{k}", "Hevar Ahmed", f"1990-0{k + 1}-01", "iq"))
        ents["BF"].append(person(f"h{k}b", "Hevar Ahmed", "1990", "iq"))
    for k in range(3):
        ents["NCA"].append(person(f"k{k}", "Karwan Salih", f"1987-0{k + 1}-11", "ir"))
        ents["BF"].append(person(f"k{k}b", "Karwan Salih", "1987", "ir"))
    for agency, rows in ents.items():
        stream = write(tmp_path / f"{agency}.ftm.jsonl", "".join(json.dumps(e) + "\n" for e in rows))
        ingest_file(store, stream, agency, None)
    return store


def judge(store, kind, a, b):
    with store.engine.begin() as conn:
        jm.add_judgement(conn, kind, a, b, "met both at interview", "alice", "NCA")


def ids_of(store, *suffixed):
    """Source ids by the FtM ids given (intake prefixes them with the agency)."""
    from sqlalchemy import select

    from tessera.store import tables

    with store.engine.connect() as conn:
        rows = conn.execute(select(tables.entities.c.id)).scalars().all()
    return [next(r for r in rows if r.endswith("." + s) or r == s) for s in suffixed]


def learning_model(**labels) -> dict:
    model = load_model()
    model["labels"] = {**model["labels"], "min_judgements": 2, "min_each": 1, "decide_at": 0.5, **labels}
    return model


def test_judged_pairs_correct_the_weights_the_run_scores_with_and_saves(namesakes):
    h = ids_of(namesakes, "h0", "h1b", "h1", "h2b", "h3", "h0b")
    for a, b in zip(h[::2], h[1::2]):
        judge(namesakes, "not-same", a, b)
    res = resolve(namesakes, learning_model(band=100.0, min_each=0))
    saved = run_model(namesakes)
    assert res.learned_from == 3
    assert saved["learned"]["judgements"] == 3 and saved["learned"]["matches"] == 0
    # every judged pair was two strangers: the prior is corrected down, and the weights saved are the shipped
    # ones plus the corrections
    shipped = load_model()
    assert saved["learned"]["prior"] < 0
    assert saved["prior"] == pytest.approx(shipped["prior"] + saved["learned"]["prior"], abs=1e-3)
    name = saved["learned"]["corrections"]["name"]["exact"]
    assert name < 0
    assert saved["weights"]["name"]["exact"] == pytest.approx(shipped["weights"]["name"]["exact"] + name, abs=1e-3)
    # a run given the saved model corrects the weights it started from again, not the corrected ones
    resolve(namesakes, saved)
    again = run_model(namesakes)
    assert again["prior"] == pytest.approx(saved["prior"], abs=1e-9)
    assert again["weights"]["name"] == pytest.approx(saved["weights"]["name"])
    # explain weighs with the run's corrected weights, and says so
    shown = runner.invoke(cli, ["explain", h[0], h[1], "--db", namesakes.url])
    assert shown.exit_code == 0, shown.output
    assert "weights corrected by 3 analysts' judgements" in shown.output
    assert f"{saved['weights']['name']['exact']:+.2f}" in shown.output


def test_too_few_judgements_or_pairs_far_from_the_threshold_leave_the_weights_alone(namesakes):
    h = ids_of(namesakes, "h0", "h0b", "h1", "h2b")
    judge(namesakes, "same", h[0], h[1])
    judge(namesakes, "not-same", h[2], h[3])
    assert resolve(namesakes, learning_model(min_judgements=3, band=100.0)).learned_from == 0
    assert "learned" not in run_model(namesakes)
    assert resolve(namesakes, learning_model(band=0.0)).learned_from == 0  # no judged pair is that close
    assert resolve(namesakes, learning_model(band=100.0)).learned_from == 2


def test_a_run_leaves_its_least_certain_pairs_for_review_and_a_run_over_new_records_adds_to_them(namesakes, tmp_path):
    model = load_model()
    model["review"] = {"band": 100.0, "keep": 5}
    res = resolve(namesakes, model)
    with namesakes.engine.connect() as conn:
        queue = review_queue(conn, limit=50)
    assert res.review_pairs == len(queue) == 5
    margins = [abs(item["margin"]) for item in queue]
    assert margins == sorted(margins)
    stream = write(tmp_path / "late.ftm.jsonl", json.dumps(person("late", "Karwan Salih", "1987", "ir")) + "\n")
    ingest_file(namesakes, stream, "UKPOL", None)
    again = resolve(namesakes, model, changed=True)
    with namesakes.engine.connect() as conn:
        after = review_queue(conn, limit=50)
    late = ids_of(namesakes, "late")[0]
    assert again.review_pairs > 0
    assert any(late in (item["a"], item["b"]) for item in after)
    assert len(after) > 5  # the first run's pairs are still there


def test_a_judged_pair_leaves_the_queue(namesakes):
    model = load_model()
    model["review"] = {"band": 100.0, "keep": 100}
    resolve(namesakes, model)
    with namesakes.engine.connect() as conn:
        first = review_queue(conn, limit=1)[0]
    judge(namesakes, "not-same", first["a"], first["b"])
    with namesakes.engine.connect() as conn:
        assert all({x["a"], x["b"]} != {first["a"], first["b"]} for x in review_queue(conn, limit=100))
