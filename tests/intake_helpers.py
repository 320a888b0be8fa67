"""Small builders for intake tests: mapping files and statement queries."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tessera.store import tables

HEADER_LINE = "ref,name,dob,phone,nationality,grade\n"

PERSON_MAPPING = """
police_nominals:
  queries:
    - marking:
        grading_column: grade
      entities:
        person:
          schema: Person
          keys: [ref]
          key_literal: nominal
          properties:
            name: {column: name}
            birthDate: {column: dob, format: "%d/%m/%Y"}
            phone: {column: phone}
            nationality: {column: nationality}
"""


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def mapping_file(tmp_path: Path, text: str = PERSON_MAPPING) -> Path:
    return write(tmp_path / "mapping.yml", text)


def statements_of(store, **where) -> list[dict]:
    s, b = tables.statements, tables.batches
    query = select(s, b.c.file_name, b.c.received_at).join(b, b.c.id == s.c.batch_id).order_by(s.c.id)
    for key, value in where.items():
        query = query.where(s.c[key] == value)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def count(store, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()
