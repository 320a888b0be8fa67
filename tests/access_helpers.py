"""Small builders for access tests: cheap argon2, a batch, statements with markings."""

from __future__ import annotations

import os
from datetime import datetime, timezone

os.environ.setdefault("TESSERA_ARGON2_TIME_COST", "1")
os.environ.setdefault("TESSERA_ARGON2_MEMORY_KIB", "1024")

from sqlalchemy import insert  # noqa: E402

from tessera.store import tables  # noqa: E402


def add_batch(connection, agency: str = "NCA") -> int:
    result = connection.execute(insert(tables.batches).values(
        agency=agency, file_name="f.csv", file_format="csv", content_sha256=os.urandom(8).hex(),
        mapping_sha256="0" * 64, received_at=datetime.now(timezone.utc), classification="OFFICIAL"))
    return result.inserted_primary_key[0]


def add_statement(connection, batch_id: int, agency: str, classification: str = "OFFICIAL",
                  caveat: str | None = None, release_to: str | None = None, value: str = "x",
                  prop: str = "passportNumber", grading: str | None = None) -> int:
    result = connection.execute(insert(tables.statements).values(
        batch_id=batch_id, entity_id=f"{agency}-e1", schema="Person", prop=prop, prop_type="identifier",
        value=value, original=value, record_no=1, agency=agency, classification=classification, caveat=caveat,
        release_to=release_to, grading=grading))
    return result.inserted_primary_key[0]
