"""Audit log: every entry is chained to the one before; editing, deleting or reordering shows."""

from __future__ import annotations

import threading

import access_helpers  # noqa: F401
from sqlalchemy import delete, select, text, update

from tessera.access import audit
from tessera.access.tables import audit_log


def _log_five_searches(store):
    for n in range(1, 6):
        with store.engine.begin() as connection:
            audit.record(connection, "amelie", "search", [f"person-{n}", "phone-7"], query=f"name:{n}",
                         purpose="op TIDEWAY")


def test_an_untouched_log_verifies(store):
    _log_five_searches(store)
    verdict = audit.verify(store)
    assert verdict.ok and verdict.checked == 5 and verdict.head_seq == 5
    assert [e.seq for e in audit.show(store, entity="person-3")] == [3]
    assert len(audit.show(store, user="amelie")) == 5 and audit.show(store, user="tom") == []


def test_an_edited_entry_is_found(store):
    _log_five_searches(store)
    with store.engine.begin() as connection:
        connection.execute(update(audit_log).where(audit_log.c.seq == 3).values(purpose="nothing to see"))
    verdict = audit.verify(store)
    assert (verdict.ok, verdict.broken_seq, verdict.problem) == (False, 3, "edited")


def test_a_deleted_entry_is_found_in_the_middle_and_at_the_end(store):
    _log_five_searches(store)
    with store.engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.seq == 2))
    verdict = audit.verify(store)
    assert (verdict.broken_seq, verdict.problem) == (2, "deleted")


def test_dropping_the_newest_entry_is_found(store):
    _log_five_searches(store)
    with store.engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.seq == 5))
    verdict = audit.verify(store)
    assert (verdict.broken_seq, verdict.problem) == (5, "deleted")


def test_deleting_and_renumbering_is_found(store):
    _log_five_searches(store)
    with store.engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.seq == 2))
        for seq in (3, 4, 5):
            connection.execute(update(audit_log).where(audit_log.c.seq == seq).values(seq=seq - 1))
        connection.execute(text("UPDATE audit_head SET seq = 4"))
    verdict = audit.verify(store)
    assert (verdict.broken_seq, verdict.problem) == (2, "deleted")


def test_two_swapped_entries_are_found(store):
    _log_five_searches(store)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET seq = -3 WHERE seq = 3"))
        connection.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = 4"))
        connection.execute(text("UPDATE audit_log SET seq = 4 WHERE seq = -3"))
    verdict = audit.verify(store)
    assert (verdict.broken_seq, verdict.problem) == (3, "reordered")


def test_concurrent_appends_keep_one_unbroken_chain(store):
    errors = []

    def worker(name):
        try:
            for n in range(8):
                with store.engine.begin() as connection:
                    audit.record(connection, name, "view", [f"{name}-{n}"])
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(f"user{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    verdict = audit.verify(store)
    assert verdict.ok and verdict.checked == 32
    with store.engine.connect() as connection:
        assert list(connection.execute(select(audit_log.c.seq).order_by(audit_log.c.seq)).scalars()) == \
            list(range(1, 33))


def test_group_commit_returns_only_committed_entries_and_keeps_the_chain(store):
    """Many threads appending through the group-commit appender: each call returns its own entries, in
    order, already committed (a fresh connection reads them), sharing transactions, with one chain."""
    appender = audit.appender(store.engine)
    assert audit.appender(store.engine) is appender
    got, errors = {}, []

    def worker(name):
        try:
            for n in range(6):
                entries = appender.append([dict(user=name, action="search", entities=[f"{name}-{n}"], query="q"),
                                           dict(user=name, action="search.pointer", entities=[f"{name}-p{n}"])])
                assert [(e.user, e.action, e.entities) for e in entries] == \
                    [(name, "search", [f"{name}-{n}"]), (name, "search.pointer", [f"{name}-p{n}"])]
                assert entries[1].seq == entries[0].seq + 1 and entries[1].prev_hash == entries[0].hash
                with store.engine.connect() as connection:  # committed before append returned
                    assert connection.execute(select(audit_log.c.hash).where(
                        audit_log.c.seq == entries[1].seq)).scalar_one() == entries[1].hash
                got.setdefault(name, []).extend(entries)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(f"user{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    verdict = audit.verify(store)
    assert verdict.ok and verdict.checked == 72 and verdict.head_seq == 72
    assert sorted(e.seq for entries in got.values() for e in entries) == list(range(1, 73))


def test_a_failed_group_commit_fails_every_caller_in_it_and_writes_none(store, monkeypatch):
    appender = audit.appender(store.engine)
    appender.append([dict(user="amelie", action="search", entities=["a"])])

    real = audit.record_many

    def broken(connection, items):  # the entries are written, then the transaction fails before its commit
        real(connection, items)
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record_many", broken)
    try:
        appender.append([dict(user="amelie", action="search", entities=["b"])])
    except RuntimeError as error:
        assert "disk full" in str(error)
    else:  # pragma: no cover
        raise AssertionError("the caller was told nothing of the failed commit")
    monkeypatch.undo()
    assert audit.verify(store).checked == 1
    appender.append([dict(user="amelie", action="search", entities=["c"])])  # the appender carries on
    verdict = audit.verify(store)
    assert verdict.ok and verdict.checked == 2
