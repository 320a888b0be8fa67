"""Weights estimated from the data (`tessera resolve --estimate`): EM that does not call every candidate a match,
a guard that keeps only the refusals the data backs, and the comparisons FEBRL-style clerical errors need."""

from __future__ import annotations

import random

import numpy as np
from test_resolve_context import canon, ingest
from tessera.resolve import compare
from tessera.resolve.engine import load_model, resolve

GIVEN = ["anna", "ben", "carla", "dmitri", "elif", "farid", "greta", "hugo", "ines", "jonas", "kemal", "lena",
         "marek", "nadia", "oskar", "petra", "quentin", "rosa", "stefan", "tamsin", "ulla", "viktor", "wanda"]
FAMILY = ["abbott", "brennan", "castell", "dorsey", "ekberg", "falk", "garrow", "holm", "ivers", "jansen",
          "kowal", "lindqvist", "morrow", "nystrom", "oakes", "pruitt", "quaid", "rasmussen", "sorensen", "tolliver"]
STREETS = ["wynn street", "leahy place", "denovan circuit", "churchill way", "rossarden street", "bath place"]


def typo(rng: random.Random, word: str) -> str:
    k = rng.randrange(len(word))
    return word[:k] + rng.choice("aeioustrn") + word[k + 1:]


def clerk_world(store, tmp_path, people: int = 300, seed: int = 3) -> dict[str, int]:
    """Two registers of the same people, the second copied by a careless clerk: typos in names and addresses,
    a fifth of birth dates replaced outright, some id numbers replaced or mistyped. Returns record -> person."""
    rng = random.Random(seed)
    a, b, truth = [], [], {}
    for n in range(people):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        dob = f"{rng.randrange(1930, 2000)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        number = f"{rng.randrange(10**6, 10**7)}"
        address = f"{rng.randrange(1, 200)} {rng.choice(STREETS)} {rng.randrange(2000, 7000)}"
        a.append({"id": f"p{n}", "schema": "Person", "properties": {
            "name": [f"{given} {family}"], "birthDate": [dob], "idNumber": [number], "address": [address]}})
        copy_dob = dob if rng.random() > 0.2 else f"{rng.randrange(1930, 2000)}-{rng.randrange(1, 13):02d}-15"
        copy_number = number if rng.random() > 0.15 else (typo(rng, number) if rng.random() < 0.5
                                                         else f"{rng.randrange(10**6, 10**7)}")
        copy_name = f"{given if rng.random() > 0.3 else typo(rng, given)} {family}"
        b.append({"id": f"q{n}", "schema": "Person", "properties": {
            "name": [copy_name], "birthDate": [copy_dob], "idNumber": [copy_number],
            "address": [typo(rng, address) if rng.random() < 0.3 else address]}})
        truth[f"rega.p{n}"] = truth[f"regb.q{n}"] = n
    ingest(store, tmp_path, "REGA", a)
    ingest(store, tmp_path, "REGB", b)
    return truth


def pair_recall_precision(store, truth: dict[str, int]) -> tuple[float, float]:
    ids = canon(store)
    found = {(x, y) for x in truth for y in truth if x < y and ids[x] == ids[y]}
    true = {(x, y) for x in truth for y in truth if x < y and truth[x] == truth[y]}
    return len(found & true) / len(true), len(found & true) / max(len(found), 1)


def test_estimated_weights_find_the_clerks_copies_the_fixed_guard_refuses(store, tmp_path):
    truth = clerk_world(store, tmp_path)
    kept: dict = {}
    resolve(store, estimate=True, keep=kept)
    recall, precision = pair_recall_precision(store, truth)
    assert recall >= 0.97 and precision >= 0.97, (recall, precision)
    est = kept["model"]
    pairs = len(kept["pi"])
    assert est["lambda"] * 600 * 599 / 2 < pairs  # the match share is of all pairs, and far from "all match"
    # on this data a replaced birth date is weak evidence: the estimated guard does not refuse by dates
    assert est["refuse"]["dob_year_gap"] is None and est["refuse"]["date_conflict"] is False
    resolve(store)  # the domain's fixed weights and guard: replaced birth dates years apart are refused
    fixed_recall, _ = pair_recall_precision(store, truth)
    assert fixed_recall < recall - 0.05, (fixed_recall, recall)


def test_the_estimated_guard_keeps_refusals_the_data_backs():
    from tessera.resolve.engine import strong_refusals

    model = load_model()
    levels = {c: len(compare.LEVELS[c]) for c in compare.COMPARISONS}
    flat = {c: [1.0 / k] * k for c, k in levels.items()}
    m = {c: list(v) for c, v in flat.items()}
    u = {c: list(v) for c, v in flat.items()}
    m["dob"][-1], u["dob"][-1] = 0.001, 0.9  # dates years apart: log2(0.001/0.9) ~ -9.8, strong
    est = dict(model, m=m, u=u, **{"lambda": 0.001})
    refuse = strong_refusals(est)
    assert refuse["dob_year_gap"] == model["refuse"]["dob_year_gap"] and refuse.get("date_conflict", True)
    assert refuse["document_conflict"] is False  # documents weigh 0 here: nothing backs refusing them


def test_a_date_intake_could_not_normalise_says_nothing():
    assert compare._parse_date("1985-03-07") == (1985, 3, 7)
    assert compare._parse_date("1985") == (1985, -1, -1)
    assert compare._parse_date("19319924") is None  # kept as written by intake; not the year 19,319,924
    assert compare._parse_date("1931-99-24") is None


def test_address_levels():
    assert compare.address_level("18 mckinle y circuit arouni", "18 mckinley circuit aronui") == 1
    assert compare.address_level("14 diggles street holme 2603", "41 diggles street holme 2603") == 2
    assert compare.address_level("1 high street dover", "1 high street folkestone") == 3


def test_one_name_part_agreeing_is_its_own_level(store, tmp_path):
    ingest(store, tmp_path, "REGA", [{"id": "a", "schema": "Person", "properties": {"name": ["kynan sincovich"]}},
                                     {"id": "c", "schema": "Person", "properties": {"name": ["kynan sincovich"]}}])
    ingest(store, tmp_path, "REGB", [{"id": "b", "schema": "Person", "properties": {"name": ["matthew sincovich"]}},
                                     {"id": "d", "schema": "Person", "properties": {"name": ["matthew oakes"]}}])
    from tessera.resolve.spark import person_table

    table = person_table(store, load_model())
    pos = {eid: k for k, eid in enumerate(table.ids)}
    i = np.array([pos["rega.a"], pos["rega.a"]])
    j = np.array([pos["regb.b"], pos["regb.d"]])
    names = [compare.LEVELS["name"][lv] for lv in compare.compare(table, i, j)["name"]]
    assert names[0] == "one_part" and names[1] != "one_part"


def test_explain_and_the_warm_resolver_weigh_with_the_model_of_the_last_run(store, tmp_path):
    from tessera.resolve.engine import run_model
    from tessera.resolve.explain import explain
    from tessera.resolve.live import LiveIndex

    clerk_world(store, tmp_path, people=150)
    assert run_model(store) == load_model()  # no run yet: the shipped weights
    resolve(store, estimate=True)
    est = run_model(store)
    assert "m" in est and est["threshold"] == load_model()["estimate"]["threshold"]
    pair = explain(store, "rega.p0", "regb.q0")["pairs"][0]
    assert pair["threshold"] == est["threshold"]
    dob = next(c for c in pair["comparisons"] if c["comparison"] == "dob")
    level = compare.LEVELS["dob"].index(dob["level"])
    assert dob["weight"] == round(float(compare.weights(est)["dob"][level]), 2)
    assert LiveIndex(store).model == est
    resolve(store)  # a run with the shipped weights is what explain then shows
    assert explain(store, "rega.p0", "regb.q0")["pairs"][0]["threshold"] == load_model()["threshold"]


def test_resolve_saves_the_model_it_scored_with(store, tmp_path):
    import json

    from typer.testing import CliRunner

    from tessera.cli import app

    clerk_world(store, tmp_path, people=150)
    out = tmp_path / "estimated.json"
    done = CliRunner().invoke(app, ["resolve", "--estimate", "--save-model", str(out), "--db", store.url, "--json"])
    assert done.exit_code == 0, done.output
    saved = json.loads(out.read_text())
    assert "m" in saved and "u" in saved and saved["threshold"] == load_model()["estimate"]["threshold"]
