"""The figures the press reported, reproduced from the official Home Office file."""

import os
from datetime import date
from pathlib import Path

import pytest

from tessera.situation.reader import read_series
from tessera.situation.stats import Figures, shift_years, yearly_totals
from tessera.situation.store import import_series

SHARED = Path(os.environ.get("TESSERA_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
DATA = SHARED / "data" / "uk_small_boats"
ODS = DATA / "data_small_boats_time_series.ods"
CSV = DATA / "long_uk_small_boats_daily.csv"
needs_data = pytest.mark.skipif(not ODS.is_file() or not CSV.is_file(),
                                reason=f"official small-boat files not found in {DATA} (set TESSERA_SHARED)")


@pytest.fixture(scope="module")
def ods_figures():
    series = read_series(ODS)
    return Figures([(r["date"], r["migrants"] or 0, r["boats"] or 0) for r in series.daily])


@needs_data
def test_first_quarter_2025_was_the_highest_on_record(ods_figures):
    c = ods_figures.compare(date(2025, 1, 1), date(2025, 3, 31))
    assert c["period"]["people"] == 6642
    assert c["rank_at_the_time"] == 1 and c["record_at_the_time"]
    assert c["of_years_at_the_time"] == 8  # 2018..2025


@needs_data
def test_since_5_july_2024_against_a_year_earlier(ods_figures):
    c = ods_figures.compare(date(2024, 7, 5), date(2025, 3, 30))
    assert c["period"]["people"] == 29884
    assert c["year_earlier"]["people"] == 22997
    assert (c["year_earlier"]["from"], c["year_earlier"]["to"]) == ("2023-07-05", "2024-03-30")
    assert c["change"]["people"]["difference"] == 6887


@needs_data
def test_yearly_totals(ods_figures):
    years = yearly_totals(ods_figures)
    assert {y: years[y] for y in (2018, 2019, 2020, 2021, 2022, 2023, 2024, 2025)} == {
        2018: 299, 2019: 1843, 2020: 8462, 2021: 28526, 2022: 45755, 2023: 29437, 2024: 36816, 2025: 41472}


@needs_data
def test_csv_form_gives_the_same_figures():
    series = read_series(CSV)
    csv_figures = Figures([(r["date"], r["migrants"] or 0, r["boats"] or 0) for r in series.daily])
    assert csv_figures.total(date(2025, 1, 1), date(2025, 3, 31))["people"] == 6642
    assert yearly_totals(csv_figures)[2022] == 45755


@needs_data
def test_official_file_through_the_store(store):
    result = import_series(store, read_series(ODS))
    assert result.days > 3000 and result.weeks > 400
    figures = Figures.from_store(store)
    assert figures.total(date(2025, 1, 1), date(2025, 3, 31))["people"] == 6642
    assert import_series(store, read_series(ODS)).already_imported


def test_series_by_week_month_and_year_add_up():
    days = [(date(2024, 12, 30), 10, 1), (date(2024, 12, 31), 20, 1), (date(2025, 1, 1), 30, 1),
            (date(2025, 1, 5), 40, 1), (date(2025, 1, 6), 50, 2)]
    f = Figures(days)
    assert [(p["period"], p["people"]) for p in f.series("week")] == [("2025-01-05", 100), ("2025-01-06", 50)]
    assert [(p["period"], p["people"]) for p in f.series("month")] == [("2024-12", 30), ("2025-01", 120)]
    assert [(p["period"], p["people"], p["boats"], p["per_boat"]) for p in f.series("year")] == [
        ("2024", 30, 2, 15.0), ("2025", 120, 4, 30.0)]
    with pytest.raises(ValueError):
        f.series("fortnight")


def test_year_to_date_and_leap_days():
    f = Figures([(date(2024, 1, 1), 5, 1), (date(2024, 2, 29), 7, 1), (date(2025, 1, 1), 9, 1),
                 (date(2025, 2, 28), 1, 1)])
    ytd = f.year_to_date(date(2025, 2, 28))
    assert ytd["period"]["people"] == 10 and ytd["year_earlier"]["people"] == 5
    assert shift_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert f.total(date(2026, 1, 1), date(2026, 2, 1))["complete"] is False
