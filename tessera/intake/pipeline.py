"""The one intake pipeline (CLI, API and tests): file + mapping + markings -> one atomic batch."""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterator
from queue import Full
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from followthemoney import model
from sqlalchemy import insert, select, update

from tessera.arrays import sorted_unique
from tessera.intake.mapping import Mapping, MappingError, Problem, Query, load_mapping, map_record, prepare
from tessera.intake.normalise import normalise
from tessera.intake.readers import Record, UnreadableFile, file_sha256, open_reader
from tessera.model.markings import Grading, Marking, MarkingError, normalise_classification
from tessera.store import tables
from tessera.store.store import StatementBuffer, StatementRuns, Store

CHUNK = 50_000  # statement rows written at a time
PARALLEL_BYTES = 4 << 20  # files this large are mapped in a second process
MAP_PROCESSES = 2  # text files this large are mapped by this many processes, block by block
BLOCK = 4096  # records in a block
BYTES_PER_STATEMENT = 32  # a low guess of statements in a file from its size (CSV rows give one per ~15 bytes)


class IngestRefused(ValueError):
    """The file or mapping cannot be ingested at all; nothing was written."""


@dataclass
class BatchMarking:
    """Markings for a whole batch, as given on the command line."""

    marking: Marking = field(default_factory=Marking)
    grading: Grading | None = None

    @classmethod
    def make(cls, classification=None, caveat=None, release_to=None, grading=None, handling=None) -> BatchMarking:
        try:
            return cls(Marking.make(classification, caveat, release_to), Grading.parse(grading, handling))
        except MarkingError as exc:
            raise IngestRefused(str(exc)) from None


@dataclass
class BatchResult:
    batch_id: int
    file: str
    file_format: str
    agency: str
    records: int = 0
    statements: int = 0
    entities: int = 0
    quarantined: int = 0
    warnings: int = 0
    already_ingested: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def agency_region(store: Store, agency: str) -> str:
    with store.engine.connect() as conn:
        region = conn.execute(select(tables.agencies.c.phone_region).where(tables.agencies.c.code == agency)).scalar()
    return region or "GB"


class RowMarking:
    """Marking columns of one record, falling back to the batch's markings."""

    def __init__(self, batch: BatchMarking, columns: dict[str, str]):
        self.batch = batch
        self.columns = columns
        m = batch.marking
        self.default = (m.classification, m.caveat, m.release_text, str(batch.grading) if batch.grading else None)

    def of(self, record: dict[str, str]) -> tuple:
        """(classification, caveat, release_to, grading) of a record; Problem names a bad marking column."""
        if not self.columns:
            return self.default
        classification, caveat, release, grading = self.default
        given = {key: (column, (record.get(column) or "").strip()) for key, column in self.columns.items()}
        column = None
        try:
            column, value = given.get("classification_column", (None, ""))
            if value:
                classification = normalise_classification(value)
            column, value = given.get("caveat_column", (None, ""))
            caveat = value or caveat
            column, value = given.get("release_to_column", (None, ""))
            if value:
                release = Marking.make(classification, caveat, value).release_text
            column, value = given.get("grading_column", (None, ""))
            if value:
                handling = self.batch.grading.handling if self.batch.grading else None
                grading = str(Grading.parse(value, handling))
        except MarkingError as exc:
            raise Problem(column, str(exc)) from None
        return classification, caveat, release, grading


def ftm_statements(obj: dict, agency: str):
    """Statements of one FollowTheMoney entity from a stream; ids are namespaced by agency."""
    entity_id, schema_name = obj.get("id"), obj.get("schema")
    if not entity_id:
        raise Problem("id", "entity has no id")
    schema = model.get(schema_name or "")
    if schema is None:
        raise Problem("schema", f"unknown schema {schema_name!r}")
    prefix = agency.lower() + "."
    out = []
    for prop_name, values in (obj.get("properties") or {}).items():
        prop = schema.get(prop_name)
        if prop is None:
            raise Problem(prop_name, f"schema {schema.name} has no property {prop_name!r}")
        for value in values if isinstance(values, list) else [values]:
            if value is None or not str(value).strip():
                continue
            value = str(value)
            if prop.type.name == "entity":
                out.append((prefix + value, value, None, prop))
                continue
            normal, warning = normalise(prop.type.name, value)
            out.append((normal if normal is not None else value, value, warning, prop))
    return prefix + str(entity_id), schema.name, [(prefix + str(entity_id), schema.name, p.name, p.type.name, v, o, w)
                                                  for v, o, w, p in out]


def record_statements(record: Record, file_format: str, queries: list[Query], row_markings: list[RowMarking],
                      default_marking: tuple, agency: str, region: str) -> list[tuple[list[tuple], tuple]]:
    """(statements, marking) pairs of one record; raises Problem when it cannot make its entities."""
    if file_format == "ftm":
        return [(ftm_statements(record.raw, agency)[2], default_marking)]
    return [(map_record(query, record.data, region), marking.of(record.data))
            for query, marking in zip(queries, row_markings)]


@dataclass
class ChunkContext:
    """What mapping records into rows needs besides the records."""

    batch_id: int
    agency: str
    file_name: str
    received: datetime
    file_format: str
    queries: list[Query]
    row_markings: list[RowMarking]
    default_marking: tuple
    region: str
    store: Store | None = None   # its statement_buffer and prepare_entities put rows in the form it writes fastest

    def __post_init__(self):
        self._fixed: dict[tuple, tuple] = {}

    def fixed(self, marking: tuple) -> tuple:
        """A statement's columns besides its record's: batch, agency and marking (one tuple per marking)."""
        fixed = self._fixed.get(marking)
        if fixed is None:
            if len(self._fixed) > 1000:
                self._fixed.clear()
            fixed = self._fixed[marking] = (self.batch_id, self.agency) + tuple(marking)
        return fixed


@dataclass
class Chunk:
    """Rows ready to write for a run of records."""

    records: int = 0
    warnings: int = 0
    buffer: StatementBuffer = field(default_factory=StatementBuffer)   # statements while mapping
    statements: StatementRuns | bytes = b""   # the buffer's payload, once prepared
    entities: list[tuple] | bytes = field(default_factory=list)   # (id, schema, agency, batch_id, record_no)
    quarantine: list[dict] = field(default_factory=list)
    statement_count: int = 0
    entity_count: int = 0

    entity_hashes: list[int] | None = None   # hash() of its entities' ids, for the parent to count them once
    block: int = 0   # mapped by several processes: the file's block of records it holds

    @classmethod
    def start(cls, ctx: ChunkContext, block: int = 0) -> Chunk:
        return cls(buffer=ctx.store.statement_buffer() if ctx.store is not None else StatementBuffer(), block=block)

    def prepared(self, store: Store | None) -> Chunk:
        """The chunk with its counts taken and its rows in the store's preferred form."""
        self.statement_count, self.entity_count = self.buffer.count, len(self.entities)
        self.statements, self.buffer = self.buffer.payload(), None
        self.entity_hashes = [hash(e[0]) for e in self.entities]   # forked: the parent's hash seed
        if store is not None:
            self.entities = store.prepare_entities(self.entities)
        return self


def _map_record_into(chunk: Chunk, record: Record, ctx: ChunkContext, seen_entities: set[str]) -> None:
    """Add one record's statement and entity rows to a chunk, or its quarantine row.

    seen_entities holds the chunk's entities: one seen in an earlier chunk is sent again, and the
    store keeps its first sighting (so that memory does not grow with the file).
    """
    chunk.records += 1
    problem = record.problem
    if problem is None:
        try:
            rows = record_statements(record, ctx.file_format, ctx.queries, ctx.row_markings,
                                     ctx.default_marking, ctx.agency, ctx.region)
        except Problem as exc:
            problem = exc
    if problem is not None:
        chunk.quarantine.append(dict(
            batch_id=ctx.batch_id, agency=ctx.agency, file_name=ctx.file_name, record_no=record.number,
            field=problem.field, reason=problem.reason, created_at=ctx.received,
            raw=json.dumps(record.raw, ensure_ascii=False, default=str)))
        return
    number = record.number
    for stmts, marking in rows:
        chunk.buffer.add(ctx.fixed(marking), number, stmts)
        last = None
        for stmt in stmts:
            entity_id = stmt[0]
            if entity_id is not last:
                last = entity_id
                if entity_id not in seen_entities:
                    seen_entities.add(entity_id)
                    chunk.entities.append((entity_id, stmt[1], ctx.agency, ctx.batch_id, number))
            if stmt[6] is not None:
                chunk.warnings += 1


def mapped_chunks(reader, ctx: ChunkContext) -> Iterator[Chunk]:
    """Statement, entity and quarantine rows of a file, about CHUNK statements at a time."""
    seen_entities: set[str] = set()
    chunk = Chunk.start(ctx)
    for record in reader.records():
        _map_record_into(chunk, record, ctx, seen_entities)
        if chunk.buffer.count >= CHUNK:
            yield chunk.prepared(ctx.store)
            chunk, seen_entities = Chunk.start(ctx), set()
    yield chunk.prepared(ctx.store)


def mapped_blocks(reader, ctx: ChunkContext, worker: int, workers: int) -> Iterator[Chunk]:
    """One chunk for each of this worker's blocks of BLOCK records (blocks worker, worker + workers, …).

    Blocks with no record send nothing; chunks carry their block number, so that the parent can put
    the workers' chunks back in the file's order. A chunk also names its entities, for the parent
    to count them once.
    """
    seen_entities: set[str] = set()
    chunk = None
    mine = (lambda number: (number - 1) // BLOCK % workers == worker)
    records = reader.records() if reader.format == "xlsx" else reader.records(mine)
    for record in records:
        if not mine(record.number):
            continue
        at = (record.number - 1) // BLOCK
        if chunk is not None and chunk.block != at:
            yield chunk.prepared(ctx.store)
            chunk = None
        if chunk is None:
            chunk, seen_entities = Chunk.start(ctx, block=at), set()
        _map_record_into(chunk, record, ctx, seen_entities)
    if chunk is not None:
        yield chunk.prepared(ctx.store)


def in_child_processes(producers: list[Iterator[Chunk]]) -> Iterator[Chunk]:
    """Run chunk producers in forked processes, so mapping uses other cores while this one writes.

    With several producers (mapped_blocks), their chunks are merged by block number. Each queue
    holds two chunks at most, which bounds memory; a child whose parent dies (even by SIGKILL)
    notices and exits.
    """
    ctx = multiprocessing.get_context("fork")
    parent = os.getpid()
    queues, children = [], []
    for chunks in producers:
        queue = ctx.Queue(maxsize=2)

        def produce(queue=queue, chunks=chunks) -> None:
            try:
                for item in chunks:
                    _put(queue, item, parent)
                _put(queue, None, parent)
            except BaseException as exc:  # noqa: BLE001 - handed to the parent, which re-raises it
                _put(queue, exc, parent)

        child = ctx.Process(target=produce, daemon=True)
        child.start()
        queues.append(queue)
        children.append(child)

    def take(queue):
        item = queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    try:
        heads = [take(queue) for queue in queues]
        while True:
            ready = [i for i, head in enumerate(heads) if head is not None]
            if not ready:
                break
            first = min(ready, key=lambda i: heads[i].block)
            yield heads[first]
            heads[first] = take(queues[first])
    finally:
        for child in children:
            child.join(timeout=5)
            if child.is_alive():
                child.kill()


def _refusing_unreadable(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """A file that breaks off mid-way (a truncated workbook) refuses the whole batch, which rolls back."""
    try:
        yield from chunks
    except UnreadableFile as exc:
        raise IngestRefused(str(exc)) from None


class DistinctCount:
    """How many distinct 64-bit integers were added, in memory bounded whatever their number.

    New values wait in a list of arrays that is merged into one sorted, duplicate-free int64 array (8 bytes
    a value, where a set of Python ints takes ~70) whenever it holds as many as that array (or MERGE_MIN).
    Past SPILL_AT values the array is spread over PARTS unnamed temporary files by its values' top bits and
    emptied: a value always lands in the same file, so each file is counted alone at the end, and memory
    stays about SPILL_AT values (plus a file's share of the whole when counting) however many were added.
    """

    MERGE_MIN = 1 << 16
    SPILL_AT = 1 << 18    # 2 MB kept in memory at most (about four times that while merging)
    PARTS = 64            # temporary files past SPILL_AT; each holds the values of one range of the top bits

    def __init__(self):
        self.kept = np.empty(0, dtype=np.int64)
        self.waiting: list[np.ndarray] = []
        self.waiting_size = 0
        self.files: list | None = None

    def add(self, values: list[int]) -> None:
        if not values:
            return
        self.waiting.append(np.array(values, dtype=np.int64))
        self.waiting_size += len(values)
        if self.waiting_size >= max(self.MERGE_MIN, len(self.kept)):
            self._merge()

    def _merge(self) -> None:
        self.kept = sorted_unique(np.concatenate([self.kept, *self.waiting]))
        self.waiting, self.waiting_size = [], 0
        if len(self.kept) > self.SPILL_AT:
            self._spill()

    def _spill(self) -> None:
        if self.files is None:
            self.files = [tempfile.TemporaryFile(prefix="tessera-entities-") for _ in range(self.PARTS)]
        step = 2**64 // self.PARTS
        bounds = np.searchsorted(self.kept, [-2**63 + i * step for i in range(1, self.PARTS)])
        for fh, part in zip(self.files, np.split(self.kept, bounds)):
            if len(part):
                fh.write(part.tobytes())
        self.kept = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        if self.waiting:
            self._merge()
        if self.files is None:
            return len(self.kept)
        if len(self.kept):
            self._spill()
        total = 0
        for fh in self.files:
            fh.seek(0)
            total += len(sorted_unique(np.frombuffer(fh.read(), dtype=np.int64).copy()))
            fh.seek(0, os.SEEK_END)
        return total

    def close(self) -> None:
        for fh in self.files or ():
            fh.close()
        self.files = None
        self.kept = np.empty(0, dtype=np.int64)


def _put(queue, item, parent: int) -> None:
    while True:
        try:
            queue.put(item, timeout=1)
            return
        except Full:
            if os.getppid() != parent:
                os._exit(1)


def ingest_file(store: Store, path: Path | str, agency: str, mapping: Mapping | Path | str | None,
                batch_marking: BatchMarking | None = None,
                progress: Callable[[int], None] | None = None) -> BatchResult:
    """Ingest one file as one atomic batch; bad records go to quarantine, never lost.

    Raises IngestRefused (before writing anything) when the file or mapping cannot be used.
    """
    started = datetime.now(timezone.utc)
    path = Path(path)
    agency = agency.strip().upper()
    batch_marking = batch_marking or BatchMarking()
    try:
        reader = open_reader(path)
    except UnreadableFile as exc:
        raise IngestRefused(str(exc)) from None
    if isinstance(mapping, (str, Path)):
        try:
            mapping = load_mapping(mapping, key_prefix=agency)
        except MappingError as exc:
            raise IngestRefused(str(exc)) from None
    queries: list[Query] = []
    if reader.format == "ftm":
        mapping = None
    elif mapping is None:
        raise IngestRefused(f"{path}: a {reader.format.upper()} file needs --mapping (only FtM entity streams do not)")
    else:
        queries = mapping.queries_for(path)
        if not queries:
            raise IngestRefused(f"{mapping.path}: no query applies to {path.name} (csv_url names other files)")
        for query in queries:
            missing = query.missing_columns(reader.columns)
            if missing:
                raise IngestRefused(f"{query.name} uses column(s) {', '.join(missing)} "
                                    f"that {path} does not have (its columns: {', '.join(reader.columns)})")
    region = agency_region(store, agency)
    content_sha = file_sha256(path)
    mapping_sha = mapping.sha256 if mapping else "ftm"
    result = BatchResult(0, path.name, reader.format, agency)
    m, grading = batch_marking.marking, batch_marking.grading
    row_markings = [RowMarking(batch_marking, q.marking_columns) for q in queries]
    default_marking = RowMarking(batch_marking, {}).default

    with store.engine.begin() as conn:
        existing = conn.execute(select(tables.batches.c.id).where(
            tables.batches.c.agency == agency, tables.batches.c.content_sha256 == content_sha,
            tables.batches.c.mapping_sha256 == mapping_sha)).scalar()
        if existing is not None:
            return _already(store, existing, result)
        batch_id = conn.execute(insert(tables.batches).values(
            agency=agency, file_name=path.name, file_format=reader.format, content_sha256=content_sha,
            mapping_sha256=mapping_sha, mapping=mapping.text if mapping else None, received_at=started,
            classification=m.classification, caveat=m.caveat, release_to=m.release_text,
            grading=str(grading) if grading else None).returning(tables.batches.c.id)).scalar_one()
        result.batch_id = batch_id
        context = ChunkContext(batch_id, agency, path.name, started, reader.format, queries, row_markings,
                               default_marking, region, store)
        size = path.stat().st_size
        workers = MAP_PROCESSES if reader.format != "xlsx" else 1  # reading a workbook twice costs more than it saves
        if size >= PARALLEL_BYTES:
            for query in queries:
                prepare(query)   # before the fork, so that the mapping processes share its tables
        if size < PARALLEL_BYTES:
            chunks = mapped_chunks(reader, context)
        elif workers == 1:
            chunks = in_child_processes([mapped_chunks(reader, context)])
        else:
            chunks = in_child_processes([mapped_blocks(reader, context, w, workers) for w in range(workers)])
        entity_hashes = DistinctCount()   # 64-bit hashes: a count off by one in ~1e-8 loads; bounded memory
        try:
            with store.bulk_load(conn, expected_statements=size // BYTES_PER_STATEMENT) as load:
                for chunk in _refusing_unreadable(chunks):
                    store.copy_statements(conn, chunk.statements)
                    load.add_entities(chunk.entities)
                    if chunk.quarantine:
                        conn.execute(insert(tables.quarantine), chunk.quarantine)
                    result.records += chunk.records
                    result.statements += chunk.statement_count
                    entity_hashes.add(chunk.entity_hashes)   # an entity may be in several chunks
                    result.quarantined += len(chunk.quarantine)
                    result.warnings += chunk.warnings
                    if progress:
                        progress(result.records)
                result.entities = len(entity_hashes)   # counted (and let go) before the indexes are built
                entity_hashes.close()
        finally:
            entity_hashes.close()
        conn.execute(update(tables.batches).where(tables.batches.c.id == batch_id).values(
            records=result.records, statements=result.statements, quarantined=result.quarantined,
            warnings=result.warnings))
    if progress:
        progress(result.records)
    result.seconds = (datetime.now(timezone.utc) - started).total_seconds()
    return result


def _already(store: Store, batch_id: int, result: BatchResult) -> BatchResult:
    with store.engine.connect() as conn:
        row = conn.execute(select(tables.batches).where(tables.batches.c.id == batch_id)).mappings().one()
    result.batch_id = batch_id
    result.records, result.statements = row["records"], row["statements"]
    result.quarantined, result.warnings = row["quarantined"], row["warnings"]
    result.already_ingested = True
    return result
