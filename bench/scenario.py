"""Benchmark: time to generate the synthetic world at 100k (and optionally 1M) people; writes bench/results/scenario.json."""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
from pathlib import Path

from tessera.scenario.generate import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--million", action="store_true", help="also generate 1,000,000 people")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sizes = [10_000, 100_000] + ([1_000_000] if args.million else [])
    results = []
    for n in sizes:
        out = Path(tempfile.mkdtemp(prefix="tessera-scenario-"))
        try:
            s = generate(out, n, args.seed)
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        finally:
            shutil.rmtree(out, ignore_errors=True)
        s.update(bytes=size, max_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
        s.pop("out")
        results.append(s)
        print(f"{n:>10,} people  {s['seconds']:>7.2f} s  {s['rows']:>10,} rows  {s['links']:>10,} links  "
              f"{size / 1e6:>8.1f} MB  max RSS {s['max_rss_mb']} MB", flush=True)
    dest = Path(__file__).parent / "results" / "scenario.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps({"benchmark": "scenario generate", "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
