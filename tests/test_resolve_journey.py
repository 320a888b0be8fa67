"""Journey: a small-boat crossing runs one way, from a French beach to the United Kingdom. A weak spelling seen
abroad weeks before it landed fits one journey; one seen abroad after it landed is someone else."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from test_resolve_context import canon, ingest
from tessera.resolve.engine import resolve
from tessera.resolve.explain import explain
from tessera.resolve.live import LiveIndex


FELLOWS = ["Rebin Aziz", "Hevar Salih", "Dilan Karimi", "Arben Hoxha", "Shirin Kareem", "Tesfay Yonas",
           "Luwam Haile", "Minh Nguyen", "Gulalai Safi"]


def sighting(agency, eid, name, date, country, dob=None, fellows=0):
    """One person seen at one event (with `fellows` others: an arrival lists a boat's people)."""
    props = {"name": [name], "nationality": ["af"]}
    if dob:
        props["birthDate"] = [dob]
    others = [{"id": f"{eid}-{k}", "schema": "Person", "properties": {"name": [fellow]}}
              for k, fellow in enumerate(FELLOWS[:fellows])]
    event = {"name": ["small boat"], "date": [date], "involved": [eid] + [other["id"] for other in others]}
    if country:
        event["country"] = [country]
    return [{"id": eid, "schema": "Person", "properties": props}, *others,
            {"id": f"{eid}-seen", "schema": "Event", "properties": event}]


def arrival(eid, name, date, dob=None, country="gb"):
    """Border Force's list of a boat's people: the person and nine others."""
    return sighting("BF", eid, name, date, country, dob, fellows=len(FELLOWS))


def intercepted_and_landed(store, tmp_path, intercepted: str, landed: str, countries: bool = True) -> None:
    """Ahmad Soltani intercepted in France, Ahmed Sultani landed in the UK: the spellings alone fall short."""
    ingest(store, tmp_path, "FRPOL", sighting("FRPOL", "f", "Ahmad Soltani", intercepted, "fr" if countries else None,
                                              "1990-01-01"))
    ingest(store, tmp_path, "BF", arrival("b", "Ahmed Sultani", landed, country="gb" if countries else None))


def journey(store) -> dict:
    pair = explain(store, "frpol.f", "bf.b")["pairs"][0]
    return {c["comparison"]: c for c in pair["comparisons"]}["journey"]


def test_intercepted_weeks_before_landing_is_one_crossing(store, tmp_path):
    intercepted_and_landed(store, tmp_path, "2024-05-02", "2024-05-20")
    resolve(store)
    assert canon(store)["frpol.f"] == canon(store)["bf.b"]
    level = journey(store)
    assert level["level"] == "crossed" and level["weight"] > 0


def test_seen_abroad_after_landing_is_someone_else(store, tmp_path):
    intercepted_and_landed(store, tmp_path, "2024-05-20", "2024-05-02")
    resolve(store)
    assert canon(store)["frpol.f"] != canon(store)["bf.b"]
    level = journey(store)
    assert level["level"] == "returned" and level["weight"] < 0


def test_without_countries_the_order_says_nothing(store, tmp_path):
    intercepted_and_landed(store, tmp_path, "2024-05-20", "2024-05-02", countries=False)
    resolve(store)
    assert canon(store)["frpol.f"] == canon(store)["bf.b"]  # seen weeks apart, as before
    assert journey(store)["level"] == "missing"


def test_landed_abroad_and_at_home_are_told_apart(store, tmp_path):
    from tessera.resolve.context import seen_spans_of
    from tessera.resolve.engine import load_model, stored_person_table

    ingest(store, tmp_path, "FRPOL", sighting("FRPOL", "f", "Ahmad Soltani", "2024-05-02", "fr") + [
        {"id": "again", "schema": "Event", "properties": {"date": ["2024-05-09"], "country": ["fr"],
                                                          "involved": ["f"]}}])
    ingest(store, tmp_path, "BF", arrival("b", "Ahmed Sultani", "2024-05-20") + [
        {"id": "stop", "schema": "Event", "properties": {"date": ["2024-09-01"], "country": ["gb"],
                                                         "involved": ["b"]}}])  # one person: no arrival
    ids = ["bf.b", "frpol.f"]
    table = stored_person_table(store, load_model(), ids)
    day = {text: dt.date.fromisoformat(text).toordinal() for text in ("2024-05-09", "2024-05-20", "2024-09-01")}
    assert table.landed.tolist() == [day["2024-05-20"], -1]
    assert table.abroad.tolist() == [-1, day["2024-05-09"]]
    assert table.home_first.tolist() == table.home_last.tolist() == [day["2024-09-01"], -1]
    spans = seen_spans_of(store, ids)  # the warm resolver's lookup of a batch's few records
    assert np.array_equal(spans, np.stack([table.seen_first, table.seen_last, table.landed, table.abroad,
                                           table.home_first, table.home_last]))


@pytest.mark.parametrize("intercepted, together", [("2024-05-02", True), ("2024-05-28", False)])
def test_the_warm_resolver_weighs_the_journey(store, tmp_path, intercepted, together):
    ingest(store, tmp_path, "BF", arrival("b", "Ahmed Sultani", "2024-05-20"))
    resolve(store)
    index = LiveIndex(store)
    ingest(store, tmp_path, "FRPOL", sighting("FRPOL", "f", "Ahmad Soltani", intercepted, "fr", "1990-01-01"))
    index.resolve_new(store)
    assert (canon(store)["frpol.f"] == canon(store)["bf.b"]) is together


@pytest.mark.parametrize("guard", [True, False])
def test_one_person_lands_once(store, tmp_path, guard):
    from tessera.resolve.engine import load_model

    ingest(store, tmp_path, "BF", arrival("a", "Ahmad Soltani", "2024-05-20", "1990-01-01")
           + arrival("b", "Ahmad Soltani", "2024-09-01", "1990-01-01"))
    ingest(store, tmp_path, "UKPOL", [{"id": "u", "schema": "Person", "properties": {
        "name": ["Ahmad Soltani"], "birthDate": ["1990-01-01"], "nationality": ["af"]}}])
    model = load_model()
    model["refuse"]["journey_conflict"] = guard
    result = resolve(store, model=model)
    ids = canon(store)
    if guard:  # two landings months apart are two crossings, so two people; the police record joins one of them
        assert ids["bf.a"] != ids["bf.b"] and ids["ukpol.u"] in (ids["bf.a"], ids["bf.b"])
        assert result.merges_refused >= 1
    else:
        assert ids["bf.a"] == ids["bf.b"] == ids["ukpol.u"]


def stopped_and_landed(store, tmp_path, stopped: str, countries: bool = True) -> None:
    """Ahmad Soltani stopped by a UK police force, Ahmed Sultani landed on 20 May 2024."""
    ingest(store, tmp_path, "UKPOL", sighting("UKPOL", "p", "Ahmad Soltani", stopped, "gb" if countries else None,
                                              "1990-01-01"))
    ingest(store, tmp_path, "BF", arrival("b", "Ahmed Sultani", "2024-05-20"))


def police_journey(store) -> dict:
    pair = explain(store, "ukpol.p", "bf.b")["pairs"][0]
    return {c["comparison"]: c for c in pair["comparisons"]}["journey"]


@pytest.mark.parametrize("countries", [True, False])
def test_seen_at_home_before_landing_is_someone_else(store, tmp_path, countries):
    stopped_and_landed(store, tmp_path, "2024-05-10", countries)  # ten days before: weeks apart
    resolve(store)
    assert (canon(store)["ukpol.p"] == canon(store)["bf.b"]) is not countries
    level = police_journey(store)
    assert level["level"] == ("before" if countries else "missing")


def test_seen_at_home_after_landing_has_settled(store, tmp_path):
    stopped_and_landed(store, tmp_path, "2025-03-01")
    resolve(store)
    level = police_journey(store)
    assert level["level"] == "settled" and level["weight"] > 0
