"""CLI for exports: `tessera export clusters`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tessera.cli_common import DbOption, JsonOption, emit_json, open_store, out
from tessera.export.clusters import CLUSTER_COLUMNS, cluster_rows
from tessera.export.csvsafe import write_csv

export_app = typer.Typer(help="Export what Tessera holds.", no_args_is_help=True)


@export_app.command("clusters")
def export_clusters(
    out_path: Annotated[Path, typer.Option("--out", help="CSV file to write")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """One row per source entity: agency,file,row,schema,source_id,canonical_id."""
    store = open_store(db)
    with open(out_path, "w", newline="", encoding="utf-8") as fh:
        count = write_csv(fh, CLUSTER_COLUMNS, cluster_rows(store))
    if as_json:
        emit_json({"out": str(out_path), "rows": count})
    else:
        out.print(f"wrote {count:,} source entities to {out_path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
