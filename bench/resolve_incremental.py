"""Benchmark: a batch of new Person records resolved against everything already resolved, warm (LiveIndex) and
by a `--changed` run, side by side on the same synthetic world; and single records resolved warm, one by one.

    .venv/bin/python bench/resolve_incremental.py --people 100000 --seed 5 [--batch 1000] [--singles 50]
        [--modes warm,changed,api]   (some of the modes: printed, not written)

The world is generated and ingested as bench/resolve.py does (and shares its --work cache), resolved in full,
then `batch + singles` random Person records are made new again (their canonical ids cleared). Each mode runs
in its own child process on its own copy of the store: time, peak RSS and accuracy on the whole world after
the batch. A third mode, `api`, runs `tessera serve` on the fully resolved store and, `singles` times, ingests
one new record (a copy of a random Person's values under a new id) and times POST /api/v1/resolve over HTTP
(the warm resolver is built by a first, untimed call). Prints a table and writes
bench/results/resolve_incremental.json.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from resolve import ingest_world, score, truth_of_persons  # noqa: E402  (the same world and scoring)

RESULTS = Path(__file__).with_name("results") / "resolve_incremental.json"
MODES = ("warm", "changed", "api")


def hold_back(db: str, count: int, seed: int) -> list[str]:
    from sqlalchemy import select, update

    from tessera.resolve.engine import resolve
    from tessera.store import tables
    from tessera.store.store import Store

    store = Store.open(db)
    e = tables.entities
    with store.engine.connect() as conn:
        if conn.execute(select(e.c.id).where(e.c.canonical_id.is_not(None)).limit(1)).first() is None:
            resolve(store)
        people = sorted(conn.execute(select(e.c.id).where(e.c.schema == "Person")).scalars())
    held = random.Random(seed).sample(people, count)
    with store.engine.begin() as conn:
        for k in range(0, len(held), 5000):
            conn.execute(update(e).where(e.c.id.in_(held[k:k + 5000])).values(canonical_id=None))
    return held


def child(mode: str, db: str, world: str, held_json: str, batch: int) -> None:
    from sqlalchemy import func, select

    from tessera.resolve.engine import resolve
    from tessera.resolve.live import LiveIndex
    from tessera.store import tables
    from tessera.store.store import Store

    held = json.loads(Path(held_json).read_text())
    store = Store.open(db)
    out: dict = {}
    t0 = time.perf_counter()
    if mode == "warm":
        index = LiveIndex(store)
        out["index_build_s"] = round(time.perf_counter() - t0, 2)
        t1 = time.perf_counter()
        result = index.resolve_new(store, held[:batch])
        out["batch_s"] = round(time.perf_counter() - t1, 3)
        singles = []
        for eid in held[batch:]:
            t2 = time.perf_counter()
            index.resolve_new(store, [eid])
            singles.append((time.perf_counter() - t2) * 1000)
        if singles:
            singles.sort()
            out["single_p50_ms"] = round(singles[len(singles) // 2], 1)
            out["single_p95_ms"] = round(singles[min(len(singles) - 1, int(len(singles) * 0.95))], 1)
    else:
        result = resolve(store, changed=True)
        out["batch_s"] = round(time.perf_counter() - t0, 3)
    out.update(pairs_scored=result.pairs_scored, feed={k: v for k, v in result.feed.items() if k != "run_id"},
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    with store.engine.connect() as conn:
        assign = dict(conn.execute(select(tables.entities.c.id,
                                          func.coalesce(tables.entities.c.canonical_id, tables.entities.c.id))).all())
    truth, culture = truth_of_persons(store, Path(world))
    s = score(assign, truth, culture, None)
    out.update({k: s[k] for k in ("pairwise_precision", "pairwise_recall", "pairwise_f1", "cluster_f1")})
    print(json.dumps(out))


def api_child(db: str, singles: int, seed: int) -> dict:
    """One new record at a time through the HTTP API: ingest it (not timed), then time POST /api/v1/resolve."""
    import httpx
    from sqlalchemy import select

    from api import free_port, serve
    from tessera.access import identity
    from tessera.intake.pipeline import ingest_file
    from tessera.store import tables
    from tessera.store.store import Store

    store = Store.open(db)
    with store.engine.begin() as conn:
        if conn.execute(select(tables.agencies.c.code).where(tables.agencies.c.code == "BF")).first() is None:
            identity.add_agency(conn, "BF", "GB", contact="BF duty desk")
        identity.add_user(conn, "bench-supervisor", "BF", "TOP-SECRET", "bench-pw", roles=("supervisor",))
        token = identity.create_token(conn, "bench-supervisor", days=1).token
        s = tables.statements
        people = sorted(conn.execute(select(tables.entities.c.id).where(tables.entities.c.schema == "Person"))
                        .scalars())
        sources = random.Random(seed).sample(people, singles)
        values: dict[str, dict[str, list[str]]] = {eid: {} for eid in sources}
        for eid, prop, value in conn.execute(select(s.c.entity_id, s.c.prop, s.c.value)
                                             .where(s.c.entity_id.in_(sources), s.c.prop_type != "entity")):
            values[eid].setdefault(prop, []).append(value)
    port = free_port()
    server = serve(db, port, 1)
    latencies = []
    incoming = Path(tempfile.mkdtemp(prefix="tessera-incoming-"))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=600,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            t0 = time.perf_counter()
            first = client.post("/resolve", params={"wait": 600})  # builds the warm resolver: a minute at 1M
            first.raise_for_status()
            if first.json()["state"] != "done":
                raise RuntimeError(f"building the warm resolver took over 600 s: {first.json()}")
            build_s = time.perf_counter() - t0
            for k, eid in enumerate(sources):
                path = incoming / f"arrival-{k}.ftm.jsonl"
                path.write_text(json.dumps({"id": f"arrival-{k}", "schema": "Person", "properties": values[eid]}) + "\n")
                ingest_file(store, path, "BF", None)
                t1 = time.perf_counter()
                answer = client.post("/resolve")
                latencies.append((time.perf_counter() - t1) * 1000)
                answer.raise_for_status()
                if answer.json()["mode"] != "warm":
                    raise RuntimeError(f"POST /resolve went through a {answer.json()['mode']} run, not the warm one")
    finally:
        server.terminate()
        server.wait()
    e = tables.entities
    with store.engine.connect() as conn:  # how many arrivals joined the record they copy
        canon = dict(conn.execute(select(e.c.id, e.c.canonical_id).where(
            e.c.id.in_(sources + [f"bf.arrival-{k}" for k in range(singles)]))).all())
    joined = sum(canon[f"bf.arrival-{k}"] == canon[eid] for k, eid in enumerate(sources))
    latencies.sort()
    return {"index_build_s": round(build_s, 2), "single_p50_ms": round(latencies[len(latencies) // 2], 1),
            "single_p95_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))], 1),
            "singles": singles, "joined_their_original": joined}


def run_child(*args: str) -> str:
    """This script run as a child with `args`; its stdout. A child that fails has its stderr shown (the error
    is in it), then stops the bench."""
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr[-20_000:])
        raise SystemExit(f"child {args[0]} failed with exit status {done.returncode}")
    return done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--singles", type=int, default=50)
    ap.add_argument("--work", type=Path, default=None, help="where worlds and stores are kept (reused)")
    ap.add_argument("--modes", default=",".join(MODES),
                    help="which modes to run, comma-separated (results are written only when all run)")
    args = ap.parse_args()
    modes = args.modes.split(",")
    if not modes or set(modes) - set(MODES):
        ap.error(f"--modes takes some of {', '.join(MODES)}, not {args.modes!r}")
    work = args.work or Path(tempfile.mkdtemp(prefix="tessera-incr-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    world, db = ingest_world(args.people, args.seed, work)
    base = Path(db.removeprefix("sqlite:///"))
    scratch = Path(tempfile.mkdtemp(prefix="tessera-incr-run-"))
    results = {}
    for mode in [m for m in ("warm", "changed") if m in modes]:
        copy = scratch / f"{mode}.db"
        shutil.copy(base, copy)
        held = hold_back(f"sqlite:///{copy}", args.batch + (args.singles if mode == "warm" else 0), args.seed)
        held_json = scratch / f"{mode}-held.json"
        held_json.write_text(json.dumps(held))
        line = run_child("--child", mode, f"sqlite:///{copy}", str(world), str(held_json), str(args.batch))
        results[mode] = json.loads(line.strip().splitlines()[-1])
    if "api" in modes:
        copy = scratch / "api.db"
        shutil.copy(base, copy)
        hold_back(f"sqlite:///{copy}", 0, args.seed)  # resolved in full first, as the other modes' stores are
        line = run_child("--api-child", f"sqlite:///{copy}", str(args.singles), str(args.seed))
        results["api"] = json.loads(line.strip().splitlines()[-1])
    prepared = round(time.perf_counter() - t0, 1)
    columns = ["index_build_s", "batch_s", "single_p50_ms", "single_p95_ms", "pairs_scored", "pairwise_precision",
               "pairwise_recall", "pairwise_f1", "cluster_f1", "peak_rss_mb"]
    print(f"\n{args.batch:,} new Person records against {args.people:,} scenario people (seed {args.seed})")
    print(f"{'mode':<10}" + "".join(f"{c:>20}" for c in columns))
    for mode, r in results.items():
        print(f"{mode:<10}" + "".join(f"{str(r.get(c, '-')):>20}" for c in columns))
    out = dict(people=args.people, seed=args.seed, batch=args.batch, singles=args.singles, results=results,
               seconds_all=prepared, load_average=open("/proc/loadavg").read().split()[:3],
               measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    if set(modes) != set(MODES):  # the file keeps every mode of one run, not a mix of runs
        print(f"not written to {RESULTS}: only {args.modes} ran")
        return
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6], int(sys.argv[6]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--api-child":
        print(json.dumps(api_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
