"""Benchmark intake: a generated CSV (six properties a row) into SQLite and PostgreSQL; statements/s and peak RSS.

    .venv/bin/python bench/ingest.py [--rows 1000000[,3000000,…]]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--rounds 3] [--baseline DIR]

With several sizes (--rows 1000000,3000000) each is generated and loaded in turn, and a second table
puts the peak RSS of each store at each size side by side: streaming means it stays flat as files grow.

With --baseline DIR (an earlier tessera package: `git archive REV tessera | tar -x -C DIR`) each round loads
every backend with that code and with this one in turn, so that before and after meet the same load on
the machine; medians over the rounds are reported.

Each backend runs in its own process so that peak RSS is that ingest's alone. Besides wall-clock time
it records CPU seconds: Tessera's (the ingest process and its mapping child) and, on PostgreSQL, the
server backend's; on a machine shared with other work they show the cost that waiting hides.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

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
            nationality: {column: nationality}
            address: {column: address}
            idNumber: {column: id_number}
"""

GIVEN = ["Mohammed", "Ali", "Rebin", "Hevar", "Arben", "Tesfay", "Nguyen Van", "Reza", "Ahmad", "Karwan", "Dilan"]
FAMILY = ["Ahmed", "Karimi", "Aziz", "Hoxha", "Gebremedhin", "Hung", "Rezaei", "Mahmoud", "Salih", "Omar"]
COUNTRIES = ["Iraq", "Iran", "Afghanistan", "Albania", "Eritrea", "Vietnam", "Syria", "Sudan"]


def write_csv(path: Path, rows: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("ref,name,dob,phone,nationality,address,id_number\n")
        for i in range(rows):
            fh.write(f"R{i},{rnd.choice(GIVEN)} {rnd.choice(FAMILY)},{rnd.randint(1, 28):02d}/{rnd.randint(1, 12):02d}/"
                     f"{rnd.randint(1960, 2005)},07700 9{rnd.randint(0, 99999):05d},{rnd.choice(COUNTRIES)},"
                     f"{rnd.randint(1, 300)} High Street Dover,D{rnd.randint(0, 10**8):08d}\n")


def run_one(url: str, csv_path: str, mapping_path: str) -> None:
    from tessera.intake.pipeline import ingest_file
    from tessera.store.store import Store

    store = Store.open(url)
    sampler = TreeRss()
    sampler.start()
    backend = _backend_pid(store)
    server_cpu = _proc_cpu(backend)
    started, cpu = time.perf_counter(), _own_cpu()
    result = ingest_file(store, csv_path, "BENCH", mapping_path)
    seconds = time.perf_counter() - started
    cpu = _own_cpu() - cpu
    if backend and _backend_pid(store) == backend:  # the pool handed the ingest the same server connection
        server_cpu = _proc_cpu(backend) - server_cpu
    else:
        server_cpu = None
    sampler.stop()
    # the most of this process and its mapping children together (resident pages shared after the fork
    # counted in each, so an upper bound), and never less than this process's own peak
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    peak = max(sampler.peak, main_peak)
    print(json.dumps({"statements": result.statements, "records": result.records, "seconds": seconds,
                      "peak_rss": peak, "peak_pss": sampler.peak_pss, "peak_rss_main": main_peak, "cpu_seconds": cpu,
                      "server_cpu_seconds": server_cpu}))


class TreeRss(threading.Thread):
    """Samples, every 100 ms, the memory of this process plus its children, keeping the peaks.

    `peak` adds resident sizes (pages shared since the fork counted in each process: an upper bound);
    `peak_pss` adds proportional sizes (a shared page split between its sharers: the memory really used).
    """

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.peak_pss, self.done = 0, 0, threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.done.wait(0.1):
            pids = {str(me)}
            for children in Path(f"/proc/{me}/task").glob("*/children"):
                try:
                    pids.update(children.read_text().split())
                except OSError:
                    continue
            rss = pss = 0
            for pid in pids:
                try:
                    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1]) * 1024
                        elif line.startswith("Pss:"):
                            pss += int(line.split()[1]) * 1024
                except (OSError, IndexError, ValueError):
                    continue
            self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)

    def stop(self) -> None:
        self.done.set()
        self.join()


def _own_cpu() -> float:
    """User + system CPU seconds of this process and its finished children (the mapping process)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _backend_pid(store) -> int | None:
    if store.dialect != "postgresql":
        return None
    with store.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _proc_cpu(pid: int | None) -> float:
    """CPU seconds of a local process from /proc (the PostgreSQL backend); 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000", help="rows of the generated file; several sizes comma-separated")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="admin URL of a PostgreSQL server ('' to skip)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="which stores to load, in this order")
    parser.add_argument("--rounds", type=int, default=1, help="loads of each backend (and code); medians reported")
    parser.add_argument("--baseline", default="",
                        help="a directory holding an earlier tessera package "
                             "(git archive REV tessera | tar -x -C DIR), loaded in turn with this one, "
                             "for a before/after comparison in one run")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "ingest.json"))
    args = parser.parse_args()
    sizes = [int(n.replace("_", "")) for n in args.rows.split(",") if n.strip()]
    console = Console(width=190)
    backends = [b for b in args.backends.split(",") if b != "postgresql" or args.pg]
    codes = {"this": None} | ({"baseline": str(Path(args.baseline).resolve())} if args.baseline else {})
    by_rows, loads = {}, []
    for rows in sizes:
        by_rows[rows] = _load_size(rows, backends, codes, args, console, loads)
    if len(sizes) > 1:
        console.print(_rss_table(by_rows))
    console.print(f"load average after each load: {min(loads):.2f}-{max(loads):.2f} "
                  "(2 cores; above ~1 means other work shared them)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": sizes[0] if len(sizes) == 1 else sizes, "rounds": args.rounds,
                                          "load_average": os.getloadavg(), "results": by_rows[sizes[0]],
                                          "results_by_rows": {str(n): r for n, r in by_rows.items()}}, indent=2))
    console.print(f"wrote {args.out}")


def _load_size(rows: int, backends: list[str], codes: dict, args, console: Console, loads: list) -> dict:
    """Generate a file of this many rows, load it into each backend (and code) for the rounds; the results."""
    work = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    csv_path, mapping_path = work / "people.csv", work / "mapping.yml"
    started = time.perf_counter()
    write_csv(csv_path, rows)
    mapping_path.write_text(MAPPING)
    console.print(f"generated {rows:,} rows ({csv_path.stat().st_size / 1e6:,.0f} MB) in "
                  f"{time.perf_counter() - started:.1f} s")
    runs: dict[tuple[str, str], list[dict]] = {(b, c): [] for b in backends for c in codes}
    try:
        for round_no in range(args.rounds):
            order = list(codes) if round_no % 2 == 0 else list(reversed(codes))   # neither always goes first
            for backend in backends:
                for code in order:
                    with _fresh_store(backend, work, args.pg) as url:
                        env = os.environ | ({"PYTHONPATH": codes[code]} if codes[code] else {})
                        proc = subprocess.run([sys.executable, __file__, "--child-run", url, str(csv_path),
                                               str(mapping_path)], capture_output=True, text=True, check=True, env=env)
                    run = json.loads(proc.stdout.strip().splitlines()[-1])
                    run["statements_per_s"] = run["statements"] / run["seconds"]
                    run["load_average"] = os.getloadavg()[0]
                    runs[backend, code].append(run)
                    loads.append(run["load_average"])
                    console.print(f"{rows:,} rows, round {round_no + 1}: {backend:10s} {code:8s} "
                                  f"{run['seconds']:6.1f} s "
                                  f"{run['statements_per_s']:>9,.0f} statements/s, peak RSS "
                                  f"{run['peak_rss'] / 2**20:,.0f} MiB, load average {run['load_average']:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = Table("store", "code", "runs", "statements", "seconds", "statements/s", "CPU s (tessera)",
                  "CPU s (server)", "peak RSS", "peak PSS", "target",
                  title=f"Tessera intake, {rows:,} rows x 6 properties (medians; statements/s min-max)")
    targets_per_s = {"sqlite": 100_000, "postgresql": 200_000}
    results = {}
    for (backend, code), done in runs.items():
        if not done:
            continue
        r = {key: _median([d[key] for d in done]) for key in
             ("statements", "records", "seconds", "statements_per_s", "cpu_seconds", "server_cpu_seconds")}
        r |= {"peak_rss": max(d["peak_rss"] for d in done), "peak_pss": max(d["peak_pss"] for d in done),
              "peak_rss_main": max(d.get("peak_rss_main", 0) for d in done), "runs": done}
        results[backend if code == "this" else f"{backend} ({code})"] = r
        rates = [d["statements_per_s"] for d in done]
        table.add_row(backend, code, str(len(done)), f"{r['statements']:,.0f}", f"{r['seconds']:.1f}",
                      f"{r['statements_per_s']:,.0f} ({min(rates):,.0f}-{max(rates):,.0f})", f"{r['cpu_seconds']:.1f}",
                      "-" if r["server_cpu_seconds"] is None else f"{r['server_cpu_seconds']:.1f}",
                      f"{r['peak_rss'] / 2**20:,.0f} MiB", f"{r['peak_pss'] / 2**20:,.0f} MiB",
                      f">= {targets_per_s[backend]:,}/s, < 1 GiB")
    console.print(table)
    return results


def _rss_table(by_rows: dict[int, dict]) -> Table:
    """Peak RSS (and PSS, and the ingest process alone) of each store at each file size, side by side."""
    sizes = list(by_rows)
    table = Table("store", *[f"{n:,} rows" for n in sizes], "growth per 1M rows",
                  title="Peak RSS by file size: ingest process + mapping processes (PSS; ingest process alone)")
    for label in by_rows[sizes[0]]:
        cells, peaks = [], []
        for n in sizes:
            r = by_rows[n].get(label)
            if r is None:
                cells.append("-")
                continue
            peaks.append((n, r["peak_rss"]))
            cells.append(f"{r['peak_rss'] / 2**20:,.0f} MiB ({r['peak_pss'] / 2**20:,.0f}; "
                         f"{r['peak_rss_main'] / 2**20:,.0f})")
        growth = "-"
        if len(peaks) > 1:
            (n0, p0), (n1, p1) = peaks[0], peaks[-1]
            growth = f"{(p1 - p0) / 2**20 / ((n1 - n0) / 1e6):+,.1f} MiB"
        table.add_row(label, *cells, growth)
    return table


def _median(values: list):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


@contextmanager
def _fresh_store(backend: str, work: Path, pg_admin: str):
    """The URL of an empty store on a backend, removed afterwards."""
    if backend == "sqlite":
        path = work / f"bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for leftover in work.glob(path.name + "*"):
                leftover.unlink()
        return
    import psycopg

    admin = pg_admin.replace("+psycopg", "")
    name = f"tessera_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child-run":
        run_one(*sys.argv[2:])
    else:
        main()
