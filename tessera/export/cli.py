"""CLI for exports: `tessera export clusters|ftm|i2|graphml|gexf|report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tessera.cli_common import (EXIT_DENIED, EXIT_ERROR, DbOption, JsonOption, emit_json, fail, open_store,
                                out, purpose_of)
from tessera.export.clusters import CLUSTER_COLUMNS, cluster_rows
from tessera.export.csvsafe import write_csv
from tessera.export.ftm import export_ftm
from tessera.export.graph import export_graph
from tessera.export.i2 import export_i2
from tessera.export.report import ReportUnavailable, export_report
from tessera.export.selection import ExportRefused

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


AsOption = Annotated[str, typer.Option("--as", help="The user the export is made for (their access applies)")]
OutOption = Annotated[Path, typer.Option("--out", help="File to write (a directory for i2)")]
EntityOption = Annotated[list[str] | None, typer.Option("--entity", help="Only these entities and what links to them (repeatable)")]
PurposeOption = Annotated[str | None, typer.Option("--purpose", help="Why: recorded in the audit log")]
AgencyOption = Annotated[str | None, typer.Option("--for-agency", help="Sanitised release: only what this agency's users could see")]


def _stated_purpose(store, user: str, purpose: str | None, as_json: bool) -> str | None:
    """The purpose given, or exit 2 when the user's role must state one (tessera/access/purpose.yml)."""
    from tessera.access.identity import NotFound, get_user

    try:
        with store.engine.connect() as connection:
            found = get_user(connection, user)
    except NotFound:
        return purpose  # the export itself refuses an unknown user
    return purpose_of(found, purpose, as_json)


def _run(kind: str, user: str, out_path: Path, entity: list[str] | None, purpose: str | None,
         for_agency: str | None, db: str | None, as_json: bool) -> None:
    store = open_store(db)
    purpose = _stated_purpose(store, user, purpose, as_json)
    try:
        if kind in ("graphml", "gexf"):
            summary = export_graph(store, user, out_path, kind, entity or None, purpose, for_agency)
        else:
            fn = dict(ftm=export_ftm, i2=export_i2, report=export_report)[kind]
            summary = fn(store, user, out_path, entity or None, purpose, for_agency)
    except ExportRefused as exc:
        fail(str(exc), EXIT_DENIED, as_json)
    except ReportUnavailable as exc:
        fail(str(exc), EXIT_ERROR, as_json)
    finally:
        store.close()
    if as_json:
        emit_json(summary)
        return
    line = (f"wrote {summary['entities']:,} entities ({summary['statements']:,} values) to {out_path} "
            f"for {user}, marked {summary['marking']}")
    if summary["for_agency"]:
        line += f"; released to {summary['for_agency']}, {summary['withheld_statements']:,} value(s) withheld"
    out.print(line, highlight=False)


def _command(kind: str, doc: str):
    def command(user: AsOption, out_path: OutOption, entity: EntityOption = None, purpose: PurposeOption = None,
                for_agency: AgencyOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
        _run(kind, user, out_path, entity, purpose, for_agency, db, as_json)
    command.__doc__ = doc
    export_app.command(kind)(command)


_command("ftm", "FollowTheMoney JSON lines with each value's provenance and marking (and a manifest).")
_command("i2", "i2-friendly entities.csv and links.csv with marking and grading columns, in the --out directory.")
_command("graphml", "GraphML of the visible subgraph, nodes and edges marked.")
_command("gexf", "GEXF of the visible subgraph (for Gephi), nodes and edges marked.")
_command("report", "Case report for prosecutors: HTML, or PDF when --out ends in .pdf.")


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
