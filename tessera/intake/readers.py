"""Read agency files (CSV, JSON lines, XLSX, FtM entity streams) as numbered records, streaming.

A file that cannot be read at all raises UnreadableFile before anything is written; a record
that cannot be read comes back with a RecordProblem so that it goes to quarantine.
"""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

MAX_FIELD = 1_000_000  # bytes; a longer field sends its row to quarantine
SAMPLE = 1 << 20

csv.field_size_limit(64 * MAX_FIELD)


class UnreadableFile(ValueError):
    """The file cannot be read at all; nothing of it is stored."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason

    def __reduce__(self):
        return UnreadableFile, (self.path, self.reason)


@dataclass
class RecordProblem:
    field: str | None
    reason: str


@dataclass
class Record:
    number: int                  # 1-based, header excluded
    data: dict[str, str]
    raw: dict | str              # what the file held, for quarantine
    problem: RecordProblem | None = None


def file_sha256(path: Path) -> str:
    """Content hash of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def detect_format(path: Path) -> str:
    """csv, jsonl, ftm or xlsx, from the content first and the file name second."""
    with open(path, "rb") as fh:
        head = fh.read(SAMPLE)
    if head.startswith(b"PK\x03\x04"):
        if path.suffix.lower() in (".xlsx", ".xlsm") or b"xl/" in head[:4096]:
            return "xlsx"
        raise UnreadableFile(path, "a ZIP archive that is not an XLSX workbook")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise UnreadableFile(path, "not an XLSX workbook (no ZIP signature)")
    if not head.strip():
        raise UnreadableFile(path, "the file is empty")
    if b"\x00" in head:
        raise UnreadableFile(path, "binary content (NUL bytes), not a text export")
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first == b"{":
        line = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = {}
        if isinstance(obj, dict) and "schema" in obj and isinstance(obj.get("properties"), dict):
            return "ftm"
        return "jsonl"
    return "csv"


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) when the bytes say so, else cp1252, else latin-1.

    A few bad bytes in an otherwise UTF-8 file keep it UTF-8: those rows go to quarantine
    instead of the whole file being misread as cp1252.
    """
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    text = sample.decode("utf-8", errors="surrogateescape")
    bad = sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
    if bad == 0:
        return "utf-8"
    multibyte = sum(1 for ch in text if ord(ch) > 0x7F and not "\udc80" <= ch <= "\udcff")
    if multibyte >= 1 and bad <= max(2, multibyte // 20):
        return "utf-8"
    if any(b in sample for b in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")):
        return "latin-1"
    return "cp1252"


def _text_problem(data: dict[str, str]) -> RecordProblem | None:
    """An over-long field or bytes the encoding could not read; checked at C speed for the common case."""
    try:
        if sum(map(len, data.values())) <= MAX_FIELD // 4:
            "".join(data.values()).encode("utf-8")
            return None
    except UnicodeEncodeError:
        pass
    for key, value in data.items():
        if len(value) > MAX_FIELD // 4 and len(value.encode("utf-8", "surrogateescape")) > MAX_FIELD:
            return RecordProblem(key, f"field longer than {MAX_FIELD:,} bytes")
        if any("\udc80" <= ch <= "\udcff" for ch in value):
            return RecordProblem(key, "invalid bytes for the file's encoding")
    return None


def _clean_raw(data: dict) -> dict:
    """A quarantine-safe copy of a record: undecodable bytes shown as \\xNN, long fields cut."""
    out = {}
    for key, value in data.items():
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            if len(value) > 2000:
                value = value[:2000] + f"… [{len(value):,} characters]"
        out[str(key)] = value
    return out


class CsvReader:
    """Delimited text: encoding and delimiter detected from the first megabyte."""

    format = "csv"

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as fh:
            sample = fh.read(SAMPLE)
        self.encoding = detect_encoding(sample)
        text = sample.decode(self.encoding, errors="surrogateescape")
        first_line = text.split("\n", 1)[0]
        try:
            self.dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
            self.delimiter = self.dialect.delimiter
        except csv.Error:
            self.delimiter = max(",;\t|", key=first_line.count)
        header = next(csv.reader([first_line], delimiter=self.delimiter))
        self.columns = [h.strip() for h in header]
        if not any(self.columns):
            raise UnreadableFile(path, "no header row")
        if len(set(self.columns)) != len(self.columns):
            dup = sorted({c for c in self.columns if self.columns.count(c) > 1})
            raise UnreadableFile(path, f"header repeats column(s) {', '.join(dup)}")
        if len(self.columns) == 1 and len(first_line) > 200:
            raise UnreadableFile(path, "no delimiter found: not a CSV file")

    def records(self, wanted: Callable[[int], bool] | None = None) -> Iterator[Record]:
        """Numbered records; with `wanted`, only those whose number it accepts (parsed, never built)."""
        columns = self.columns
        width = len(columns)
        with open(self.path, encoding=self.encoding, errors="surrogateescape", newline="") as fh:
            reader = csv.reader(fh, delimiter=self.delimiter)
            next(reader, None)
            for number, row in enumerate(reader, 1):
                if not row or (wanted is not None and not wanted(number)):
                    continue
                data = dict(zip(columns, row))
                problem = None
                if len(row) > width:
                    problem = RecordProblem(None, f"{len(row)} fields where the header has {width}")
                    data["_extra"] = self.delimiter.join(row[width:])
                problem = problem or _text_problem(data)
                if problem:
                    yield Record(number, {}, _clean_raw(data), problem)
                    continue
                yield Record(number, data, data)


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class XlsxReader:
    """The first worksheet of an XLSX workbook; row 1 is the header."""

    format = "xlsx"

    def __init__(self, path: Path):
        import openpyxl

        self.path = path
        try:
            self.book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            sheet = self.book.worksheets[0]
            header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), None)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError) as exc:
            raise UnreadableFile(path, f"not a readable XLSX workbook ({exc.__class__.__name__}: {exc})") from None
        if not header or not any(header):
            raise UnreadableFile(path, "the first worksheet has no header row")
        self.sheet = sheet
        self.columns = [str(h).strip() if h is not None else "" for h in header]

    def records(self) -> Iterator[Record]:
        columns = self.columns
        try:
            for number, row in enumerate(self.sheet.iter_rows(min_row=2, values_only=True), 1):
                if row is None or all(v is None for v in row):
                    continue
                data = {c: _cell_text(v) for c, v in zip(columns, row) if c and v is not None}
                problem = _text_problem(data)
                if problem:
                    yield Record(number, {}, _clean_raw(data), problem)
                    continue
                yield Record(number, data, data)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise UnreadableFile(self.path, f"the workbook breaks off after row {number}: {exc}") from None


class JsonLinesReader:
    """One JSON object a line; nested values are kept as JSON text."""

    format = "jsonl"

    def __init__(self, path: Path):
        self.path = path
        keys: dict[str, None] = {}
        for _, obj in zip(range(1000), self._objects()):
            if isinstance(obj, dict):
                keys.update(dict.fromkeys(obj))
        self.columns = list(keys)

    def _objects(self):
        with open(self.path, encoding="utf-8-sig", errors="surrogateescape") as fh:
            for line in fh:
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        yield None

    def records(self, wanted: Callable[[int], bool] | None = None) -> Iterator[Record]:
        """Numbered records; with `wanted`, only those whose number it accepts (never decoded)."""
        with open(self.path, encoding="utf-8-sig", errors="surrogateescape") as fh:
            number = 0
            for line in fh:
                if not line.strip():
                    continue
                number += 1
                if wanted is not None and not wanted(number):
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield Record(number, {}, _clean_raw({"line": line.rstrip("\n")}),
                                 RecordProblem(None, f"invalid JSON at column {exc.colno}: {exc.msg}"))
                    continue
                if not isinstance(obj, dict):
                    yield Record(number, {}, {"line": line.rstrip("\n")}, RecordProblem(None, "not a JSON object"))
                    continue
                data = {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)
                        for k, v in obj.items() if v is not None}
                problem = _text_problem(data)
                if problem:
                    yield Record(number, {}, _clean_raw(data), problem)
                    continue
                yield Record(number, data, obj)


def open_reader(path: Path, file_format: str | None = None):
    """The reader for a file; raises UnreadableFile for what no reader can take."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableFile(path, "no such file")
    file_format = file_format or detect_format(path)
    if file_format == "xlsx":
        return XlsxReader(path)
    if file_format in ("jsonl", "ftm"):
        reader = JsonLinesReader(path)
        reader.format = file_format
        return reader
    return CsvReader(path)
