"""Reading the small-boat series as published: ODS sheets with headers, repeats and notes, and CSV."""

from datetime import date

import pytest
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P

from tessera.situation.reader import SeriesError, read_series


def _cell(value=None, repeat=None):
    kw = {"numbercolumnsrepeated": repeat} if repeat else {}
    if value is None:
        return TableCell(**kw)
    if isinstance(value, date):
        cell = TableCell(valuetype="date", datevalue=value.isoformat() + "T00:00:00", **kw)
        cell.addElement(P(text=value.strftime("%d/%m/%Y")))
    elif isinstance(value, (int, float)):
        cell = TableCell(valuetype="float", value=value, **kw)
        cell.addElement(P(text=str(value)))
    else:
        cell = TableCell(valuetype="string", **kw)
        cell.addElement(P(text=value))
    return cell


def write_ods(path, sheets: dict[str, list]):
    """Rows are lists of cell values, or ("repeat", n, row) for a row repeated n times."""
    doc = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        table = Table(name=name)
        for row in rows:
            repeat = None
            if isinstance(row, tuple):
                _, repeat, row = row
            tr = TableRow(numberrowsrepeated=repeat) if repeat else TableRow()
            for v in row:
                tr.addElement(_cell(v))
            tr.addElement(_cell(None, repeat=16000))  # padding columns, as spreadsheets write them
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


HEADER = ["Date", "Migrants arrived", "Boats arrived [note 5]", "Boats arrived - involved in uncontrolled landings",
          "Notes"]


def test_ods_with_title_rows_repeats_and_notes(tmp_path):
    path = write_ods(tmp_path / "sb.ods", {
        "Cover_sheet": [["Migrants detected crossing the English Channel in small boats"]],
        "SB_01": [
            ["Migrants detected crossing the English Channel in small boats, daily"],
            ["This worksheet contains one table."],
            HEADER,
            [date(2025, 1, 1), 0, 0, "-"],
            [date(2025, 1, 2), 120, 2, 0, "Revised"],
            ("repeat", 2, []),
            [date(2025, 1, 3), 55, 1, None],
            ["Source: Home Office, small boat operational data"],
            ("repeat", 1_048_000, []),
        ],
        "SB_02": [
            ["Week ending", "Migrants arrived", "Boats arrived", "Boats arrived - involved in uncontrolled landings",
             "Migrants prevented", "Events prevented", "Notes"],
            [date(2025, 1, 5), 175, 3, 0, 40, 2],
        ],
    })
    series = read_series(path)
    assert series.source_kind == "ods"
    assert [(r["date"], r["migrants"], r["boats"], r["uncontrolled"]) for r in series.daily] == [
        (date(2025, 1, 1), 0, 0, None), (date(2025, 1, 2), 120, 2, 0), (date(2025, 1, 3), 55, 1, None)]
    assert series.daily[1]["notes"] == "Revised"
    assert series.weekly == [{"date": date(2025, 1, 5), "migrants": 175, "boats": 3, "uncontrolled": 0,
                              "prevented_migrants": 40, "prevented_events": 2, "notes": None}]


def test_ods_errors_name_file_sheet_row_and_column(tmp_path):
    path = write_ods(tmp_path / "bad.ods", {"SB_01": [
        HEADER,
        [date(2025, 1, 1), -3, 1],
        ["32/01/2025", 10, 1],
        [date(2025, 1, 1), 12.5, 1],
        [date(2025, 1, 4), 10, "many"],
    ]})
    with pytest.raises(SeriesError) as err:
        read_series(path)
    problems = err.value.problems
    assert "bad.ods, sheet SB_01, row 2, column B (Migrants arrived): negative: -3.0" in problems
    assert any(p.startswith("bad.ods, sheet SB_01, row 3, column A (Date): not a date") for p in problems)
    assert any("row 4, column A (Date): duplicate date 2025-01-01 (first at row 2)" in p for p in problems)
    assert any("row 4, column B (Migrants arrived): not a whole number" in p for p in problems)
    assert any("row 5, column C (Boats arrived [note 5]): not a number: 'many'" in p for p in problems)


def test_ods_without_daily_sheet_is_refused(tmp_path):
    path = write_ods(tmp_path / "other.ods", {"Sheet1": [["a", "b"]]})
    with pytest.raises(SeriesError, match="no sheet SB_01"):
        read_series(path)


def test_csv_form_blank_cells_are_unknown(tmp_path):
    path = tmp_path / "long_uk_small_boats_daily.csv"
    path.write_text("full_date,date_label,n_year,migrants_arrived,boats_arrived,migrants_per_boat\n"
                    "2025-01-01,\"January 1, 2025\",2025,,,\n"
                    "2025-01-02,\"January 2, 2025\",2025,120,2,60\n")
    series = read_series(path)
    assert series.source_kind == "csv"
    assert [(r["date"], r["migrants"], r["boats"]) for r in series.daily] == [
        (date(2025, 1, 1), None, None), (date(2025, 1, 2), 120, 2)]


def test_csv_errors_name_row_and_column(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("full_date,migrants_arrived,boats_arrived\n2025-01-01,5,1\n2025-01-02,lots,1\n2025-01-02,1,1\n")
    with pytest.raises(SeriesError) as err:
        read_series(path)
    assert "s.csv, row 3, column migrants_arrived: not a number: 'lots'" in err.value.problems
    assert any("s.csv, row 4, column full_date: duplicate date 2025-01-02 (first at row 3)" in p
               for p in err.value.problems)


def test_csv_without_the_columns_is_refused(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("when,people\n2025-01-01,5\n")
    with pytest.raises(SeriesError, match="no header row"):
        read_series(path)
