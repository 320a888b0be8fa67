"""`tessera demo`: generate a small synthetic world, ingest every holder's exports, and summarise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select

from tessera.cli_common import DbOption, JsonOption, emit_json, out
from tessera.intake.pipeline import BatchMarking, ingest_file
from tessera.resolve.engine import resolve
from tessera.resolve.evaluate import evaluate
from tessera.scenario.generate import generate
from tessera.store import tables
from tessera.store.store import Store, resolve_url


def run_demo(store: Store, world: Path, people: int, seed: int) -> dict:
    generate(people=people, seed=seed, out=world)
    manifest = json.loads((world / "manifest.json").read_text())
    results = []
    for item in manifest["files"]:
        marking = BatchMarking.make(item.get("classification"), item.get("caveat"), item.get("release_to"),
                                    item.get("grading"))
        mapping = world / item["mapping"] if item.get("mapping") else None
        results.append(ingest_file(store, world / item["file"], item["holder"], mapping, marking).as_dict())
    resolved = resolve(store).as_dict()
    scores = evaluate(store, world)["schemas"]
    return {"world": str(world), "store": store.url, "batches": results, "resolve": resolved,
            "evaluation": scores}


def demo(
    people: Annotated[int, typer.Option(help="People in the synthetic world")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the world")] = 7,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to write the world (default demo/world)")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Generate a synthetic multi-agency world, ingest it and print what was found."""
    world = out_dir or Path("demo") / "world"
    if db is None:
        Path("demo").mkdir(exist_ok=True)
    store = Store.open(db or resolve_url("demo/tessera.db"))
    summary = run_demo(store, world, people, seed)
    with store.engine.connect() as conn:
        by_schema = conn.execute(select(tables.entities.c.schema, func.count())
                                 .group_by(tables.entities.c.schema).order_by(func.count().desc())).all()
    summary["entities_by_schema"] = dict(by_schema)
    if as_json:
        emit_json(summary)
        return
    table = Table("holder", "file", "records", "statements", "entities", "quarantined", "warnings",
                  title=f"Tessera demo: {people:,} people, seed {seed}")
    for b in summary["batches"]:
        table.add_row(b["agency"], b["file"], f"{b['records']:,}", f"{b['statements']:,}", f"{b['entities']:,}",
                      f"{b['quarantined']:,}", f"{b['warnings']:,}")
    out.print(table)
    schemas = ", ".join(f"{name} {count:,}" for name, count in by_schema)
    out.print(f"source entities: {schemas}", highlight=False)
    r = summary["resolve"]
    out.print(f"resolved: {r['clusters']:,} canonical entities ({r['multi_clusters']:,} joining records "
              f"across files or agencies, largest {r['largest_cluster']}), {r['pairs_scored']:,} pairs scored",
              highlight=False)
    scores = Table("schema", "precision", "recall", "pairwise F1", "cluster F1", title="against the world's truth")
    for schema, m in summary["evaluation"].items():
        if m.get("true_pairs"):
            scores.add_row(schema, *(f"{m.get(k, 0):.3f}" for k in ("pairwise_precision", "pairwise_recall", "pairwise_f1", "cluster_f1")))
    out.print(scores)
    out.print(f"world written to {world}; store {store.url}", highlight=False)
    out.print(f"next: tessera quarantine list --db {store.url}\n      tessera evaluate --truth {world} --db {store.url}\n"
              f"      tessera export clusters --out clusters.csv --db {store.url}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
