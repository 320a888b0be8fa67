"""Read the Home Office small-boat series (ODS sheets SB_01/SB_02, or its CSV form) into validated rows."""

from __future__ import annotations

import csv
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from xml.etree.ElementTree import iterparse

from tessera.intake.readers import file_sha256

NS_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
NS_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
NS_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
T = f"{{{NS_TABLE}}}"
O = f"{{{NS_OFFICE}}}"
X = f"{{{NS_TEXT}}}"

MAX_COLUMNS = 32       # the series has at most 7 columns; wider repeats are padding
MAX_ERRORS = 50

# Canonical field -> how its header reads once footnote markers are removed.
FIELDS = {
    "date": ("date", "week ending", "full_date", "week_ending", "date_week_ending"),
    "migrants": ("migrants arrived", "migrants_arrived"),
    "boats": ("boats arrived", "boats_arrived"),
    "prevented_migrants": ("migrants prevented", "migrants_prevented"),
    "prevented_events": ("events prevented", "events_prevented"),
    "notes": ("notes", "note"),
}
NUMERIC = ("migrants", "boats", "uncontrolled", "prevented_migrants", "prevented_events")
MISSING = {"", "-", "–", "—", "..", "x", "[x]", "n/a", "na", "[z]", "z"}


class SeriesError(ValueError):
    """The file was refused: every problem found, each naming file, sheet, row and column."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        more = "" if len(problems) < MAX_ERRORS else f"\n(stopped after {MAX_ERRORS} problems)"
        super().__init__("\n".join(problems) + more)


@dataclass
class Series:
    """What one file holds: daily rows, weekly rows (ODS only) and where it came from."""

    file_name: str
    sha256: str
    source_kind: str                       # "ods" or "csv"
    daily: list[dict] = field(default_factory=list)
    weekly: list[dict] = field(default_factory=list)


def _header_key(text: str) -> str | None:
    norm = re.sub(r"\[.*?\]|\(.*?\)", "", text or "").strip().lower()
    norm = re.sub(r"\s+", " ", norm)
    if "uncontrolled" in norm:
        return "uncontrolled"
    for key, names in FIELDS.items():
        if norm in names:
            return key
    return None


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _parse_date(raw) -> date:
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S", "%d %B %Y", "%d %b %Y", "%B %d, %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise ValueError(f"not a date: {text!r}")


def _parse_count(raw) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, (int, float)):
        value = float(raw)
    else:
        text = str(raw).strip()
        if text.lower() in MISSING:
            return None
        try:
            value = float(text.replace(",", ""))
        except ValueError:
            raise ValueError(f"not a number: {text!r}") from None
    if value != int(value):
        raise ValueError(f"not a whole number: {raw!r}")
    if value < 0:
        raise ValueError(f"negative: {raw!r}")
    return int(value)


def _cell_value(cell):
    kind = cell.get(f"{O}value-type")
    if kind == "date":
        return date.fromisoformat(cell.get(f"{O}date-value")[:10])
    if kind in ("float", "percentage", "currency"):
        return float(cell.get(f"{O}value"))
    paragraphs = ["".join(p.itertext()) for p in cell.iter(f"{X}p")]
    return "\n".join(paragraphs).strip() or None


def ods_sheets(path: Path, wanted: set[str]) -> dict[str, list[tuple[int, list]]]:
    """Rows (1-based row number, cell values) of the named sheets, honouring repeated rows and columns."""
    sheets: dict[str, list[tuple[int, list]]] = {}
    with zipfile.ZipFile(path) as archive, archive.open("content.xml") as content:
        name, rows, row_no = None, None, 0
        for event, elem in iterparse(content, events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if tag == f"{T}table":
                    name = elem.get(f"{T}name")
                    rows, row_no = ([] if name in wanted else None), 0
                continue
            if tag == f"{T}table-row":
                repeat = int(elem.get(f"{T}number-rows-repeated", "1"))
                if rows is not None:
                    values: list = []
                    for cell in elem:
                        if cell.tag not in (f"{T}table-cell", f"{T}covered-table-cell"):
                            continue
                        n = int(cell.get(f"{T}number-columns-repeated", "1"))
                        v = _cell_value(cell)
                        values.extend([v] * min(n, MAX_COLUMNS - len(values)))
                        if len(values) >= MAX_COLUMNS:
                            break
                    while values and values[-1] is None:
                        values.pop()
                    if values:  # an empty row repeated a million times is padding
                        for k in range(min(repeat, 10_000)):
                            rows.append((row_no + k + 1, values))
                row_no += repeat
                elem.clear()
            elif tag == f"{T}table":
                if rows is not None:
                    sheets[name] = rows
                name, rows = None, None
                elem.clear()
    return sheets


def _table(file_name: str, sheet: str | None, rows: list[tuple[int, list]], problems: list[str],
           required=("date", "migrants", "boats")) -> list[dict]:
    """Find the header row, then validate each row below it until the table ends."""
    where = f"{file_name}" + (f", sheet {sheet}" if sheet else "")
    header_at, columns = None, {}
    for i, (row_no, values) in enumerate(rows):
        keys = {_header_key(str(v)): c for c, v in enumerate(values) if isinstance(v, str)}
        if all(k in keys for k in required):
            header_at, columns = i, {k: c for k, c in keys.items() if k}
            break
    if header_at is None:
        problems.append(f"{where}: no header row with columns {', '.join(required)}")
        return []
    header_row = rows[header_at][1]
    out, seen = [], {}
    for row_no, values in rows[header_at + 1:]:
        cell = lambda key: values[columns[key]] if key in columns and columns[key] < len(values) else None  # noqa: E731
        def col(key):
            c = columns[key]
            return f"column {_col_letter(c)} ({header_row[c]})" if sheet else f"column {header_row[c]}"
        raw_date = cell("date")
        others = [cell(k) for k in NUMERIC if k in columns]
        if raw_date is None and all(v is None for v in others):
            continue
        if isinstance(raw_date, str) and all(v is None for v in others) and len(raw_date) > 12:
            break  # a footnote or source line under the table
        record = {}
        try:
            record["date"] = _parse_date(raw_date) if raw_date is not None else None
            if record["date"] is None:
                raise ValueError("date is blank")
        except ValueError as exc:
            problems.append(f"{where}, row {row_no}, {col('date')}: {exc}")
            record["date"] = None
        for key in NUMERIC:
            if key not in columns:
                continue
            try:
                record[key] = _parse_count(cell(key))
            except ValueError as exc:
                problems.append(f"{where}, row {row_no}, {col(key)}: {exc}")
        notes = cell("notes")
        record["notes"] = str(notes) if notes not in (None, "") else None
        if record["date"] is not None:
            if record["date"] in seen:
                problems.append(f"{where}, row {row_no}, {col('date')}: duplicate date {record['date']} "
                                f"(first at row {seen[record['date']]})")
            seen[record["date"]] = row_no
            out.append(record)
        if len(problems) >= MAX_ERRORS:
            break
    return out


def read_series(path: str | Path) -> Series:
    """Read and validate an ODS or CSV copy of the series; raise SeriesError listing every problem."""
    path = Path(path)
    problems: list[str] = []
    series = Series(file_name=path.name, sha256=file_sha256(path), source_kind="csv")
    if zipfile.is_zipfile(path):
        series.source_kind = "ods"
        try:
            sheets = ods_sheets(path, {"SB_01", "SB_02"})
        except (KeyError, zipfile.BadZipFile, SyntaxError) as exc:
            raise SeriesError([f"{path.name}: not a readable ODS spreadsheet ({exc})"]) from None
        if "SB_01" not in sheets:
            raise SeriesError([f"{path.name}: no sheet SB_01 (daily arrivals) in the spreadsheet"])
        series.daily = _table(path.name, "SB_01", sheets["SB_01"], problems)
        if "SB_02" in sheets:
            series.weekly = _table(path.name, "SB_02", sheets["SB_02"], problems)
    else:
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                rows = [(i + 1, [v if v != "" else None for v in r]) for i, r in enumerate(csv.reader(f))]
        except UnicodeDecodeError as exc:
            raise SeriesError([f"{path.name}: not a UTF-8 CSV file ({exc})"]) from None
        series.daily = _table(path.name, None, rows, problems)
    if not problems and not series.daily:
        problems.append(f"{path.name}: no daily rows found")
    if problems:
        raise SeriesError(problems[:MAX_ERRORS])
    return series
