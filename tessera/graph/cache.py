"""One link graph per store kept in memory for servers, rebuilt when statements or resolution change."""

from __future__ import annotations

import threading
import time
from typing import Callable

from sqlalchemy import func, select

from tessera.graph.index import GraphIndex
from tessera.store import tables

CHECK_EVERY = 30.0  # seconds a built graph is served before the store is asked whether it changed


class GraphCache:
    """A GraphIndex of one store, each user's statement visibility over it, and networks per filter."""

    def __init__(self, check_every: float = CHECK_EVERY):
        self.lock = threading.Lock()
        self.check_every = check_every
        self.key: tuple | None = None
        self.checked = 0.0
        self.ix: GraphIndex | None = None
        self._visible: dict[str, Callable[[str], bool]] = {}
        self.memo: dict[tuple, object] = {}  # per-graph results (networks per viewer and filter)

    @staticmethod
    def _store_key(store) -> tuple:
        s, e = tables.statements, tables.entities
        with store.engine.connect() as conn:
            top = conn.execute(select(func.max(s.c.id), func.count(s.c.id))).one()
            canon = conn.execute(select(func.count(e.c.canonical_id), func.max(e.c.canonical_id))).one()
        return tuple(top) + tuple(canon)

    def graph(self, store) -> GraphIndex:
        """The graph of the store, rebuilt if the store changed since it was built."""
        from tessera.graph.build import build

        with self.lock:
            now = time.monotonic()
            if self.ix is not None and now - self.checked < self.check_every:
                return self.ix
            key = self._store_key(store)
            if self.ix is None or key != self.key:
                self.ix, self.key = build(store), key
                self._visible.clear()
                self.memo.clear()
            self.checked = now
            return self.ix

    def visibility(self, store, ix: GraphIndex, user) -> Callable[[str], bool]:
        """Whether `user` may see a statement, for every statement the graph rests on (kept with the graph)."""
        from tessera.graph.build import all_statements, statement_visibility

        key = viewer_key(user)
        with self.lock:
            found = self._visible.get(key)
        if found is None:
            found = statement_visibility(store, user, all_statements(ix))
            with self.lock:
                if self.ix is ix:
                    self._visible[key] = found
        return found


def viewer_key(user) -> str:
    """What decides what a user may see: name, agency, country, clearance, citizenship (any change, new key)."""
    return "\x00".join(str(getattr(user, k, "")) for k in ("name", "agency", "country", "clearance", "citizenship"))
