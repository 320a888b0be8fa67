"""Load-test the HTTP API on loopback: search and profile against a store of 1M entities, req/s and latency."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

os.environ.setdefault("TESSERA_ARGON2_TIME_COST", "1")
os.environ.setdefault("TESSERA_ARGON2_MEMORY_KIB", "1024")

RESULTS = Path(__file__).parent / "results" / "api.json"
TARGET_RPS, TARGET_P95_MS = 500.0, 50.0
AGENCIES = [("UKPOL", "GB"), ("FRPOL", "FR"), ("MI", "GB"), ("NCA", "GB")]
# (classification, caveat) and their share of entities
MARKINGS = [(("OFFICIAL", None), 0.6), (("OFFICIAL-SENSITIVE", None), 0.25), (("SECRET", "UK EYES ONLY"), 0.15)]
SYLLABLES = ("ka ri mo ha me da sa li na ra ta vi ko pe tre en ai bu zu lo fa di jo mi su ba go ne xa "
             "yu we ro si le ma to ha ki no").split()
console = Console(width=None if sys.stdout.isatty() else 170)


def word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def name_pools(seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    first = sorted({word(rng, rng.choice((2, 3))) for _ in range(4000)})
    last = sorted({word(rng, rng.choice((3, 4))) for _ in range(60000)})
    return first, last


def person(i: int, first: list[str], last: list[str]) -> tuple[str, str, str, str]:
    """Deterministic synthetic person i: name, birth date, E.164 phone, nationality."""
    rng = random.Random(i * 7919 + 13)
    name = f"{first[rng.randrange(len(first))]} {last[rng.randrange(len(last))]}"
    dob = f"{1950 + rng.randrange(55)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}"
    phone = f"+447700{i % 1_000_000:06d}"  # unique per person below 1M
    return name, dob, phone, rng.choice(("GB", "FR", "IQ", "IR", "AL", "ER", "SY", "AF"))


def marking_of(i: int) -> tuple[str, str | None]:
    x = (i * 2654435761 % 1000) / 1000
    acc = 0.0
    for marking, share in MARKINGS:
        acc += share
        if x < acc:
            return marking
    return MARKINGS[-1][0]


def generate(url: str, n: int, seed: int) -> dict:
    """Agencies, users with tokens, and n Person entities (4 statements each) written straight into the store;
    every tenth entity shares a canonical id with the next one (resolved across agencies)."""
    from sqlalchemy import insert, update

    from tessera.access import identity
    from tessera.store import tables
    from tessera.store.store import Store

    store = Store.open(url)
    started = time.perf_counter()
    first, last = name_pools(seed)
    with store.engine.begin() as conn:
        for code, country in AGENCIES:
            identity.add_agency(conn, code, country, contact=f"{code} duty desk")
        identity.add_user(conn, "bench-uk", "UKPOL", "SECRET", "bench-pw")
        identity.add_user(conn, "bench-fr", "FRPOL", "SECRET", "bench-pw")
    batches = {}
    now = datetime.now(timezone.utc)
    with store.engine.begin() as conn:
        for code, _ in AGENCIES:
            batches[code] = conn.execute(insert(tables.batches).values(
                agency=code, file_name=f"{code.lower()}-bench.csv", file_format="csv",
                content_sha256=os.urandom(16).hex(), mapping_sha256="0" * 64, received_at=now,
                classification="OFFICIAL")).inserted_primary_key[0]
    chunk = 50_000
    agencies = [a for a, _ in AGENCIES]
    for start in range(0, n, chunk):
        rows, ents = [], []
        for i in range(start, min(n, start + chunk)):
            agency = agencies[i % len(agencies)]
            batch = batches[agency]
            eid = f"{agency.lower()}-p{i}"
            classification, caveat = marking_of(i)
            name, dob, phone, nat = person(i, first, last)
            for prop, prop_type, value in (("name", "name", name), ("birthDate", "date", dob),
                                           ("phone", "phone", phone), ("nationality", "country", nat.lower())):
                rows.append((batch, eid, "Person", prop, prop_type, value, value, None, i + 1, agency,
                             classification, caveat, None, "1A"))
            ents.append(dict(id=eid, schema="Person", agency=agency, batch_id=batch, record_no=i + 1))
        with store.engine.begin() as conn, store.bulk_load(conn):
            store.copy_statements(conn, rows)
            store.add_entities(conn, ents)
        console.print(f"  generated {min(n, start + chunk):,} / {n:,} entities", end="\r")
    e = tables.entities
    with store.engine.begin() as conn:
        pairs = [dict(a=f"{agencies[i % 4].lower()}-p{i}", b=f"{agencies[(i + 1) % 4].lower()}-p{i + 1}",
                      c=f"c-{i}") for i in range(0, n - 1, 10)]
        for p in pairs:
            conn.execute(update(e).where(e.c.id.in_([p["a"], p["b"]])).values(canonical_id=p["c"]))
    generated = time.perf_counter() - started
    from tessera.api import search_index
    indexed = search_index.refresh(store)
    store.close()
    return dict(generate_s=round(generated, 1), index_s=indexed["seconds"], index_keys=indexed["keys"])


def complete(url: str, n: int) -> bool:
    """Whether a cached store holds all n generated entities (a run stopped while generating leaves fewer)."""
    from sqlalchemy import func, select

    from tessera.store import tables
    from tessera.store.store import Store
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(tables.entities)).scalar() == n
    finally:
        store.close()


def catch_up(url: str) -> dict:
    """Key whatever statements the search index has not (nothing, when the store was generated in one go)."""
    from tessera.api import search_index
    from tessera.store.store import Store
    store = Store.open(url)
    try:
        return search_index.refresh(store)
    finally:
        store.close()


def tokens(url: str) -> dict[str, str]:
    from tessera.access import identity
    from tessera.store.store import Store
    store = Store.open(url)
    with store.engine.begin() as conn:
        out = {u: identity.create_token(conn, u, days=1).token for u in ("bench-uk", "bench-fr")}
    store.close()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(url: str, port: int, workers: int) -> subprocess.Popen:
    code = ("import uvicorn; uvicorn.run('tessera.api.app:create_app', factory=True, host='127.0.0.1', "
            f"port={port}, workers={workers}, log_level='warning', access_log=False)")
    # The alert pump would spend the run deconflicting the 1M generated entities (a one-off catch-up that
    # holds SQLite's write lock); the bench measures reads, so the server runs without it.
    env = dict(os.environ, TESSERA_DB=url, TESSERA_ALERT_PUMP_SECONDS="0")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the server exited")
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; (status, whether the server keeps the connection open)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *lines = head.split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, fields.get("connection", "").lower() != "close"


async def load(port: int, token: str, paths: list[str], seconds: float, concurrency: int) -> dict:
    """`concurrency` keep-alive connections, each sending its next GET as soon as the last answer is read.

    A bare asyncio HTTP/1.1 client rather than httpx: the load generator shares the machine's cores with the
    server, and httpx spends several times more CPU per request than this does; what is measured is the server.
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop = time.perf_counter() + seconds
    prefix = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"

    async def worker(k: int):
        rng = random.Random(k)
        reader = writer = None
        while time.perf_counter() < stop:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            path = rng.choice(paths)
            t0 = time.perf_counter()
            try:
                writer.write(f"GET {path} HTTP/1.1\r\n{prefix}".encode())
                status, keep = await asyncio.wait_for(_read_response(reader), 30)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                status, keep = 0, False  # 0: no answer (timed out or connection lost)
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            if not keep:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - t0
    lat = np.array(latencies) if latencies else np.array([float("nan")])
    return dict(requests=len(latencies), rps=round(len(latencies) / elapsed, 1),
                p50_ms=round(float(np.percentile(lat, 50)), 2), p95_ms=round(float(np.percentile(lat, 95)), 2),
                p99_ms=round(float(np.percentile(lat, 99)), 2), errors=sum(v for k, v in statuses.items() if k != 200),
                statuses={str(k): v for k, v in sorted(statuses.items())})


async def load_at_rate(port: int, token: str, paths: list[str], seconds: float, rate: float,
                       connections: int = 64) -> dict:
    """Open loop: one request due every 1/rate s for `seconds`, whatever the pace of the answers, over at most
    `connections` keep-alive connections. Latency runs from when a request was due, not from when it was sent,
    so a server that falls behind is charged for the queue it causes (no coordinated omission)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    idle: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(None)  # a free slot; its connection is opened on first use
    prefix = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    rng = random.Random(1)

    async def one(path: str, due: float):
        conn = await idle.get()
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port)
            reader, writer = conn
            writer.write(f"GET {path} HTTP/1.1\r\n{prefix}".encode())
            status, keep = await asyncio.wait_for(_read_response(reader), 30)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError):
            status, keep = 0, False
        latencies.append((time.perf_counter() - due) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if not keep and conn is not None:
            conn[1].close()
        idle.put_nowait(conn if keep else None)

    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(int(seconds * rate)):
        due = start + i / rate
        if due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())
        tasks.append(asyncio.create_task(one(rng.choice(paths), due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not idle.empty():
        conn = idle.get_nowait()
        if conn is not None:
            conn[1].close()
    lat = np.array(latencies)
    answered = statuses.get(200, 0)
    return dict(requests=len(latencies), rps=round(answered / elapsed, 1), offered_rps=rate,
                p50_ms=round(float(np.percentile(lat, 50)), 2), p95_ms=round(float(np.percentile(lat, 95)), 2),
                p99_ms=round(float(np.percentile(lat, 99)), 2), errors=len(latencies) - answered,
                statuses={str(k): v for k, v in sorted(statuses.items())})


WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
math.randomseed(7)
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %.3f %.3f %.3f\\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def find_wrk(install: bool) -> str | None:
    """The wrk binary; installed with apt-get when missing and `install` (as root, on Debian), else None."""
    found = shutil.which("wrk")
    if found or not install:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        console.print("wrk is not installed: installing it (apt-get install -y wrk) ...")
        done = subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, text=True)
        if done.returncode != 0:
            console.print(f"[red]apt-get install wrk failed:[/red] {done.stderr.strip()[-300:]}")
    return shutil.which("wrk")


def load_wrk(wrk: str, port: int, token: str, paths: list[str], seconds: float, concurrency: int) -> dict:
    """`concurrency` keep-alive connections driven by wrk (C, one thread), each path drawn at random from `paths`."""
    with tempfile.TemporaryDirectory() as tmp:
        script, listing = Path(tmp) / "paths.lua", Path(tmp) / "paths.txt"
        script.write_text(WRK_SCRIPT)
        listing.write_text("\n".join(paths) + "\n")
        done = subprocess.run([wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
                               "-s", str(script), f"http://127.0.0.1:{port}"],
                              env=dict(os.environ, BENCH_PATHS=str(listing), BENCH_TOKEN=token),
                              capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    requests, micros, *errors = (int(x) for x in line.split()[1:8])
    p50, p95, p99 = (float(x) for x in line.split()[8:])
    bad = sum(errors)
    return dict(requests=requests, rps=round(requests / (micros / 1e6), 1), p50_ms=round(p50, 2),
                p95_ms=round(p95, 2), p99_ms=round(p99, 2), errors=bad,
                statuses={"200 (2xx/3xx)": requests - errors[3], "other or none": bad})


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (Linux /proc; 0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(server: subprocess.Popen) -> list[int]:
    """The server process and its uvicorn workers."""
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    except OSError:
        children = []
    return [server.pid] + [int(c) for c in children]


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used so far, all cores together (Linux /proc/stat; 0 elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure(client: str, port: int, token: str, paths: list[str], seconds: float, concurrency: int,
            pids: list[int]) -> dict:
    """One measured run, with the CPU time per request the server and the load generator spent, and the cores that
    everything else on the machine kept busy meanwhile (the machine is shared: a run with other work is slower)."""
    server0, own0, busy0, wall0 = cpu_seconds(pids), time.process_time(), machine_busy_seconds(), time.perf_counter()
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if client == "rate":
        result = asyncio.run(load_at_rate(port, token, paths, seconds, TARGET_RPS))
    elif client == "python":
        result = asyncio.run(load(port, token, paths, seconds, concurrency))
    else:
        result = load_wrk(client, port, token, paths, seconds, concurrency)
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (time.process_time() - own0) + (child1.ru_utime - child0.ru_utime) + (child1.ru_stime - child0.ru_stime)
    n = max(1, result["requests"])
    server = cpu_seconds(pids) - server0
    others = machine_busy_seconds() - busy0 - server - spent
    return result | dict(server_cpu_ms=round(1000 * server / n, 2), client_cpu_ms=round(1000 * spent / n, 3),
                         other_cores=round(max(0.0, others) / (time.perf_counter() - wall0), 2),
                         load_average=[round(x, 2) for x in os.getloadavg()])


def kept_up(r: dict) -> bool:
    """The target: >= TARGET_RPS answered per second, p95 <= TARGET_P95_MS, no errors. The open-loop run offers
    exactly TARGET_RPS and times each request from when it was due, so a server that cannot keep that pace builds
    a queue and fails on p95; its rate is not also docked for the last answers running past the nominal seconds."""
    rate_ok = r["rps"] >= TARGET_RPS or r.get("offered_rps", 0) >= TARGET_RPS
    return rate_ok and r["p95_ms"] <= TARGET_P95_MS and r["errors"] == 0


def scenarios(n: int, seed: int, probes: int) -> dict[str, list[str]]:
    from urllib.parse import quote
    first, last = name_pools(seed)
    rng = random.Random(seed + 1)
    picks = [rng.randrange(n) for _ in range(probes)]
    agencies = [a.lower() for a, _ in AGENCIES]
    names = [quote(person(i, first, last)[0]) for i in picks]
    phones = [quote(f"07700 {i % 1_000_000:06d}") for i in picks]  # the national spelling of +447700...
    return {
        "search (name)": [f"/api/v1/search?q={q}" for q in names],
        "search (phone)": [f"/api/v1/search?q={q}" for q in phones],
        "profile": [f"/api/v1/entities/{agencies[i % 4]}-p{i}" for i in picks],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per scenario")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--db", help="store URL (default: an SQLite file in the temp directory, reused)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--probes", type=int, default=2000, help="distinct queries per scenario")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator: wrk (C; installed with apt-get if missing), the Python one, or wrk "
                             "when it can be had and Python otherwise")
    args = parser.parse_args()
    client = "python"
    if args.client != "python":
        wrk = find_wrk(install=True)
        if wrk is None and args.client == "wrk":
            sys.exit("wrk is not installed and could not be installed (apt-get install wrk)")
        if wrk is None:
            console.print("[yellow]wrk is missing and could not be installed: using the Python load generator, "
                          "which spends more of the machine's CPU per request[/yellow]")
        client = wrk or "python"

    path = Path(tempfile.gettempdir()) / f"tessera-bench-api-{args.entities}-{args.seed}.db"
    url = args.db or f"sqlite:///{path}"
    setup = {}
    if args.db is None and path.exists() and complete(url, args.entities):
        console.print(f"reusing the store of {args.entities:,} entities")
    else:
        console.print(f"generating {args.entities:,} entities ...")
        if args.db is None:
            for p in path.parent.glob(path.name + "*"):
                p.unlink()
        try:
            setup = generate(url, args.entities, args.seed)
        except BaseException:
            if args.db is None:
                path.unlink(missing_ok=True)
            raise
        console.print(f"generated in {setup['generate_s']} s, search index built in {setup['index_s']} s "
                      f"({setup['index_keys']:,} keys)")
    setup["index_catch_up"] = catch_up(url)  # a run stopped while indexing left part of the index unbuilt
    token = tokens(url)["bench-uk"]
    port = free_port()
    server = serve(url, port, args.workers)
    pids = server_pids(server)
    results = {}
    try:
        for label, paths in scenarios(args.entities, args.seed, args.probes).items():
            measure(client, port, token, paths, min(3.0, args.seconds), args.concurrency, pids)  # warm up
            results[label] = runs = {}
            for run, how in (("as fast as it answers", client), (f"at {TARGET_RPS:.0f} req/s", "rate")):
                runs[run] = r = measure(how, port, token, paths, args.seconds, args.concurrency, pids)
                console.print(f"  {label}, {run}: {r['rps']} req/s, p95 {r['p95_ms']} ms (server CPU "
                              f"{r['server_cpu_ms']} ms, load generator CPU {r['client_cpu_ms']} ms per request; "
                              f"other work {r['other_cores']} cores; "
                              f"load average {' '.join(f'{x:.2f}' for x in r['load_average'])})")
    finally:
        server.terminate()
        server.wait(timeout=30)

    client_name = "wrk" if client != "python" else "Python"
    table = Table(title=f"API on loopback, {args.entities:,} entities, {args.workers} worker(s), {os.cpu_count()} "
                        f"cores; as fast as it answers: {args.concurrency} connections ({client_name}); at "
                        f"{TARGET_RPS:.0f} req/s: open loop (Python), latency from when each request was due")
    for col in ("scenario", "load", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "server CPU ms/req",
                "other cores", "load avg", "target met"):
        table.add_column(col, justify="left" if col in ("scenario", "load") else "right")
    for label, runs in results.items():
        for run, r in runs.items():
            met = kept_up(r)
            r["target_met"] = met
            table.add_row(label, run, f"{r['requests']:,}", f"{r['rps']:,.0f}", f"{r['p50_ms']:.1f}",
                          f"{r['p95_ms']:.1f}", f"{r['p99_ms']:.1f}", str(r["errors"]), f"{r['server_cpu_ms']:.2f}",
                          f"{r['other_cores']:.2f}", f"{r['load_average'][0]:.2f}", "yes" if met else "no")
    console.print(table)
    try:
        load_avg = os.getloadavg()
    except OSError:
        load_avg = None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(
        entities=args.entities, statements=args.entities * 4, seconds=args.seconds, concurrency=args.concurrency,
        workers=args.workers, client=client_name, cores=os.cpu_count(), machine=platform.platform(), load_average=load_avg,
        backend=url.split(":", 1)[0], targets=dict(rps=TARGET_RPS, p95_ms=TARGET_P95_MS), setup=setup,
        results=results), indent=2) + "\n")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
