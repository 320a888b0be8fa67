"""The alert pump: after a batch lands, and on a timer, turn new batches and resolution changes into notices and alerts.

`after_batch` is the ingest hook (called once a batch has committed; it never raises). `pump_once` does
everything that is due, idempotently: batches not yet seen, the resolution change feed since its cursor
(canonical-level deconfliction and merge/split checks), network watches when anything changed, and webhook
deliveries. `Pump` runs notices and webhook deliveries in two threads (started by the API server), so that a
slow webhook never holds back a notice.
"""

from __future__ import annotations

import logging
import os
import threading

from sqlalchemy import Connection, insert, select, update

from tessera.access import deconfliction
from tessera.alerts import delivery, watches
from tessera.alerts.tables import cursors
from tessera.store import tables

log = logging.getLogger(__name__)
INTERVAL_ENV = "TESSERA_ALERT_PUMP_SECONDS"


def _cursor(connection: Connection, name: str) -> int:
    return int(connection.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar() or 0)


def _set_cursor(connection: Connection, name: str, value: int) -> None:
    if connection.execute(update(cursors).where(cursors.c.name == name).values(value=value)).rowcount == 0:
        connection.execute(insert(cursors).values(name=name, value=value))


def after_batch(store, batch_id: int) -> dict:
    """Deconfliction notices and watch alerts for a batch that has just landed; a failure is logged, not raised."""
    done = dict(notices=0, alerts=0)
    try:
        done["notices"] = deconfliction.deconflict_batch(store, batch_id)
        done["alerts"] = len(watches.check_all(store, batch_id, networks=False))
    except Exception:  # noqa: BLE001 - the batch has landed; notices must never fail an ingest
        log.exception("notices and alerts for batch %s failed", batch_id)
    return done


def _changes(connection: Connection, after: int) -> list[dict]:
    try:
        from tessera.resolve.changes import changes_since
    except ImportError:
        return []
    return changes_since(connection, after)


def pump_once(store, deliver: bool = True) -> dict:
    """Everything due now; safe to run from several processes (alert work is serialised by a lock row)."""
    report = dict(batches=0, changes=0, notices=0, alerts=0, deliveries={})
    with store.engine.connect() as connection:
        seen = _cursor(connection, "batches")
        batches = [b for (b,) in connection.execute(select(tables.batches.c.id).where(tables.batches.c.id > seen)
                                                   .order_by(tables.batches.c.id))]
        after = _cursor(connection, "changes")
        changes = _changes(connection, after)
    for batch_id in batches:
        report["notices"] += deconfliction.deconflict_batch(store, batch_id)
        report["alerts"] += len(watches.check_all(store, batch_id, networks=False))
        with store.engine.begin() as connection:
            _set_cursor(connection, "batches", batch_id)
        report["batches"] += 1
    if changes:
        touched = {c["canonical_id"] for c in changes} | {r for c in changes for r in c["related"]}
        report["notices"] += deconfliction.deconflict_canonical(store, touched)
        report["changes"] = len(changes)
    if batches or changes:
        report["alerts"] += len(watches.check_all(store, None, networks=True))
    if changes:
        with store.engine.begin() as connection:
            _set_cursor(connection, "changes", max(c["id"] for c in changes))
    if deliver:
        report["deliveries"] = delivery.deliver_due(store)
    return report


class Pump:
    """Every `interval` seconds, in two daemon threads until stopped: notices and alerts (`pump_once` without
    deliveries), and webhook deliveries (which may wait on a slow receiver for up to its timeout)."""

    def __init__(self, store, interval: float | None = None):
        self.store = store
        self.interval = float(os.environ.get(INTERVAL_ENV, 1.0)) if interval is None else interval
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Pump:
        if self.interval > 0 and not self._threads:
            for name, work in (("notices", lambda: pump_once(self.store, deliver=False)),
                               ("deliveries", lambda: delivery.deliver_due(self.store))):
                thread = threading.Thread(target=self._run, args=(name, work), name=f"tessera-alert-{name}",
                                          daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def _run(self, name: str, work) -> None:
        while not self._stop.is_set():
            try:
                work()
            except Exception:  # noqa: BLE001 - keep pumping; the next round retries
                log.exception("alert pump round (%s) failed", name)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []
