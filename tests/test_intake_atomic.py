"""A batch is atomic: an ingest killed with SIGKILL mid-batch leaves the store as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import inspect

from tessera.intake.pipeline import ingest_file
from tessera.store import tables
from tessera.store.store import Store

from intake_helpers import HEADER_LINE, count, mapping_file, write

KILLABLE = textwrap.dedent("""
    import sys, time
    from tessera.store.store import Store
    from tessera.intake import pipeline
    from tessera.intake.pipeline import ingest_file
    from tessera.store import store

    pipeline.PARALLEL_BYTES = int(sys.argv[4])
    if sys.argv[5] == "rebuild":   # a load that doubles the store drops the statements' indexes until commit
        store.REBUILD_MIN, pipeline.BYTES_PER_STATEMENT = 1, 1

    def progress(rows):
        print("rows", rows, flush=True)
        time.sleep(60)   # hold the transaction open until the test kills us

    ingest_file(Store.open(sys.argv[1]), sys.argv[2], "UKPOL", sys.argv[3], progress=progress)
""")


@pytest.mark.parametrize("parallel_bytes, indexes", [(1 << 40, "keep"), (0, "keep"), (0, "rebuild")],
                         ids=["one-process", "mapping-in-child", "rebuilding-indexes"])
def test_sigkill_mid_batch_leaves_the_store_whole_and_a_rerun_completes(store_url, tmp_path, parallel_bytes, indexes):
    store = Store.open(store_url)
    earlier = write(tmp_path / "earlier.csv", HEADER_LINE + "E1,Earlier Person,01/01/1980,,,\n")
    ingest_file(store, earlier, "UKPOL", mapping_file(tmp_path))
    before = (count(store, tables.batches), count(store, tables.statements), count(store, tables.entities))
    schema = indexes_and_keys(store)
    rows = "".join(f"N{i},Person {i},01/01/1990,07700 9{i % 100000:05d},Iraq,\n" for i in range(30_000))
    big = write(tmp_path / "big.csv", HEADER_LINE + rows)
    mapping = mapping_file(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, store_url, str(big), str(mapping), str(parallel_bytes),
                             indexes],
                            stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        assert line.startswith("rows"), line   # at least one chunk of statements is written, uncommitted
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    store.close()
    store = Store.open(store_url)
    assert (count(store, tables.batches), count(store, tables.statements), count(store, tables.entities)) == before
    assert indexes_and_keys(store) == schema
    result = ingest_file(store, big, "UKPOL", mapping)
    assert not result.already_ingested and result.statements == 120_000
    assert count(store, tables.statements) == before[1] + 120_000
    assert indexes_and_keys(store) == schema
    store.close()


def indexes_and_keys(store) -> dict[str, tuple]:
    """Each bulk-loaded table's indexes (name, columns, unique), primary key and foreign keys."""
    with store.engine.connect() as conn:
        ins = inspect(conn)
        return {table: (sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                               for ix in ins.get_indexes(table)),
                        ins.get_pk_constraint(table)["constrained_columns"],
                        sorted((tuple(fk["constrained_columns"]), fk["referred_table"], fk["options"].get("ondelete"))
                               for fk in ins.get_foreign_keys(table)))
                for table in ("statements", "entities")}
