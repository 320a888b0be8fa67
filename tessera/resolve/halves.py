"""A large store's Person table built in two processes: a helper reads and builds the later half of the records."""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select

from tessera.bulk import paused_gc, prefetched
from tessera.resolve import compare
from tessera.store import tables
from tessera.store.store import Store, stream_tuples

HELPER_FROM = 400_000  # Person records from which the table is built in two processes (below, one is faster)
STATEMENTS_PER_PERSON = 10  # a store with fewer statements than this times HELPER_FROM never starts a helper


@contextmanager
def table_helper(store: Store, model: dict) -> Iterator[Helper | None]:
    """A Helper building the later half of the Person table while the block runs; None for a store too small
    to gain by one, or only in memory (which another process cannot read)."""
    if store.in_memory:
        yield None
        return
    with store.engine.connect() as conn:
        if store.statements_upper_bound(conn) < STATEMENTS_PER_PERSON * HELPER_FROM:
            yield None
            return
    helper = Helper(store, model)
    try:
        yield helper
    finally:
        helper.stop()


class Helper:
    """A process, started now, that lists the store's Person ids, says where their later half starts (None:
    too few to share), reads the account links of both halves and builds the record columns of the later one."""

    def __init__(self, store: Store, model: dict):
        self.process = subprocess.Popen([sys.executable, "-m", "tessera.resolve.halves"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE)
        request = (store.engine.url.render_as_string(hide_password=False), model, HELPER_FROM)
        pickle.dump(request, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.close()
        self._lock = threading.Lock()
        self._start: tuple[str | None] | None = None
        # read as they come: a helper writing to a full pipe would wait for the run to ask
        self._messages: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=_read_messages, args=(self.process.stdout, self._messages),
                                        daemon=True)
        self._reader.start()

    @property
    def start(self) -> str | None:
        """The first Person id of the later half, once the helper has listed them (None: it builds nothing)."""
        with self._lock:
            if self._start is None:
                self._start = (self._message(),)
            return self._start[0]

    def accounts(self) -> dict[str, set[str]]:
        """engine.account_links of the Person ids before the start (the helper reads them for both halves)."""
        assert self.start is not None
        return self._message()

    def statements_before_start(self, store: Store) -> prefetched[list[tuple]]:
        """person_statements of the ids before the helper's start, in a thread that waits for that start."""
        from tessera.resolve.engine import statement_batches

        def batches():
            yield from statement_batches(store, stop=self.start)
        return prefetched(batches())

    def result(self) -> tuple[list[str], compare.RecordColumns]:
        """(the ids it read, their record columns)."""
        got = self._message()
        if self.process.wait() != 0:
            raise RuntimeError(f"the Person table helper process failed (exit status {self.process.returncode})")
        return got

    def _message(self):
        got = self._messages.get()
        if got is _ENDED:
            code = self.process.wait()
            raise RuntimeError(f"the Person table helper process failed (exit status {code})")
        return got

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join()  # the pipe has ended: the reader stops at its end
        self.process.stdout.close()


_ENDED = object()


def _read_messages(pipe, messages: queue.Queue) -> None:
    """Unpickle the helper's messages from its pipe as they come, then _ENDED."""
    try:
        while True:
            messages.put(pickle.load(pipe))
    except (EOFError, OSError, ValueError, pickle.UnpicklingError):
        pass  # the helper ended (or its pipe was closed): whoever waits for more learns it from _ENDED
    finally:
        messages.put(_ENDED)


def serve(url: str, model: dict, least: int, out) -> None:
    """The helper's work: list the Person ids, send where the later half starts, then the account links of the
    earlier half's people, then the later half's ids and record columns."""
    from tessera.resolve.engine import PERSON_DOCS, account_links, name_keys, person_statements, stream_people

    store = Store.open(url, migrate=False)
    try:
        e = tables.entities
        with store.engine.connect() as conn:
            ids = sorted(eid for eid, in stream_tuples(conn, select(e.c.id).where(e.c.schema == "Person")))
        if len(ids) < max(least, 2):
            pickle.dump(None, out)
            return
        ids = ids[len(ids) // 2:]
        pickle.dump(ids[0], out)
        out.flush()
        statements = person_statements(store, start=ids[0])  # sorted by the database while accounts are read
        with store.engine.connect() as conn:
            accounts = account_links(conn)
        pickle.dump({pid: acc for pid, acc in accounts.items() if pid < ids[0]}, out)
        out.flush()
        ids, records = stream_people(store, ids=ids, statements=statements, accounts=accounts)
        columns = compare.record_columns(records, len(ids), name_keys(model), PERSON_DOCS)
        pickle.dump((ids, columns), out, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        store.close()


def main() -> None:
    url, model, least = pickle.load(sys.stdin.buffer)
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "wb")  # stdout is the parent's pipe: only pickles go there
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything printed by a library goes to stderr
    with paused_gc(), channel:
        serve(url, model, least, channel)


if __name__ == "__main__":
    main()
