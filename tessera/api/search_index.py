"""The search-key index: name tokens and identifier spellings of statements, caught up from the statements.

Search used to read every name statement and key it in Python; at a million entities that is seconds per
query. This index holds, per statement, the keys search compares: for names, "n:" + each token of
search.name_key and "p:" + each pair of those tokens (a name of more than PAIR_TOKENS tokens gets LONG_NAME
instead of its pairs); for values with a digit, "v:" + the value and, for identifier types, "c:" + the value
compacted. Name tokens are sound skeletons, so one token alone can be shared by thousands of names (at 1M
people a skeleton such as "mn" is); a pair of them is rare, and a search of two or more tokens is driven
by a pair key, reading about as many rows as it has hits.
Statements are append-only, so the index only has to catch up: `refresh(store)` keys every statement past
the state row's `statement_id`, in chunks, each its own transaction. Search reads the index for statements
up to that id and scans only the newer tail, so results never depend on whether the index is current.
When the way names are keyed changes (names.py, the model's equivalents), the fingerprint changes, search
falls back to scanning, and the next refresh rebuilds from scratch.

The one hook: call `refresh(store)` after a batch lands (the API's ingest does; `refresh_soon` runs it in a
background thread, and search calls that when the tail has grown).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from tessera.api.tables import search_index_state, search_keys
from tessera.store import tables

INDEX_VERSION = "3"
CHUNK = 50_000
NAME_TYPES = ("name",)
IDENTIFIER_TYPES = ("identifier", "iban", "email")
PAIR_TOKENS = 12            # names with more tokens than this are keyed LONG_NAME instead of by every pair
LONG_NAME = "x:long-name"
TAIL_REFRESH = 5_000        # search starts a background refresh when this many statements are not indexed
CHECK_EVERY = 2.0           # ... looking at most this often (seconds)

_lock = threading.Lock()
_fingerprint: str | None = None
_last_check = 0.0


def fingerprint() -> str:
    """Changes whenever the keys of a value could: this module's version, names.py and the name model."""
    global _fingerprint
    if _fingerprint is None:
        from tessera.resolve import names
        from tessera.resolve.engine import load_model
        model = load_model()
        digest = hashlib.sha256(INDEX_VERSION.encode())
        digest.update(Path(names.__file__).read_bytes())
        digest.update(json.dumps([model.get("name_equivalents"), model.get("name_stopwords")],
                                 sort_keys=True).encode())
        _fingerprint = digest.hexdigest()
    return _fingerprint


def compact(value: str) -> str:
    """A stored identifier as search compares it: spaces, dashes and dots removed, upper case."""
    return value.replace(" ", "").replace("-", "").replace(".", "").upper()


def pair_key(a: str, b: str) -> str:
    """The key of two name tokens of one name, in either order (tokens never hold a space)."""
    return f"p:{a} {b}" if a <= b else f"p:{b} {a}"


def keys_of(prop_type: str, value: str) -> set[str]:
    from tessera.api.search import name_key
    if prop_type in NAME_TYPES:
        tokens = name_key(value)
        out = {"n:" + t for t in tokens}
        if len(tokens) > PAIR_TOKENS:
            out.add(LONG_NAME)
        else:
            out.update(pair_key(a, b) for a, b in combinations(tokens, 2))
        return out
    if prop_type == "entity" or not any(ch.isdigit() for ch in value):
        return set()  # a query with a digit only ever matches values with one
    out = {"v:" + value}
    if prop_type in IDENTIFIER_TYPES:
        out.add("c:" + compact(value))
    return out


def covered(connection: Connection) -> int:
    """Statements with id up to this are in the index (0: none, or keyed another way)."""
    row = connection.execute(select(search_index_state.c.statement_id, search_index_state.c.fingerprint)
                             .where(search_index_state.c.id == 1)).first()
    if row is None or row.fingerprint != fingerprint():
        return 0
    return int(row.statement_id)


_SPAN = select(select(search_index_state.c.statement_id)
               .where(search_index_state.c.id == 1, search_index_state.c.fingerprint == bindparam("fingerprint"))
               .scalar_subquery(),
               select(func.max(tables.statements.c.id)).scalar_subquery())


def span(connection: Connection) -> tuple[int, int]:
    """(covered(connection), the newest statement id) in one query."""
    upto, top = connection.execute(_SPAN, dict(fingerprint=fingerprint())).one()
    return int(upto or 0), int(top or 0)


def statements_with_all(connection: Connection, keys: Iterable[str], upto: int) -> list[int]:
    """Ids (<= upto) of statements holding every one of the keys."""
    keys = sorted(set(keys))
    if not keys:
        return []
    # Driven by one key's rows (the longest key: the rarest, as a rule), each probed for the other keys in
    # the (key, statement_id) index: index look-ups only, however common the other keys are.
    keys.sort(key=lambda key: (-len(key), key))
    first = search_keys.alias("k0")
    query = select(first.c.statement_id).where(first.c.key == keys[0], first.c.statement_id <= upto)
    for i, key in enumerate(keys[1:], 1):
        other = search_keys.alias(f"k{i}")
        query = query.where(select(other.c.statement_id)
                            .where(other.c.key == key, other.c.statement_id == first.c.statement_id).exists())
    return sorted({r[0] for r in connection.execute(query)})


def statements_with_any(connection: Connection, keys: Iterable[str], upto: int) -> list[int]:
    """Ids (<= upto) of statements holding at least one of the keys."""
    keys = sorted(set(keys))
    if not keys:
        return []
    k = search_keys
    return sorted({r[0] for r in connection.execute(
        select(k.c.statement_id).where(k.c.key.in_(keys), k.c.statement_id <= upto))})


def _insert(connection: Connection, rows: list[tuple[str, int]]) -> None:
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        connection.connection.driver_connection.executemany(
            "INSERT INTO search_keys (key, statement_id) VALUES (?, ?)", rows)
    else:
        connection.execute(insert(search_keys), [dict(key=k, statement_id=i) for k, i in rows])


def _lock_state(connection: Connection) -> tuple[int, str]:
    """Take the refresh lock (the UPDATE comes first so that it takes it) and read the state."""
    s = search_index_state
    if connection.execute(update(s).where(s.c.id == 1).values(statement_id=s.c.statement_id)).rowcount == 0:
        connection.execute(insert(s).values(id=1, statement_id=0, fingerprint=fingerprint()))
    query = select(s.c.statement_id, s.c.fingerprint).where(s.c.id == 1)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).one()
    return int(row.statement_id), row.fingerprint


def refresh(store, chunk: int = CHUNK) -> dict:
    """Key every statement the index has not seen; rebuild from scratch when keying has changed."""
    started = time.perf_counter()
    s = tables.statements
    indexed = keys = 0
    rebuilt = False
    with _lock:
        while True:
            with store.engine.begin() as connection, store.bulk_load(connection):
                last, fp = _lock_state(connection)
                if fp != fingerprint():
                    connection.execute(delete(search_keys))
                    connection.execute(update(search_index_state).where(search_index_state.c.id == 1)
                                       .values(statement_id=0, fingerprint=fingerprint()))
                    last, rebuilt = 0, True
                rows = connection.execute(select(s.c.id, s.c.prop_type, s.c.value).where(s.c.id > last)
                                          .order_by(s.c.id).limit(chunk)).all()
                if not rows:
                    break
                batch = [(key, sid) for sid, prop_type, value in rows for key in keys_of(prop_type, value)]
                _insert(connection, batch)
                connection.execute(update(search_index_state).where(search_index_state.c.id == 1)
                                   .values(statement_id=rows[-1][0]))
                indexed, keys, last = indexed + len(rows), keys + len(batch), rows[-1][0]
            if len(rows) < chunk:
                break
    return dict(statements=indexed, keys=keys, upto=last, rebuilt=rebuilt,
                seconds=round(time.perf_counter() - started, 3))


def lag(connection: Connection) -> int:
    """How many statement ids lie past what the index covers."""
    newest = connection.execute(select(func.max(tables.statements.c.id))).scalar() or 0
    return max(0, int(newest) - covered(connection))


def refresh_soon(store, threshold: int = TAIL_REFRESH) -> bool:
    """Start a background refresh if the un-indexed tail has grown past `threshold` (checked every few seconds)."""
    global _last_check
    now = time.monotonic()
    if now - _last_check < CHECK_EVERY or _lock.locked():
        return False
    _last_check = now
    with store.engine.connect() as connection:
        if lag(connection) < threshold:
            return False
    threading.Thread(target=refresh, args=(store,), name="tessera-search-index", daemon=True).start()
    return True
