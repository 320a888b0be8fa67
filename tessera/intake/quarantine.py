"""Retry a quarantined row, optionally corrected, as a batch of its own that keeps the row's provenance."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from sqlalchemy import insert, select, update

from tessera.intake.mapping import Problem, parse_mapping
from tessera.intake.pipeline import BatchMarking, BatchResult, RowMarking, agency_region, record_statements
from tessera.intake.readers import Record
from tessera.model.markings import Grading, Marking
from tessera.store import tables
from tessera.store.store import Store


class RetryFailed(ValueError):
    """The row still cannot make its entities; it stays in quarantine."""


def retry_quarantined(store: Store, item: int, fixes: dict[str, str]) -> BatchResult:
    """Ingest quarantined row `item` with `fixes` applied; marks it retried on success."""
    with store.engine.connect() as conn:
        row = conn.execute(select(tables.quarantine).where(tables.quarantine.c.id == item)).mappings().first()
        if row is None:
            raise LookupError(f"no quarantined row {item}")
        batch = conn.execute(select(tables.batches).where(tables.batches.c.id == row["batch_id"])).mappings().one()
    if row["status"] != "open":
        raise RetryFailed(f"row {item} was already retried (batch {row['retried_batch_id']})")
    if row["reason"].startswith("invalid bytes") and row["field"] not in fixes:
        raise RetryFailed(f"field {row['field']!r} held bytes invalid for the file's encoding: give --set {row['field']}=VALUE")
    raw = json.loads(row["raw"])
    raw.update(fixes)
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items() if v is not None}
    record = Record(row["record_no"], data, raw)
    marking = BatchMarking(Marking.make(batch["classification"], batch["caveat"], batch["release_to"]),
                           Grading.parse(batch["grading"]))
    queries = []
    if batch["file_format"] != "ftm":
        from pathlib import Path

        mapping = parse_mapping(batch["mapping"], f"mapping of batch {batch['id']}", batch["agency"])
        queries = mapping.queries_for(Path(batch["file_name"]))
    markings = [RowMarking(marking, q.marking_columns) for q in queries]
    default = RowMarking(marking, {}).default
    try:
        pairs = record_statements(record, batch["file_format"], queries, markings, default, batch["agency"],
                                  agency_region(store, batch["agency"]))
    except Problem as problem:
        raise RetryFailed(f"{problem.field or 'row'}: {problem.reason}") from None
    now = datetime.now(timezone.utc)
    digest = hashlib.sha256(f"retry {item} {json.dumps(fixes, sort_keys=True)}".encode()).hexdigest()
    result = BatchResult(0, batch["file_name"], batch["file_format"], batch["agency"], records=1)
    with store.engine.begin() as conn:
        batch_id = conn.execute(insert(tables.batches).values(
            agency=batch["agency"], file_name=batch["file_name"], file_format=batch["file_format"],
            content_sha256=digest, mapping_sha256=batch["mapping_sha256"], mapping=batch["mapping"],
            received_at=now, records=1, classification=batch["classification"], caveat=batch["caveat"],
            release_to=batch["release_to"], grading=batch["grading"]).returning(tables.batches.c.id)).scalar_one()
        rows, entities = [], {}
        for stmts, (classification, caveat, release, grade) in pairs:
            for entity_id, schema, prop, prop_type, value, original, warning in stmts:
                rows.append((batch_id, entity_id, schema, prop, prop_type, value, original, warning,
                             record.number, batch["agency"], classification, caveat, release, grade))
                entities.setdefault(entity_id, dict(id=entity_id, schema=schema, agency=batch["agency"],
                                                    batch_id=batch_id, record_no=record.number))
        store.copy_statements(conn, rows)
        store.add_entities(conn, list(entities.values()))
        conn.execute(update(tables.batches).where(tables.batches.c.id == batch_id).values(statements=len(rows)))
        conn.execute(update(tables.quarantine).where(tables.quarantine.c.id == item).values(
            status="retried", retried_batch_id=batch_id))
    result.batch_id, result.statements, result.entities = batch_id, len(rows), len(entities)
    return result
