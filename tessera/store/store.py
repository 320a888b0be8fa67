"""Open a store by URL, migrate it, and bulk-load statements (executemany on SQLite, COPY on PostgreSQL)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import (Connection, Engine, Select, bindparam, create_engine, event, func, insert, select,
                        update)

from tessera.store import tables

_cursor_numbers = itertools.count()  # names of server-side cursors, unique in the process

DEFAULT_PATH = Path("tessera.db")
MIGRATIONS = Path(__file__).parent / "migrations"
BULK_TABLES = ("statements", "entities")   # what a batch fills; a big first load rebuilds their indexes
REBUILD_MIN = 200_000  # statements in a batch before its load may rebuild indexes instead of updating them
INDEX_BUILD_MEMORY = "1GB"  # PostgreSQL's maintenance_work_mem while a bulk load builds its indexes again

STATEMENT_COLUMNS = ("batch_id", "entity_id", "schema", "prop", "prop_type", "value", "original", "warning",
                     "record_no", "agency", "classification", "caveat", "release_to", "grading")


def resolve_url(url: str | None = None) -> str:
    """The store URL: the argument, else $TESSERA_DB, else an SQLite file in the working directory."""
    url = url or os.environ.get("TESSERA_DB")
    if not url:
        return f"sqlite:///{DEFAULT_PATH.resolve()}"
    if "://" not in url:  # a bare path means an SQLite file
        return f"sqlite:///{Path(url).resolve()}"
    return url


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"  # COPY text format's null


def _copy_field(value) -> str:
    if value is None:
        return NULL
    if isinstance(value, int):
        return str(value)
    if "\\" in value or not value.isprintable():  # tabs, newlines, other controls: translate is the slow path
        return value.translate(_COPY_ESCAPES)
    return value


def _copy_line(row: tuple) -> str:
    """One row in PostgreSQL's COPY text format (faster than psycopg's per-row write_row)."""
    return "\t".join(map(_copy_field, row)) + "\n"


def copy_text(rows: Sequence[tuple]) -> bytes:
    """Statement rows (STATEMENT_COLUMNS order) as COPY text; the record's tail of columns is formatted once."""
    esc = _copy_field
    out = []
    last, tail = None, ""
    for row in rows:
        batch_id, entity_id, schema, prop, prop_type, value, original, warning, *rest = row
        if rest != last:
            last, tail = rest, "\t".join(map(esc, rest))
        # schema, prop and prop_type are FollowTheMoney names: letters only, nothing to escape
        out.append(f"{batch_id}\t{esc(entity_id)}\t{schema}\t{prop}\t{prop_type}\t{esc(value)}\t{esc(original)}\t"
                   f"{esc(warning)}\t{tail}\n")
    return "".join(out).encode("utf-8")


FIXED_COLUMNS = ("batch_id", "agency", "classification", "caveat", "release_to", "grading")
RUN_COLUMNS = ("entity_id", "schema", "prop", "prop_type", "value", "original", "warning", "record_no")


class StatementRuns(list):
    """Statement rows as runs sharing their batch and marking, in the order written: [(fixed, shape, rows), …].

    fixed holds FIXED_COLUMNS (batch, agency and the marking), so that neither process repeats (or
    pickles, or binds) those six columns per row. With shape None each row is RUN_COLUMNS; otherwise
    each row is one record, laid out by its Shape, and written as one multi-row INSERT.
    """

    def rows(self) -> Iterator[tuple]:
        """The rows in STATEMENT_COLUMNS order."""
        for (batch_id, *marking), shape, rows in self:
            head, tail = (batch_id,), tuple(marking)
            for row in rows if shape is None else (r for record in rows for r in shape.rows(record)):
                yield head + row + tail


class Shape(tuple):
    """The layout of one record's statements: ((entity slot, schema, prop, prop_type), …).

    Its record rows hold the record's entity ids (slots 1…n), its record number, then value,
    original and warning of each statement: the constant names are written once, in the SQL.
    """

    @property
    def entities(self) -> int:
        return self[-1][0]

    def rows(self, record: tuple) -> Iterator[tuple]:
        n = self.entities
        record_no = record[n]
        for i, (slot, schema, prop, prop_type) in enumerate(self):
            at = n + 1 + 3 * i
            yield (record[slot - 1], schema, prop, prop_type) + record[at:at + 3] + (record_no,)

    def values_sql(self, constants: dict[str, str]) -> str | None:
        """The VALUES list of this record's rows (FIXED_COLUMNS given as SQL constants)."""
        n, rows = self.entities, []
        for i, (slot, schema, prop, prop_type) in enumerate(self):
            at = n + 2 + 3 * i
            names = {"entity_id": f"?{slot}", "schema": _sql_literal(schema), "prop": _sql_literal(prop),
                     "prop_type": _sql_literal(prop_type), "value": f"?{at}", "original": f"?{at + 1}",
                     "warning": f"?{at + 2}", "record_no": f"?{n + 1}"}
            if None in names.values():
                return None
            rows.append("(" + ", ".join(constants.get(c) or names[c] for c in STATEMENT_COLUMNS) + ")")
        return ", ".join(rows)


class StatementBuffer:
    """Gathers a run of records' statements in the form a store writes fastest (see Store.statement_buffer)."""

    MAX_SHAPES = 64         # record layouts written as one INSERT each; other records go row by row
    MAX_SHAPE_ROWS = 100    # statements of one record beyond which it goes row by row

    def __init__(self):
        self.count = 0
        self.runs = StatementRuns()
        self.shapes: dict[Shape, Shape] = {}
        self._key, self._rows = None, None

    def add(self, fixed: tuple, record_no: int, statements: list[tuple]) -> None:
        """One record's statements, each (entity_id, schema, prop, prop_type, value, original, warning)."""
        if not statements:
            return
        ids, layout, record = [], [], []
        last = None
        for entity_id, schema, prop, prop_type, value, original, warning in statements:
            if entity_id is not last:
                last = entity_id
                ids.append(entity_id)
            layout.append((len(ids), schema, prop, prop_type))
            record += (value, original, warning)
        shape = Shape(layout)
        known = self.shapes.get(shape)
        if known is None and len(self.shapes) < self.MAX_SHAPES and len(layout) <= self.MAX_SHAPE_ROWS:
            known = self.shapes[shape] = shape
        if known is not None:
            self._run(fixed, known).append(tuple(ids) + (record_no,) + tuple(record))
        else:
            tail = (record_no,)
            self._run(fixed, None).extend([stmt + tail for stmt in statements])
        self.count += len(statements)

    def _run(self, fixed: tuple, shape: Shape | None) -> list:
        key = self._key
        if key is None or shape is not key[1] or (fixed is not key[0] and fixed != key[0]):
            self._key, self._rows = (fixed, shape), []
            self.runs.append((fixed, shape, self._rows))
        return self._rows

    def payload(self) -> StatementRuns | bytes:
        return self.runs


class CopyBuffer(StatementBuffer):
    """PostgreSQL: statements as COPY text from the start, without rows to format afterwards."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []
        self._fixed, self._head, self._marking = None, "", ""

    def add(self, fixed: tuple, record_no: int, statements: list[tuple]) -> None:
        if fixed is not self._fixed and fixed != self._fixed:
            self._fixed = fixed
            self._head = f"{fixed[0]}\t"
            self._marking = "\t".join(map(_copy_field, fixed[1:])) + "\n"
        head, tail, esc = self._head, f"\t{record_no}\t{self._marking}", _copy_field
        last, key = None, ""
        out = self.lines
        for entity_id, schema, prop, prop_type, value, original, warning in statements:
            if entity_id is not last:
                last, key = entity_id, head + esc(entity_id)
            # the common case tested inline, as _copy_field would: nothing to escape
            text = value if "\\" not in value and value.isprintable() else esc(value)
            if original is not value:
                original = original if "\\" not in original and original.isprintable() else esc(original)
            else:
                original = text
            # schema, prop and prop_type are FollowTheMoney names: letters only, nothing to escape
            out.append(f"{key}\t{schema}\t{prop}\t{prop_type}\t{text}\t{original}\t"
                       f"{NULL if warning is None else esc(warning)}{tail}")
        self.count += len(statements)

    def payload(self) -> bytes:
        return "".join(self.lines).encode("utf-8")


def _sql_literal(value) -> str | None:
    """A constant as SQL text, or None when it is better bound (a string with a NUL)."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(int(value))
    if "\x00" in value:
        return None
    return "'" + value.replace("'", "''") + "'"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def stream_tuples(connection: Connection, query: Select, size: int = 50_000) -> Iterator[tuple]:
    """The rows of `query` as plain tuples, fetched `size` at a time through the driver's own cursor (a
    server-side one on PostgreSQL): for reads of millions of rows, whose Row objects would cost more than the
    database's own work."""
    if connection.dialect.name not in ("sqlite", "postgresql"):
        return (tuple(row) for row in connection.execution_options(yield_per=size).execute(query))
    return itertools.chain.from_iterable(stream_batches(connection, query, size))


def stream_batches(connection: Connection, query: Select, size: int = 50_000) -> Iterator[list[tuple]]:
    """The rows of `query` as lists of up to `size` plain tuples, through the driver's own cursor (SQLite,
    PostgreSQL; see stream_tuples)."""
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    raw = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        cursor = raw.cursor()
        cursor.execute(str(compiled), [compiled.params[k] for k in compiled.positiontup or ()])
    else:
        cursor = raw.cursor(name=f"tessera_stream_{next(_cursor_numbers)}")
        cursor.execute(str(compiled), compiled.params)
    try:
        while rows := cursor.fetchmany(size):
            yield rows
    finally:
        cursor.close()


# The staged canonical ids applied. On SQLite in the table's rowid order, so that each page is written once
# rather than at random in id order (1.76M rows on a copy of the 1M store: 8.6 s -> 3.9 s).
_APPLY_STAGED = {
    "sqlite": "WITH s AS MATERIALIZED (SELECT e.rowid AS rid, st.canonical_id FROM staged_canonical st "
              "JOIN entities e ON e.id = st.id ORDER BY e.rowid) "
              "UPDATE entities SET canonical_id = s.canonical_id FROM s WHERE entities.rowid = s.rid",
    "postgresql": "UPDATE entities SET canonical_id = s.canonical_id FROM staged_canonical s WHERE entities.id = s.id",
}


class Store:
    """A Tessera database: one engine, migrated to the newest schema on open."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None, migrate: bool = True, **engine_options) -> Store:
        """Open (and migrate) a store; engine_options go to create_engine (e.g. pool_size, max_overflow)."""
        url = resolve_url(url)
        engine = create_engine(url, future=True, **engine_options)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def in_memory(self) -> bool:
        """An in-memory SQLite database, which another process, or another thread's connection, does not see."""
        return self.dialect == "sqlite" and not self.engine.url.database

    def migrate(self) -> None:
        """Bring the schema to the newest revision of every migration branch."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")

    def close(self) -> None:
        self.engine.dispose()

    def statements_upper_bound(self, connection: Connection) -> int:
        """At least the number of statements stored (the highest id), read from the primary key at once."""
        return connection.execute(select(func.max(tables.statements.c.id))).scalar() or 0

    @contextmanager
    def bulk_load(self, connection: Connection, expected_statements: int = 0) -> Iterator[BulkLoad]:
        """Settings for one large batch, inside the caller's transaction; yields a BulkLoad for its entities.

        When the batch is expected to hold at least REBUILD_MIN statements and at least as many as the
        store already has, the indexes of the statements and entities tables (on PostgreSQL also their
        primary and foreign keys, whose per-row upkeep costs more than the rows themselves) are dropped
        and made again, exactly as the catalogue defined them, once at the end: a sort instead of
        millions of random inserts.
        Being DDL in the same transaction, a batch that fails or is killed leaves them as they were.
        On PostgreSQL the drop locks the tables against readers and writers until the batch commits, which
        is why only a load that at least doubles the store does it.
        On SQLite the page cache grows to 256 MB so that indexes stay in memory past 1M rows.
        """
        rebuild: list[tuple[str, str]] = []
        if expected_statements >= REBUILD_MIN and expected_statements >= self.statements_upper_bound(connection):
            rebuild = self._statement_ddl(connection)
        for drop, _create in rebuild:
            connection.exec_driver_sql(drop)
        raw = connection.connection.driver_connection
        if self.dialect == "sqlite":
            raw.execute("PRAGMA cache_size=-262144")
        try:
            load = BulkLoad(self, connection, locked=bool(rebuild))
            yield load
            load.finish()
            if rebuild and self.dialect == "postgresql":
                connection.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
            for _drop, create in reversed(rebuild):
                connection.exec_driver_sql(create)
        finally:
            if self.dialect == "sqlite":
                raw.execute("PRAGMA cache_size=-65536")

    def set_canonical_ids(self, connection: Connection, rows: Sequence[tuple[str, str]], stage_from: int = 10_000,
                          rebuild_from: int = REBUILD_MIN) -> None:
        """Set entities.canonical_id for (entity id, canonical id) rows inside the caller's transaction (see
        stage_canonical_ids)."""
        self.stage_canonical_ids(connection, rows, stage_from, rebuild_from)()

    def stage_canonical_ids(self, connection: Connection, rows: Sequence[tuple[str, str]],
                            stage_from: int = 10_000, rebuild_from: int = REBUILD_MIN) -> Callable[[], None]:
        """Begin setting entities.canonical_id for (entity id, canonical id) rows inside the caller's transaction;
        return what finishes it: a few long statements, which the caller may run in a thread while it does other
        work (none of it on this connection).

        A batch's few are set at once (what is returned does nothing). Many are staged in a temporary table
        (copied in, on PostgreSQL) and applied by one UPDATE ... FROM. On SQLite, when they are at least
        `rebuild_from` and a third of the entities (a first run sets every one), the canonical id index is made
        again afterwards rather than updated row by row: about half the time. Readers keep their snapshot
        meanwhile (WAL), as the DDL is part of the transaction."""
        if not rows:
            return lambda: None
        if len(rows) < stage_from or self.dialect not in ("sqlite", "postgresql"):  # a batch's few: no staging
            e = tables.entities
            connection.execute(update(e).where(e.c.id == bindparam("eid")).values(canonical_id=bindparam("cid")),
                               [{"eid": eid, "cid": cid} for eid, cid in rows])
            return lambda: None
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.execute("CREATE TEMP TABLE staged_canonical (id text, canonical_id text)")
            if self.dialect == "postgresql":
                with cursor.copy("COPY staged_canonical FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cursor.execute("ANALYZE staged_canonical")
            else:
                cursor.executemany("INSERT INTO staged_canonical VALUES (?, ?)", rows)
            rebuild = []
            if self.dialect == "sqlite" and len(rows) >= rebuild_from:
                entities = cursor.execute("SELECT max(rowid) FROM entities").fetchone()[0] or 0
                if 3 * len(rows) >= entities:
                    rebuild = cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                             "AND tbl_name = 'entities' AND sql LIKE '%canonical_id%'").fetchall()
        except BaseException:
            cursor.close()
            raise

        def finish() -> None:
            try:
                for name, _sql in rebuild:
                    cursor.execute(f'DROP INDEX "{name}"')
                cursor.execute(_APPLY_STAGED[self.dialect])
                for _name, sql in rebuild:
                    cursor.execute(sql)
                cursor.execute("DROP TABLE staged_canonical")
            finally:
                cursor.close()
        return finish

    def _statement_ddl(self, connection: Connection) -> list[tuple[str, str]]:
        """(drop, create) statements for the indexes and keys of the tables a batch fills (statements and
        entities): foreign keys first, then a primary key no other table refers to, then the other indexes."""
        ddl = []
        for table in BULK_TABLES:
            if self.dialect == "sqlite":
                rows = connection.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                    "AND sql IS NOT NULL", (table,)).all()
                ddl += [(f'DROP INDEX "{name}"', sql) for name, sql in rows]
            elif self.dialect == "postgresql":
                keys = connection.exec_driver_sql(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype = 'f'", (table,)).all()
                primary = connection.exec_driver_sql(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint c "
                    "WHERE conrelid = %s::regclass AND contype = 'p' "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint r WHERE r.confrelid = c.conrelid)", (table,)).all()
                indexes = connection.exec_driver_sql(
                    "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                    "WHERE x.indrelid = %s::regclass "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)", (table,)).all()
                ddl += ([(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"',
                          f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                         for name, definition in keys + primary]
                        + [(f'DROP INDEX "{name}"', definition) for name, definition in indexes])
        return ddl

    def statement_buffer(self) -> StatementBuffer:
        """A buffer that gathers statements in the form `copy_statements` writes fastest: COPY text on
        PostgreSQL, runs of rows sharing their batch and marking elsewhere. Its payload is cheap to send
        between processes, so a mapping process can do this part of the work."""
        return CopyBuffer() if self.dialect == "postgresql" else StatementBuffer()

    def prepare_statements(self, rows: Sequence[tuple]) -> Sequence[tuple] | bytes:
        """Statement rows (STATEMENT_COLUMNS order) in the form `copy_statements` writes fastest."""
        return copy_text(rows) if self.dialect == "postgresql" else rows

    def prepare_entities(self, rows: Sequence[dict | tuple]) -> Sequence[dict | tuple] | bytes:
        """Entity rows (dicts, or tuples of id, schema, agency, batch_id, record_no) in the form
        `add_entities` writes fastest (see statement_buffer)."""
        if self.dialect != "postgresql":
            return rows
        if not all(isinstance(r, tuple) for r in rows):
            return "".join(_copy_line(_entity_tuple(r)) for r in rows).encode("utf-8")
        esc, out, tails = _copy_field, [], {}
        for entity_id, schema, agency, batch_id, record_no in rows:
            tail = tails.get((schema, agency, batch_id))   # one batch and agency, a few schemas: formatted once
            if tail is None:
                tail = tails[schema, agency, batch_id] = f"\t{esc(schema)}\t{esc(agency)}\t{esc(batch_id)}\t"
            out.append(f"{esc(entity_id)}{tail}{record_no}\n")
        return "".join(out).encode("utf-8")

    def copy_statements(self, connection: Connection, rows: Sequence[tuple] | StatementRuns | bytes) -> None:
        """Append statement rows (tuples in STATEMENT_COLUMNS order, or a statement buffer's payload) inside
        the caller's transaction."""
        if not rows:
            return
        if self.dialect == "postgresql":
            raw = connection.connection.driver_connection
            if isinstance(rows, StatementRuns):
                rows = list(rows.rows())
            data = rows if isinstance(rows, bytes) else copy_text(rows)
            with raw.cursor() as cursor:
                with cursor.copy(f"COPY statements ({', '.join(STATEMENT_COLUMNS)}) FROM STDIN") as copy:
                    copy.write(data)
        elif self.dialect == "sqlite":
            raw = connection.connection.driver_connection
            if not isinstance(rows, StatementRuns):
                marks = ", ".join("?" * len(STATEMENT_COLUMNS))
                raw.executemany(f"INSERT INTO statements ({', '.join(STATEMENT_COLUMNS)}) VALUES ({marks})", rows)
                return
            columns = ", ".join(STATEMENT_COLUMNS)
            for fixed, shape, run in rows:
                constants = dict(zip(FIXED_COLUMNS, map(_sql_literal, fixed)))
                values = None
                if None not in constants.values():   # else a NUL in a marking: bind every column
                    values = (shape.values_sql(constants) if shape is not None else
                              "(" + ", ".join(constants.get(c, "?") for c in STATEMENT_COLUMNS) + ")")
                if values is None:
                    self.copy_statements(connection, list(StatementRuns([(fixed, shape, run)]).rows()))
                    continue
                raw.executemany(f"INSERT INTO statements ({columns}) VALUES {values}", run)
        else:
            if isinstance(rows, StatementRuns):
                rows = list(rows.rows())
            connection.execute(insert(tables.statements), [dict(zip(STATEMENT_COLUMNS, r)) for r in rows])

    def add_entities(self, connection: Connection, rows: Iterable[dict | tuple] | bytes) -> None:
        """Record source entities first seen in this batch; ones already known keep their first sighting.

        Rows are dicts, tuples (id, schema, agency, batch_id, record_no) or prepare_entities' result.
        """
        if not isinstance(rows, bytes):
            rows = list(rows)
        if not rows:
            return
        if self.dialect == "postgresql":
            data = rows if isinstance(rows, bytes) else self.prepare_entities(rows)
            raw = connection.connection.driver_connection
            with raw.cursor() as cursor:
                cursor.execute("CREATE TEMP TABLE IF NOT EXISTS new_entities "
                               "(id text, schema text, agency text, batch_id int, record_no int) ON COMMIT DROP")
                with cursor.copy("COPY new_entities FROM STDIN") as copy:
                    copy.write(data)
                cursor.execute("INSERT INTO entities (id, schema, agency, batch_id, record_no) "
                               "SELECT id, schema, agency, batch_id, record_no FROM new_entities "
                               "ON CONFLICT (id) DO NOTHING")
                cursor.execute("TRUNCATE new_entities")
        elif self.dialect == "sqlite":
            raw = connection.connection.driver_connection
            raw.executemany("INSERT OR IGNORE INTO entities (id, schema, agency, batch_id, record_no) "
                            "VALUES (?, ?, ?, ?, ?)", map(_entity_tuple, rows))
        else:
            connection.execute(insert(tables.entities), [dict(zip(ENTITY_COLUMNS, _entity_tuple(r))) for r in rows])


ENTITY_COLUMNS = ("id", "schema", "agency", "batch_id", "record_no")


class BulkLoad:
    """The source entities of one bulk load (Store.bulk_load).

    On PostgreSQL they are copied into a temporary table as they come and added to `entities` once, at
    the end, in key order: inserting a million random keys into the primary key one chunk at a time costs
    several times more than one sorted pass. An entity met more than once keeps its first sighting (the
    lowest record number), as Store.add_entities does. With `locked` the load holds the tables
    exclusively and has dropped the primary key, so new entities are found by an anti-join.
    Elsewhere entities are added at once.
    """

    def __init__(self, store: Store, connection: Connection, locked: bool = False):
        self.store, self.connection, self.locked = store, connection, locked
        self.staged = False

    def add_entities(self, rows: Iterable[dict | tuple] | bytes) -> None:
        """Entity rows as Store.add_entities takes them."""
        if self.store.dialect != "postgresql":
            self.store.add_entities(self.connection, rows)
            return
        data = rows if isinstance(rows, bytes) else self.store.prepare_entities(list(rows))
        if not data:
            return
        raw = self.connection.connection.driver_connection
        with raw.cursor() as cursor:
            if not self.staged:
                # COLLATE "C": the final sort compares bytes (the order the primary key is filled in matters
                # only for speed)
                cursor.execute('CREATE TEMP TABLE staged_entities (id text COLLATE "C", schema text, agency text, '
                               "batch_id int, record_no int) ON COMMIT DROP")
                self.staged = True
            with cursor.copy("COPY staged_entities FROM STDIN") as copy:
                copy.write(data)

    def finish(self) -> None:
        """Add the staged entities; ones already stored keep their first sighting."""
        if not self.staged:
            return
        new = "NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = n.id)" if self.locked else "true"
        conflict = "" if self.locked else " ON CONFLICT (id) DO NOTHING"
        raw = self.connection.connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            # ctid: rows of one record number in the order they were copied
            cursor.execute("INSERT INTO entities (id, schema, agency, batch_id, record_no) "
                           "SELECT DISTINCT ON (n.id) n.id, n.schema, n.agency, n.batch_id, n.record_no "
                           f"FROM staged_entities n WHERE {new} ORDER BY n.id, n.record_no, n.ctid{conflict}")
            cursor.execute("DROP TABLE staged_entities")
            cursor.execute("RESET work_mem")
        self.staged = False


def _entity_tuple(row: dict | tuple) -> tuple:
    return tuple(row[c] for c in ENTITY_COLUMNS) if isinstance(row, dict) else row
