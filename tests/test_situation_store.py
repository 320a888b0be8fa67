"""Releases of the series: stored once, newer releases revise figures, the history of revisions is kept."""

from datetime import date

from tessera.situation.reader import read_series
from tessera.situation.stats import Figures
from tessera.situation.store import coverage, import_series, releases, revisions_of


def _csv(path, rows):
    path.write_text("full_date,migrants_arrived,boats_arrived\n" + "".join(f"{d},{m},{b}\n" for d, m, b in rows))
    return read_series(path)


def test_same_file_twice_is_one_release(store, tmp_path):
    series = _csv(tmp_path / "a.csv", [("2025-01-01", 10, 1), ("2025-01-02", 20, 1)])
    first = import_series(store, series)
    again = import_series(store, read_series(tmp_path / "a.csv"))
    assert not first.already_imported and first.added == 2
    assert again.already_imported and again.release_id == first.release_id
    assert len(releases(store)) == 1
    assert Figures.from_store(store).total(date(2025, 1, 1), date(2025, 1, 2))["people"] == 30


def test_newer_release_revises_figures_and_keeps_history(store, tmp_path):
    old = import_series(store, _csv(tmp_path / "week1.csv", [("2025-01-01", 10, 1), ("2025-01-02", 20, 1)]))
    new = import_series(store, _csv(tmp_path / "week2.csv",
                                    [("2025-01-01", 10, 1), ("2025-01-02", 25, 1), ("2025-01-03", 40, 1)]))
    assert (new.added, new.revised) == (1, 1)
    assert coverage(store) == (date(2025, 1, 1), date(2025, 1, 3))
    assert Figures.from_store(store).total(date(2025, 1, 1), date(2025, 1, 3))["people"] == 75
    history = revisions_of(store, date(2025, 1, 2))
    assert [(h["release_id"], h["migrants"], h["file_name"]) for h in history] == [
        (old.release_id, 20, "week1.csv"), (new.release_id, 25, "week2.csv")]


def test_an_older_release_imported_late_does_not_overwrite_newer_figures(store, tmp_path):
    import_series(store, _csv(tmp_path / "week2.csv", [("2025-01-02", 25, 1), ("2025-01-03", 40, 1)]))
    late = import_series(store, _csv(tmp_path / "week1.csv", [("2025-01-01", 10, 1), ("2025-01-02", 20, 1)]))
    assert (late.added, late.revised) == (1, 0)
    assert Figures.from_store(store).total(date(2025, 1, 1), date(2025, 1, 3))["people"] == 75
