"""Benchmark deconfliction: from a batch landing to its notices being readable, against stores of growing size.

    .venv/bin/python bench/deconfliction.py [--sizes 10000,100000] [--batch 100] [--pg URL]

For each store size an owner agency's file of N people is ingested and indexed (keyed hashes, once),
then a submitter's batch of --batch people, a tenth sharing a phone and a tenth a name and birth date with
the owner's people, lands; the time of the ingest hook (`tessera.alerts.pump.after_batch`: keyed-hash
index of the batch, the join, the notices) is what a submitter waits after the batch commits. Also shown:
the one-time cost of indexing the owner's batch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tessera.access import identity  # noqa: E402
from tessera.access.blind import ensure_index, federation_key  # noqa: E402
from tessera.alerts.pump import after_batch  # noqa: E402
from tessera.intake.pipeline import ingest_file  # noqa: E402
from tessera.store.store import Store  # noqa: E402

MAPPING = """
bench:
  queries:
    - entities:
        person:
          schema: Person
          keys: [ref]
          key_literal: person
          properties:
            name: {column: name}
            birthDate: {column: dob, format: "%d/%m/%Y"}
            phone: {column: phone}
"""
FIRST = ["Ahmad", "Mohammed", "Ali", "Hassan", "Omar", "Karim", "Reza", "Dara", "Viktor", "Ivan", "Lena", "Amir",
         "Sami", "Yusuf", "Nadia", "Leila", "Tuan", "Minh", "Arben", "Elira"]
LAST = ["Karimi", "Rahimi", "Haddad", "Petrenko", "Nguyen", "Tran", "Hoxha", "Krasniqi", "Ahmadi", "Hosseini",
        "Mahmoud", "Saleh", "Aziz", "Bakr", "Popescu", "Okafor", "Mensah", "Darwish", "Najjar", "Yilmaz"]


def people(n: int, rng: random.Random, prefix: str) -> list[tuple[str, str, str, str]]:
    out = []
    for i in range(n):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}"
        dob = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1950, 2005)}"
        out.append((f"{prefix}{i}", name, dob, f"07700 {rng.randint(100000, 999999)}"))
    return out


def write(path: Path, rows) -> Path:
    path.write_text("ref,name,dob,phone\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def run(url: str, size: int, batch: int, tmp: Path) -> dict:
    rng = random.Random(size)
    store = Store.open(url)
    with store.engine.begin() as conn:
        identity.add_agency(conn, "OWNER", "GB", contact="owner desk")
        identity.add_agency(conn, "SUB", "GB", contact="submitter desk")
    mapping = tmp / "mapping.yml"
    mapping.write_text(MAPPING)
    owned = people(size, rng, "o")
    t = time.perf_counter()
    ingest_file(store, write(tmp / f"owner-{size}.csv", owned), "OWNER", mapping)
    owner_ingest = time.perf_counter() - t
    t = time.perf_counter()
    with store.engine.begin() as conn:
        ensure_index(conn, federation_key())
    owner_index = time.perf_counter() - t
    submitted = people(batch, rng, "s")
    tenth = max(batch // 10, 1)
    for i in range(tenth):  # a tenth share a phone, a tenth a name and birth date
        submitted[i] = submitted[i][:3] + (owned[rng.randrange(size)][3],)
        other = owned[rng.randrange(size)]
        submitted[tenth + i] = (submitted[tenth + i][0], other[1], other[2], submitted[tenth + i][3])
    t = time.perf_counter()
    result = ingest_file(store, write(tmp / f"sub-{size}.csv", submitted), "SUB", mapping)
    batch_ingest = time.perf_counter() - t
    t = time.perf_counter()
    done = after_batch(store, result.batch_id)
    hook = time.perf_counter() - t
    store.close()
    return dict(backend=url.split(":")[0].split("+")[0], store_people=size, batch_people=batch,
                owner_ingest_s=round(owner_ingest, 3), owner_index_s=round(owner_index, 3),
                batch_ingest_s=round(batch_ingest, 3), notices_after_commit_s=round(hook, 3),
                notices=done["notices"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--pg", default=None, help="admin URL of a PostgreSQL server to compare")
    args = parser.parse_args()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run(f"sqlite:///{Path(tmp) / 'bench.db'}", size, args.batch, Path(tmp)))
            if args.pg:
                import psycopg

                name = f"tessera_bench_{uuid.uuid4().hex[:8]}"
                admin = args.pg.replace("postgresql+psycopg://", "postgresql://")
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                try:
                    results.append(run(f"{args.pg.rsplit('/', 1)[0]}/{name}", size, args.batch, Path(tmp)))
                finally:
                    with psycopg.connect(admin, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    table = Table(title="deconfliction: batch committed -> notices readable")
    for key in results[0]:
        table.add_column(key)
    for r in results:
        table.add_row(*(str(v) for v in r.values()))
    Console().print(table)
    name = "deconfliction.json" if args.batch == 100 else f"deconfliction-batch{args.batch}.json"
    out = Path(__file__).parent / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(load_average=os.getloadavg(), results=results), indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
