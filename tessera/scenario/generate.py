"""Generate a scenario directory: every holder's exports and mappings, the manifest and the truth."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tessera.scenario.holders import Holders
from tessera.scenario.world import World
from tessera.scenario.writer import Truth


def generate(out: str | Path, people: int, seed: int = 1) -> dict:
    """Write the world for (people, seed) under `out`; returns a summary (files, rows, seconds)."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    truth = Truth(root)
    holders = Holders(root, truth, seed)
    world = World(seed, people, holders, truth)
    try:
        world.run()
    finally:
        truth.close()
    manifest = holders.manifest()
    rows = {}
    for h in holders.all:
        for rel, sink in h.sinks.items():
            rows[rel] = sink.rows
    for entry in manifest:
        entry["rows"] = rows[entry["file"]]
    (root / "manifest.json").write_text(json.dumps({"seed": seed, "people": people, "files": manifest},
                                                   indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"out": str(root), "seed": seed, "people": world.count, "networks": len(world.nets),
            "crossings": world.n_cross, "links": world.n_links, "files": len(manifest),
            "rows": sum(rows.values()), "seconds": round(time.perf_counter() - t0, 2)}
