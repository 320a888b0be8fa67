"""Streaming writers: CSV (any encoding/delimiter), JSON lines, XLSX (raw XML), and the truth tables."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape


class Sink:
    """One export file: counts records and reports each record's true entities to the truth."""

    def __init__(self, holder: str, rel: str, root: Path, truth, bad_at=(), corrupt=None):
        self.holder, self.rel, self.path = holder, rel, root / rel
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.name = self.path.name
        self.truth = truth
        self.rows = 0
        self.bad_at = set(bad_at)
        self.corrupt = corrupt

    def write(self, record, entities) -> None:
        self.rows += 1
        if self.rows in self.bad_at and self.corrupt is not None:
            reason = self.corrupt(record)
            self.truth.bad(self.holder, self.name, self.rows, reason)
        self._write(record)
        rec = self.truth.records_writer
        for schema, entity in entities:
            rec.writerow((self.holder, self.name, self.rows, schema, entity))

    def _write(self, record) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class CsvSink(Sink):
    def __init__(self, *a, header, encoding="utf-8", delimiter=",", **kw):
        super().__init__(*a, **kw)
        self.header = header
        self.encoding = encoding
        self.fh = open(self.path, "w", newline="", encoding=encoding, errors="strict")
        self.w = csv.writer(self.fh, delimiter=delimiter, lineterminator="\r\n" if encoding == "cp1252" else "\n")
        self.w.writerow(header)
        self.cp1252 = encoding == "cp1252"

    def _write(self, record) -> None:
        if self.cp1252:
            record = [to_cp1252(v) if isinstance(v, str) else v for v in record]
        self.w.writerow(record)

    def close(self) -> None:
        self.fh.close()


class JsonlSink(Sink):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.fh = open(self.path, "w", encoding="utf-8", newline="\n")
        self.dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=False, separators=(",", ":")).encode

    def _write(self, record) -> None:
        self.fh.write(self.dumps(record) + "\n")

    def close(self) -> None:
        self.fh.close()


_COLS = [chr(65 + i) for i in range(26)] + [chr(65 + i) + chr(65 + j) for i in range(26) for j in range(26)]
_ILLEGAL = dict.fromkeys(i for i in range(32) if i not in (9, 10, 13))


def _zinfo(name: str) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_DEFLATED
    return zi


class XlsxSink(Sink):
    """A one-sheet workbook written as inline strings, streamed; readable by openpyxl and Excel."""

    def __init__(self, *a, header, sheet="Sheet1", **kw):
        super().__init__(*a, **kw)
        self.zf = zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        for name, text in _xlsx_parts(sheet).items():
            self.zf.writestr(_zinfo(name), text)
        self.raw = self.zf.open(_zinfo("xl/worksheets/sheet1.xml"), "w", force_zip64=True)
        self.fh = io.TextIOWrapper(self.raw, encoding="utf-8", newline="")
        self.fh.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                      '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
        self.line = 0
        self._row(header)

    def _row(self, values) -> None:
        self.line += 1
        n = self.line
        parts = [f'<row r="{n}">']
        for i, v in enumerate(values):
            if v is None or v == "":
                continue
            t = escape(str(v).translate(_ILLEGAL))
            parts.append(f'<c r="{_COLS[i]}{n}" t="inlineStr"><is><t xml:space="preserve">{t}</t></is></c>')
        parts.append("</row>")
        self.fh.write("".join(parts))

    def _write(self, record) -> None:
        self._row(record)

    def close(self) -> None:
        self.fh.write("</sheetData></worksheet>")
        self.fh.flush()
        self.fh.detach()
        self.raw.close()
        self.zf.close()


def _xlsx_parts(sheet: str) -> dict[str, str]:
    ns = "http://schemas.openxmlformats.org"
    return {
        "[Content_Types].xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="{ns}/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '</Types>',
        "_rels/.rels": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{ns}/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{ns}/spreadsheetml/2006/main" '
        f'xmlns:r="{ns}/officeDocument/2006/relationships"><sheets><sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{ns}/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    }


_CP_CACHE: dict[str, str] = {}


def to_cp1252(s: str) -> str:
    """What a Windows-1252 system keeps of a name: accents it knows, others stripped, other scripts lost."""
    try:
        s.encode("cp1252")
        return s
    except UnicodeEncodeError:
        pass
    out = []
    for ch in s:
        r = _CP_CACHE.get(ch)
        if r is None:
            try:
                ch.encode("cp1252")
                r = ch
            except UnicodeEncodeError:
                base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
                base = {"ı": "i", "đ": "d", "Đ": "D"}.get(ch, base)
                try:
                    base.encode("cp1252")
                    r = base
                except UnicodeEncodeError:
                    r = "?"
            _CP_CACHE[ch] = r
        out.append(r)
    return "".join(out)


class Truth:
    """The truth directory: records, people, links, networks, assets and the deliberately bad rows."""

    def __init__(self, root: Path):
        self.dir = root / "truth"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._fh = {}
        self.records_writer = self._open("records.csv", ["agency", "file", "row", "schema", "entity"])
        self.people_w = self._open("people.csv", ["id", "network", "role", "culture", "sex", "given_name", "middle_name",
                                                  "family_name", "father_name", "dob", "dob_estimated", "nationality",
                                                  "family", "address"])
        self.links_w = self._open("links.csv", ["id", "source", "target", "type", "date", "amount"])
        self.nets_w = self._open("networks.csv", ["id", "codename", "parent", "formed", "dissolved", "base_country", "organiser"])
        self.assets_w = self._open("assets.csv", ["id", "kind", "value", "owner", "country", "note"])
        self.bad_w = self._open("bad_rows.csv", ["agency", "file", "row", "reason"])

    def _open(self, name, header):
        fh = open(self.dir / name, "w", newline="", encoding="utf-8")
        self._fh[name] = fh
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        return w

    def person(self, p, given, middle, family, father) -> None:
        self.people_w.writerow((p.id, ";".join(p.nets), p.role, p.culture, "F" if p.name.female else "M", given, middle,
                                family, father, p.dob.isoformat(), int(p.dob_est), p.nat, p.family, p.address))

    def link(self, lid, source, target, kind, date, amount) -> None:
        self.links_w.writerow((lid, source, target, kind, date, amount))

    def network(self, n, organiser) -> None:
        self.nets_w.writerow((n.id, n.codename, n.parent, n.formed.isoformat(), n.dissolved.isoformat(), n.base, organiser))

    def asset(self, aid, kind, value, owner, country, note) -> None:
        self.assets_w.writerow((aid, kind, value, owner, country, note))

    def bad(self, holder, file, row, reason) -> None:
        self.bad_w.writerow((holder, file, row, reason))

    def close(self) -> None:
        for fh in self._fh.values():
            fh.close()
