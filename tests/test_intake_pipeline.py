"""Intake: agency exports become normalised, marked statements with provenance; nothing is dropped."""

from __future__ import annotations

import json

import pytest

from tessera.intake.pipeline import BatchMarking, IngestRefused, ingest_file
from tessera.store import tables

from intake_helpers import count, mapping_file, statements_of, write

HEADER = "ref,name,dob,phone,nationality,grade\n"


def by_prop(rows, record_no):
    return {r["prop"]: r for r in rows if r["record_no"] == record_no}


def test_police_nominals_become_normalised_statements_with_provenance(store, tmp_path):
    csv_file = write(tmp_path / "nominals.csv", HEADER +
                     "N1,Mohammed  Al-Karimi,04/03/1985,07700 900123,Iraq,1A\n"
                     "N2,Nguyễn Văn Hùng,1985,0044 7700 900124,Vietnam,2B\n"
                     "N3,Rebin Aziz,03/1985,+44 (0)7700 900125,IRQ,\n")
    result = ingest_file(store, csv_file, "ukpol", mapping_file(tmp_path),
                         BatchMarking.make("OFFICIAL-SENSITIVE", release_to="FRPOL,GB"))
    assert (result.records, result.quarantined, result.entities) == (3, 0, 3)
    rows = statements_of(store)
    assert len(rows) == result.statements == 12
    first = by_prop(rows, 1)
    assert first["name"]["value"] == "Mohammed Al-Karimi"
    assert first["birthDate"]["value"] == "1985-03-04" and first["birthDate"]["original"] == "04/03/1985"
    assert first["phone"]["value"] == "+447700900123" and first["phone"]["original"] == "07700 900123"
    assert first["nationality"]["value"] == "iq"
    assert first["name"]["grading"] == "1A"
    second, third = by_prop(rows, 2), by_prop(rows, 3)
    assert second["birthDate"]["value"] == "1985"             # year only is kept as a year
    assert second["phone"]["value"] == "+447700900124"
    assert third["birthDate"]["value"] == "1985-03"           # month precision kept
    assert third["phone"]["value"] == "+447700900125"
    assert third["name"]["grading"] is None                     # ungraded row stays ungraded
    for row in rows:
        assert row["agency"] == "UKPOL" and row["batch_id"] == result.batch_id
        assert row["file_name"] == "nominals.csv" and row["received_at"] is not None
        assert row["classification"] == "OFFICIAL-SENSITIVE" and row["release_to"] == "FRPOL,GB"


def test_a_value_that_cannot_be_normalised_is_kept_with_a_warning(store, tmp_path):
    csv_file = write(tmp_path / "n.csv", HEADER + "N9,Ali Rezaei,31/02/1990,call me maybe,Atlantis,\n")
    result = ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path))
    assert result.quarantined == 0 and result.warnings == 3
    row = by_prop(statements_of(store), 1)
    for prop in ("birthDate", "phone", "nationality"):
        assert row[prop]["value"] == row[prop]["original"]
        assert row[prop]["warning"]
    assert row["phone"]["original"] == "call me maybe"


DATE_FORMATS_MAPPING = """
records:
  queries:
    - entities:
        person:
          schema: Person
          keys: [ref]
          key_literal: person
          properties:
            name: {column: name}
            birthDate: {column: born, format: ["%Y%m%d", "%d.%m.%Y"]}
"""


def test_a_list_of_date_formats_in_the_mapping_reads_each_of_them(store, tmp_path):
    csv_file = write(tmp_path / "d.csv", "ref,name,born\nA,Ana Lee,19151111\nB,Ben Ode,04.03.1985\nC,Cy Ng,1985\n")
    result = ingest_file(store, csv_file, "UKPOL", write(tmp_path / "d.yml", DATE_FORMATS_MAPPING))
    assert result.warnings == 0
    born = {r["original"]: r["value"] for r in statements_of(store) if r["prop"] == "birthDate"}
    assert born == {"19151111": "1915-11-11", "04.03.1985": "1985-03-04", "1985": "1985"}


def test_the_agency_default_region_reads_national_numbers(store, tmp_path):
    from sqlalchemy import insert

    with store.engine.begin() as conn:
        conn.execute(insert(tables.agencies).values(code="FRPOL", name="Police aux frontières", country="FR",
                                                    phone_region="FR"))
    csv_file = write(tmp_path / "n.csv", HEADER + "F1,DUPONT Jean,01/01/1980,06 12 34 56 78,France,\n")
    ingest_file(store, csv_file, "FRPOL", mapping_file(tmp_path))
    assert by_prop(statements_of(store), 1)["phone"]["value"] == "+33612345678"


@pytest.mark.parametrize("encoding,delimiter", [("utf-8", ","), ("utf-8-sig", ";"), ("cp1252", ";"),
                                                ("latin-1", "\t")])
def test_encodings_and_delimiters_are_detected(store, tmp_path, encoding, delimiter):
    text = (HEADER + "N1,José Müller–Œuvre,04/03/1985,07700 900123,Spain,\n").replace(",", delimiter)
    if encoding == "latin-1":
        text = text.replace("–Œ", "-O")  # characters latin-1 cannot hold
    csv_file = write(tmp_path / "n.csv", text, encoding)
    ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path))
    name = by_prop(statements_of(store), 1)["name"]["value"]
    assert name == ("José Müller-Ouvre" if encoding == "latin-1" else "José Müller–Œuvre")


def test_json_lines_and_xlsx_go_through_the_same_mapping(store, tmp_path):
    import openpyxl

    jsonl = write(tmp_path / "n.jsonl", json.dumps({"ref": "J1", "name": "Arben Hoxha", "dob": "02/05/1979",
                                                     "phone": "07700900126", "nationality": "Albania", "grade": None}) + "\n")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["ref", "name", "dob", "phone", "nationality", "grade"])
    sheet.append(["X1", "Tesfay Gebremedhin", "11/12/1992", "07700900127", "Eritrea", "2C"])
    book.save(tmp_path / "n.xlsx")
    mapping = mapping_file(tmp_path)
    a = ingest_file(store, jsonl, "NCA", mapping)
    b = ingest_file(store, tmp_path / "n.xlsx", "BF", mapping)
    assert (a.file_format, b.file_format) == ("jsonl", "xlsx")
    rows = statements_of(store)
    values = {(r["agency"], r["prop"]): r["value"] for r in rows}
    assert values[("NCA", "birthDate")] == "1979-05-02" and values[("BF", "nationality")] == "er"
    assert values[("BF", "phone")] == "+447700900127"


def test_an_ftm_entity_stream_needs_no_mapping(store, tmp_path):
    entities = [
        {"id": "p1", "schema": "Person", "properties": {"name": ["Hevar Ahmed"], "birthDate": ["1990-05"]}},
        {"id": "a1", "schema": "BankAccount", "properties": {"iban": ["GB82WEST12345698765432"]}},
        {"id": "o1", "schema": "Ownership", "properties": {"owner": ["p1"], "asset": ["a1"]}},
    ]
    stream = write(tmp_path / "europol.ftm.jsonl", "\n".join(json.dumps(e) for e in entities) + "\n")
    result = ingest_file(store, stream, "EUROPOL", None, BatchMarking.make("OFFICIAL", release_to="GB"))
    assert result.file_format == "ftm" and result.entities == 3
    rows = statements_of(store)
    holder = next(r for r in rows if r["prop"] == "owner")
    person = next(r for r in rows if r["prop"] == "name")
    assert holder["value"] == person["entity_id"] == "europol.p1"


def test_bad_rows_go_to_quarantine_and_the_rest_lands(store, tmp_path):
    huge = "x" * 1_100_000
    csv_file = write(tmp_path / "n.csv", HEADER +
                     "N1,Good Person,01/01/1990,,,\n"
                     ",Keyless Person,01/01/1990,,,\n"
                     f"N3,{huge},01/01/1990,,,\n"
                     "N4,Badly Graded,01/01/1990,,,9Z\n"
                     "N5,Also Good,02/01/1990,,,\n")
    result = ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path))
    assert (result.records, result.quarantined, result.entities) == (5, 3, 2)
    from sqlalchemy import select

    with store.engine.connect() as conn:
        rows = conn.execute(select(tables.quarantine).order_by(tables.quarantine.c.record_no)).mappings().all()
    assert [(r["record_no"], r["field"]) for r in rows] == [(2, "ref"), (3, "name"), (4, "grade")]
    assert all(r["file_name"] == "n.csv" and r["reason"] for r in rows)
    assert json.loads(rows[0]["raw"])["name"] == "Keyless Person"


def test_required_values_missing_or_unreadable_send_the_row_to_quarantine(store, tmp_path):
    mapping = mapping_file(tmp_path, """
arrivals:
  queries:
    - entities:
        person:
          schema: Person
          keys: [ref]
          key_literal: arrival
          properties:
            name: {column: name, required: true}
            birthDate: {column: dob, format: "%d/%m/%Y", required: true}
""")
    csv_file = write(tmp_path / "a.csv", "ref,name,dob\nA1,Ok,01/02/2000\nA2,,01/02/2000\nA3,Bad Date,not a date\n")
    result = ingest_file(store, csv_file, "BF", mapping)
    assert result.quarantined == 2 and result.entities == 1


def test_invalid_bytes_in_a_utf8_file_quarantine_only_their_row(store, tmp_path):
    body = (HEADER + "N1,Zoë Ahmadi,01/01/1990,,,\nN2,Broken \xff\xfe Name,01/01/1990,,,\n"
            "N3,Renée Karimi,01/01/1990,,,\n").encode("utf-8", "surrogateescape")
    body = body.replace("\xff\xfe".encode("utf-8"), b"\xff\xfe")
    (tmp_path / "n.csv").write_bytes(body)
    result = ingest_file(store, tmp_path / "n.csv", "UKPOL", mapping_file(tmp_path))
    assert result.quarantined == 1 and result.entities == 2
    names = {r["value"] for r in statements_of(store, prop="name")}
    assert names == {"Zoë Ahmadi", "Renée Karimi"}


@pytest.mark.parametrize("content,reason", [
    (b"\x00\x01\x02binary\x00" * 100, "binary"),
    (b"", "empty"),
])
def test_unreadable_files_are_refused_before_anything_is_written(store, tmp_path, content, reason):
    (tmp_path / "x.csv").write_bytes(content)
    with pytest.raises(IngestRefused, match=reason):
        ingest_file(store, tmp_path / "x.csv", "UKPOL", mapping_file(tmp_path))
    assert count(store, tables.batches) == 0


def test_a_truncated_workbook_is_refused(store, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["ref", "name"])
    book.save(tmp_path / "full.xlsx")
    data = (tmp_path / "full.xlsx").read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestRefused, match="cut.xlsx"):
        ingest_file(store, tmp_path / "cut.xlsx", "BF", mapping_file(tmp_path))
    assert count(store, tables.batches) == 0


@pytest.mark.parametrize("change,message", [
    ("schema: Person", "unknown schema 'Persn'"),
    ("name: {column: name}", "has no property 'nme'"),
    ("phone: {column: phone}", "column(s) telephone"),
])
def test_a_bad_mapping_is_refused_naming_the_place(store, tmp_path, change, message):
    from intake_helpers import PERSON_MAPPING

    broken = PERSON_MAPPING.replace(change, {"schema: Person": "schema: Persn",
                                             "name: {column: name}": "nme: {column: name}",
                                             "phone: {column: phone}": "phone: {column: telephone}"}[change])
    csv_file = write(tmp_path / "n.csv", HEADER + "N1,A B,01/01/1990,,,\n")
    with pytest.raises(IngestRefused) as err:
        ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path, broken))
    assert message in str(err.value) and "mapping.yml" in str(err.value)
    assert count(store, tables.batches) == 0


def test_reingesting_the_same_file_is_idempotent(store, tmp_path):
    csv_file = write(tmp_path / "n.csv", HEADER + "N1,A B,01/01/1990,,,\n")
    first = ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path))
    again = ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path))
    assert again.already_ingested and again.batch_id == first.batch_id
    assert count(store, tables.statements) == first.statements


def test_formula_like_values_are_stored_as_they_are(store, tmp_path):
    csv_file = write(tmp_path / "n.csv", HEADER + 'N1,"=HYPERLINK(""http://x"")",01/01/1990,,,\n')
    ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path))
    assert statements_of(store, prop="name")[0]["value"] == '=HYPERLINK("http://x")'


def test_quarantined_row_is_retried_after_correction(store, tmp_path):
    from tessera.intake.quarantine import RetryFailed, retry_quarantined

    csv_file = write(tmp_path / "n.csv", HEADER + "N1,Bad Grade,01/01/1990,,,9Z\n")
    ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path))
    with pytest.raises(RetryFailed):
        retry_quarantined(store, 1, {})
    result = retry_quarantined(store, 1, {"grade": "2B"})
    rows = statements_of(store, batch_id=result.batch_id)
    assert rows and all(r["record_no"] == 1 and r["grading"] == "2B" for r in rows)
    with pytest.raises(RetryFailed, match="already retried"):
        retry_quarantined(store, 1, {"grade": "2B"})


def test_tabs_newlines_and_backslashes_survive_bulk_loading(store, tmp_path):
    csv_file = write(tmp_path / "n.csv", HEADER + 'N1,"line one\nline\ttwo \\N back\\slash",01/01/1990,,,\n')
    ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path))
    assert statements_of(store, prop="name")[0]["original"] == "line one\nline\ttwo \\N back\\slash"


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_mapping_in_other_processes_gives_the_same_batch(store, tmp_path, monkeypatch, processes):
    from sqlalchemy import select

    from tessera.intake import pipeline

    rows = [f"N{i},Person {i},0{i % 9 + 1}/01/1990,07700 9{i:05d},Iraq,\n" for i in range(3000)]
    rows[2000] = "N5,Person 5 again,01/01/1991,,Iran,\n"     # an entity seen again, blocks later
    rows[1500:1500] = ["\n"] * 40                               # blank lines: whole blocks with no record
    csv_file = write(tmp_path / "n.csv", HEADER + "".join(rows) + ",Keyless,01/01/1990,,,\n")
    inline = ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path))
    monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(pipeline, "MAP_PROCESSES", processes)
    monkeypatch.setattr(pipeline, "CHUNK", 1000)
    monkeypatch.setattr(pipeline, "BLOCK", 7)
    forked = ingest_file(store, csv_file, "NCA", mapping_file(tmp_path))
    assert (forked.records, forked.statements, forked.entities, forked.quarantined, forked.warnings) == \
        (inline.records, inline.statements, inline.entities, inline.quarantined, inline.warnings) == \
        (3001, 11999, 2999, 1, 0)
    a = [(r["record_no"], r["prop"], r["value"]) for r in statements_of(store, agency="UKPOL")]
    b = [(r["record_no"], r["prop"], r["value"]) for r in statements_of(store, agency="NCA")]
    assert a == b
    e = tables.entities
    with store.engine.connect() as conn:
        first_seen = dict(conn.execute(select(e.c.agency, e.c.record_no).where(
            e.c.id.in_(select(tables.statements.c.entity_id)
                       .where(tables.statements.c.value == "Person 5 again")))).all())
    assert first_seen == {"UKPOL": 6, "NCA": 6}


def test_a_load_that_doubles_the_store_rebuilds_its_indexes_and_finds_the_same(store, tmp_path, monkeypatch):
    from sqlalchemy import func, select

    from tessera.intake import pipeline
    from tessera.store import store as store_module

    from test_intake_atomic import indexes_and_keys

    rows = "".join(f"N{i},Person {i},0{i % 9 + 1}/01/1990,07700 9{i:05d},Iraq,\n" for i in range(500))
    rows += "N7,Person 7 again,01/01/1991,,Iran,\n"                           # an entity seen again, later
    csv_file = write(tmp_path / "n.csv", HEADER + rows)
    kept = ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path))      # indexes kept up row by row
    schema = indexes_and_keys(store)
    monkeypatch.setattr(store_module, "REBUILD_MIN", 1)
    monkeypatch.setattr(pipeline, "BYTES_PER_STATEMENT", 1)                   # 'NCA' now more than doubles the store
    monkeypatch.setattr(pipeline, "CHUNK", 100)                               # the entity comes again in a later chunk
    rebuilt = ingest_file(store, csv_file, "NCA", mapping_file(tmp_path))
    assert rebuilt.statements == kept.statements == 2003
    assert rebuilt.entities == kept.entities == 500
    assert indexes_and_keys(store) == schema
    e, s = tables.entities, tables.statements
    with store.engine.connect() as conn:
        first_seen = dict(conn.execute(select(e.c.agency, func.count()).group_by(e.c.agency)).all())
        seventh = dict(conn.execute(select(e.c.agency, e.c.record_no).where(e.c.id.in_(
            select(s.c.entity_id).where(s.c.value == "Person 7 again")))).all())
        holders = conn.execute(select(s.c.agency).where(s.c.prop_type == "phone", s.c.value == "+447700900042")
                               .order_by(s.c.agency)).scalars().all()
    assert holders == ["NCA", "UKPOL"]
    assert first_seen == {"UKPOL": 500, "NCA": 500}   # NCA's entities have ids of their own
    assert seventh == {"UKPOL": 8, "NCA": 8}           # the first sighting, not the later one
    a = [(r["record_no"], r["prop"], r["value"]) for r in statements_of(store, agency="UKPOL")]
    b = [(r["record_no"], r["prop"], r["value"]) for r in statements_of(store, agency="NCA")]
    assert a == b


def test_a_workbook_that_breaks_off_in_a_second_process_is_refused_whole(store, tmp_path, monkeypatch):
    from tessera.intake import pipeline
    from tessera.intake.readers import UnreadableFile

    def broken_records(self, wanted=None):
        raise UnreadableFile(self.path, "the workbook breaks off after row 3")

    monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 0)
    monkeypatch.setattr("tessera.intake.readers.CsvReader.records", broken_records)
    csv_file = write(tmp_path / "n.csv", HEADER + "N1,A B,01/01/1990,,,\n")
    with pytest.raises(IngestRefused, match="breaks off"):
        ingest_file(store, csv_file, "UKPOL", mapping_file(tmp_path))
    assert count(store, tables.batches) == 0


def test_rows_carry_their_own_classification_and_a_bad_one_is_quarantined(store, tmp_path):
    mapping = mapping_file(tmp_path, """
intel:
  queries:
    - marking:
        classification_column: protective_marking
        caveat_column: caveat
      entities:
        person:
          schema: Person
          keys: [ref]
          key_literal: subject
          properties:
            name: {column: name}
""")
    csv_file = write(tmp_path / "i.csv", "ref,name,protective_marking,caveat\n"
                     "S1,Hidden Subject,secret,UK EYES ONLY\nS2,Open Subject,,\nS3,Odd Subject,CONFIDENTIAL,\n")
    result = ingest_file(store, csv_file, "MI", mapping, BatchMarking.make("OFFICIAL-SENSITIVE"))
    assert result.quarantined == 1
    rows = {r["value"]: (r["classification"], r["caveat"]) for r in statements_of(store, prop="name")}
    assert rows == {"Hidden Subject": ("SECRET", "UK EYES ONLY"), "Open Subject": ("OFFICIAL-SENSITIVE", None)}


def test_distinct_entities_are_counted_once_across_chunks(monkeypatch):
    from tessera.intake.pipeline import DistinctCount

    monkeypatch.setattr(DistinctCount, "MERGE_MIN", 3)   # merge often, so that merged and waiting values meet
    count = DistinctCount()
    chunks = [[5, -2**63, 7], [7, 2**63 - 1], [], [5, 8, 9, 10, 11], [-2**63, 12]]
    for chunk in chunks:
        count.add(chunk)
    assert len(count) == len({v for c in chunks for v in c}) == 9
    count.add([9, 13])
    assert len(count) == 10


def test_distinct_count_spills_to_files_and_counts_the_same(monkeypatch):
    import random

    from tessera.intake.pipeline import DistinctCount

    monkeypatch.setattr(DistinctCount, "MERGE_MIN", 50)
    monkeypatch.setattr(DistinctCount, "SPILL_AT", 200)   # spill many times, so that a value meets itself in a file
    rnd = random.Random(7)
    pool = [rnd.randrange(-2**63, 2**63) for _ in range(3000)] + [-2**63, 2**63 - 1, 0, -1]
    count, seen = DistinctCount(), set()
    for _ in range(60):
        chunk = [rnd.choice(pool) for _ in range(rnd.randrange(0, 300))]
        count.add(chunk)
        seen.update(chunk)
    assert count.files is not None and len(count.kept) <= DistinctCount.SPILL_AT
    assert len(count) == len(seen)
    count.add([pool[0], 12345])   # counting leaves the files whole: adding after it still counts right
    seen.update([pool[0], 12345])
    assert len(count) == len(seen)
    count.close()
