"""The audit log: an append-only, hash-chained record of who did and saw what, and its check.

Each entry's hash is the SHA-256 of a canonical JSON of its content (time, user, action,
entities, query, purpose) together with the previous entry's hash, so that editing an entry
breaks its own hash, and deleting or reordering entries breaks the chain. A one-row head
table holds the newest seq and hash: appenders lock it (a row lock on PostgreSQL, the write
lock on SQLite) before reading it, so concurrent appends are serialised and never fork the
chain, and `verify` compares it with the tail, so dropping the newest entries shows too.

Group commit (`appender(engine).append`, what the API uses for every read it answers): each
caller's entries are committed before the call returns -- so before the response that the
entry describes is sent -- but the entries of the requests that arrive while one transaction
is being written share the next transaction. Guarantee: an entry whose call returned is
committed (on SQLite with synchronous=NORMAL, a process crash loses nothing committed; a power
loss may lose the newest transactions, exactly as for any other write); if that transaction
fails, every caller in it gets the error and none of their responses is sent. The chain is
the same as with one entry per transaction: entries are appended in order under the head lock.

What it does not do: someone with write access to the database who rewrites every hash
from the tampered entry onwards, head included, is not detected here; publish the head
hash (`tessera audit verify --json`) elsewhere to anchor it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, Engine, insert, select, update

from tessera.access.tables import audit_head, audit_log

GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    """One audit entry as stored."""

    seq: int
    at: str
    user: str
    action: str
    entities: list[str]
    query: str | None
    purpose: str | None
    prev_hash: str
    hash: str

    def as_dict(self) -> dict:
        return dict(seq=self.seq, at=self.at, user=self.user, action=self.action, entities=self.entities,
                    query=self.query, purpose=self.purpose, prev_hash=self.prev_hash, hash=self.hash)


@dataclass(frozen=True)
class Verdict:
    """The result of checking the chain: ok, or the first broken seq and what happened there."""

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    problem: str | None = None  # "edited", "deleted", "reordered"
    detail: str | None = None

    def as_dict(self) -> dict:
        return dict(ok=self.ok, checked=self.checked, head_seq=self.head_seq, head_hash=self.head_hash,
                    broken_seq=self.broken_seq, problem=self.problem, detail=self.detail)


def entry_hash(at: str, user: str, action: str, entities: list[str], query: str | None, purpose: str | None,
               prev_hash: str) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of an entry and the previous hash."""
    canonical = json.dumps(dict(at=at, user=user, action=action, entities=list(entities), query=query,
                                purpose=purpose, prev_hash=prev_hash),
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_LOCK = (update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq)
         .returning(audit_head.c.seq, audit_head.c.hash))


def _lock_head(connection: Connection) -> tuple[int, str]:
    """Take the append lock and read the head: an UPDATE (which takes the lock: a row lock on PostgreSQL,
    the write lock on SQLite) returning the row it locked."""
    head = connection.execute(_LOCK).first()
    if head is None:  # a head lost or never written: rebuild it from the log's tail
        tail = connection.execute(select(audit_log.c.seq, audit_log.c.hash)
                                  .order_by(audit_log.c.seq.desc()).limit(1)).first()
        connection.execute(insert(audit_head).values(id=1, seq=tail.seq if tail else 0,
                                                     hash=tail.hash if tail else GENESIS))
        head = connection.execute(_LOCK).one()
    return int(head.seq), head.hash


def record(connection: Connection, user: str, action: str, entities: Iterable[str] = (),
           query: str | None = None, purpose: str | None = None, at: datetime | None = None) -> Entry:
    """Append one entry inside the caller's transaction (which should not have read before, on SQLite)."""
    return record_many(connection, [dict(user=user, action=action, entities=entities, query=query,
                                         purpose=purpose, at=at)])[0]


_INSERT = insert(audit_log)
_SET_HEAD = update(audit_head).where(audit_head.c.id == 1)


def record_many(connection: Connection, items: Sequence[dict]) -> list[Entry]:
    """Append entries (each a dict of record's keyword arguments), in order, under one lock of the head."""
    if not items:
        return []
    seq, prev = _lock_head(connection)
    entries, rows = [], []
    for item in items:
        stamp = (item.get("at") or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(
            timespec="microseconds")
        ents = [str(e) for e in item.get("entities") or ()]
        user, action, query, purpose = item["user"], item["action"], item.get("query"), item.get("purpose")
        digest = entry_hash(stamp, user, action, ents, query, purpose, prev)
        seq += 1
        entries.append(Entry(seq, stamp, user, action, ents, query, purpose, prev, digest))
        rows.append(dict(seq=seq, at=stamp, user_name=user, action=action,
                         entities=json.dumps(ents, ensure_ascii=False), query=query, purpose=purpose,
                         prev_hash=prev, hash=digest))
        prev = digest
    connection.execute(_INSERT, rows)
    connection.execute(_SET_HEAD.values(seq=seq, hash=prev))
    return entries


class _Ticket:
    __slots__ = ("items", "done", "entries", "error")

    def __init__(self, items: Sequence[dict]):
        self.items, self.done, self.entries, self.error = items, False, None, None


class Appender:
    """Group commit for many threads of one process: `append` returns once the caller's entries are
    committed; entries that arrive while a transaction is being written go together into the next one.

    No thread of its own: the first caller that finds no transaction under way writes every waiting
    caller's entries (its own included) and wakes them; the others wait for that.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._cond = threading.Condition()
        self._pending: list[_Ticket] = []
        self._writing = False

    def append(self, items: Sequence[dict]) -> list[Entry]:
        ticket = _Ticket(items)
        with self._cond:
            self._pending.append(ticket)
            while not ticket.done and self._writing:
                self._cond.wait()
            if not ticket.done:  # nobody is writing: write every waiting caller's entries
                self._writing = True
                batch, self._pending = self._pending, []
            else:
                batch = None
        if batch is not None:
            error = None
            try:
                with self.engine.begin() as connection:
                    written = record_many(connection, [item for t in batch for item in t.items])
            except BaseException as exc:  # noqa: BLE001 - handed to every caller of the batch
                error, written = exc, []
            with self._cond:
                at = 0
                for t in batch:
                    t.done, t.error = True, error
                    if error is None:
                        t.entries, at = written[at:at + len(t.items)], at + len(t.items)
                self._writing = False
                self._cond.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return ticket.entries


_appenders: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_appenders_lock = threading.Lock()


def appender(engine: Engine) -> Appender:
    """The group-commit appender of an engine (one per engine and process)."""
    with _appenders_lock:
        found = _appenders.get(engine)
        if found is None:
            found = _appenders[engine] = Appender(engine)
        return found


def _entry(row) -> Entry:
    try:
        entities = json.loads(row.entities)
    except (TypeError, ValueError):
        entities = [f"<unreadable {row.entities!r}>"]
    return Entry(int(row.seq), row.at, row.user_name, row.action, entities, row.query, row.purpose,
                 row.prev_hash, row.hash)


def verify(store) -> Verdict:
    """Walk the chain from the first entry; report the first entry that was edited, deleted or moved."""
    with store.engine.connect() as connection:
        head = connection.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
        head_seq, head_hash = (int(head.seq), head.hash) if head else (0, GENESIS)
        expected, prev, checked = 1, GENESIS, 0

        def verdict(seq, problem, detail):
            return Verdict(False, checked, head_seq, head_hash, seq, problem, detail)

        rows = connection.execution_options(stream_results=True, yield_per=5000).execute(
            select(audit_log).order_by(audit_log.c.seq))
        for row in rows:
            entry = _entry(row)
            if entry.seq != expected:
                return verdict(expected, "deleted",
                               f"entries {expected}..{entry.seq - 1} are missing" if entry.seq - 1 > expected
                               else f"entry {expected} is missing")
            if entry_hash(entry.at, entry.user, entry.action, entry.entities, entry.query, entry.purpose,
                          entry.prev_hash) != entry.hash:
                return verdict(entry.seq, "edited", f"entry {entry.seq} no longer matches its hash")
            if entry.prev_hash != prev:
                if entry.prev_hash == GENESIS:
                    return verdict(entry.seq, "reordered", f"entry {entry.seq} was written as the first entry")
                moved = connection.execute(select(audit_log.c.seq)
                                           .where(audit_log.c.hash == entry.prev_hash)).first()
                if moved is not None:
                    return verdict(entry.seq, "reordered",
                                   f"entry {entry.seq} was written after the entry now at seq {moved.seq}")
                return verdict(entry.seq, "deleted",
                               f"the entry that entry {entry.seq} followed is gone (deleted, or rewritten "
                               "with a new hash)")
            prev, expected, checked = entry.hash, expected + 1, checked + 1
        last = expected - 1
        if head_seq > last:
            return verdict(last + 1, "deleted", f"entries {last + 1}..{head_seq} are missing from the end")
        if head_seq < last:
            return verdict(head_seq + 1, "edited", f"entries {head_seq + 1}..{last} were added outside the log")
        if head_hash != prev:
            return verdict(last, "edited", f"entry {last} differs from the head's record of it")
        return Verdict(True, checked, head_seq, head_hash)


def show(store, user: str | None = None, entity: str | None = None, limit: int | None = None) -> list[Entry]:
    """Entries, oldest first, by one user and/or naming one entity."""
    query = select(audit_log).order_by(audit_log.c.seq)
    if user:
        query = query.where(audit_log.c.user_name == user)
    if entity:
        query = query.where(audit_log.c.entities.contains(json.dumps(entity, ensure_ascii=False)))
    with store.engine.connect() as connection:
        entries = [_entry(r) for r in connection.execute(query)]
    if entity:
        entries = [e for e in entries if entity in e.entities]
    if limit:
        entries = entries[-limit:]
    return entries
