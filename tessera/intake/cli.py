"""CLI for intake: `tessera ingest` and `tessera quarantine list|show|retry`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from tessera.alerts.pump import after_batch
from tessera.cli_common import (EXIT_NOT_FOUND, EXIT_REFUSED, DbOption, JsonOption, console, emit_json, fail,
                                open_store, out, record_cli_audit)
from tessera.intake.pipeline import BatchMarking, IngestRefused, ingest_file
from tessera.intake.quarantine import RetryFailed, retry_quarantined
from tessera.model.markings import classifications
from tessera.store import tables

quarantine_app = typer.Typer(help="Rows that could not make their entities: list, show, retry.", no_args_is_help=True)


def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV, JSON lines, XLSX or FtM entity stream files")],
    agency: Annotated[str, typer.Option("--agency", help="Code of the agency that holds these records")],
    mapping: Annotated[Path | None, typer.Option("--mapping", help="FollowTheMoney mapping YAML (not for FtM streams)")] = None,
    classification: Annotated[str, typer.Option("--classification", help=" | ".join(classifications()))] = "OFFICIAL",
    caveat: Annotated[str | None, typer.Option("--caveat", help='National caveat, e.g. "UK EYES ONLY"')] = None,
    release_to: Annotated[str | None, typer.Option("--release-to", help="Agency or country codes, comma-separated")] = None,
    grading: Annotated[str | None, typer.Option("--grading", help="3x5x2 source/intelligence grading, e.g. 1A")] = None,
    handling: Annotated[str | None, typer.Option("--handling", help="3x5x2 handling code: P or C")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest agency exports; each file is one atomic, idempotent batch."""
    try:
        marking = BatchMarking.make(classification, caveat, release_to, grading, handling)
    except IngestRefused as exc:
        fail(str(exc), EXIT_REFUSED, as_json)
    store = open_store(db)
    if not as_json:
        console.print(f"store: {store.url}", highlight=False)
    results = []
    for path in files:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} rows"),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console,
                      disable=as_json, transient=True) as bar:
            task = bar.add_task(path.name, total=None, rate="")

            def progress(rows: int) -> None:
                elapsed = bar.tasks[0].elapsed or 1e-9
                bar.update(task, completed=rows, rate=f"{rows / elapsed:,.0f} rows/s")

            try:
                result = ingest_file(store, path, agency, mapping, marking, progress)
            except IngestRefused as exc:
                fail(f"refused, nothing written: {exc}", EXIT_REFUSED, as_json)
        record_cli_audit(store, "ingest", [f"agency:{agency}", f"batch:{result.batch_id}"], path.name)
        if not result.already_ingested:
            after_batch(store, result.batch_id)  # deconfliction notices and watch alerts; never raises
        results.append(result.as_dict())
        if not as_json:
            if result.already_ingested:
                out.print(f"{path.name}: already ingested as batch {result.batch_id} (same content and mapping)")
            else:
                rate = result.statements / result.seconds if result.seconds else 0
                out.print(f"{path.name}: batch {result.batch_id}: {result.records:,} records, "
                          f"{result.statements:,} statements, {result.entities:,} entities, "
                          f"{result.quarantined:,} quarantined, {result.warnings:,} warnings "
                          f"({rate:,.0f} statements/s)", highlight=False)
    if as_json:
        emit_json(results)


@quarantine_app.command("list")
def quarantine_list(
    status: Annotated[str, typer.Option(help="open, retried or all")] = "open",
    batch: Annotated[int | None, typer.Option(help="Only this batch")] = None,
    limit: int = 100,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Quarantined rows with file, record number, field and reason."""
    q = tables.quarantine
    query = select(q.c.id, q.c.batch_id, q.c.agency, q.c.file_name, q.c.record_no, q.c.field, q.c.reason,
                   q.c.status).order_by(q.c.id).limit(limit)
    if status != "all":
        query = query.where(q.c.status == status)
    if batch is not None:
        query = query.where(q.c.batch_id == batch)
    with open_store(db).engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "batch", "agency", "file", "row", "field", "reason", "status")
    for r in rows:
        table.add_row(*(str(r[k] if r[k] is not None else "") for k in
                        ("id", "batch_id", "agency", "file_name", "record_no", "field", "reason", "status")))
    out.print(table)


@quarantine_app.command("show")
def quarantine_show(item: int, db: DbOption = None, as_json: JsonOption = False) -> None:
    """One quarantined row in full, with the raw record as the file held it."""
    with open_store(db).engine.connect() as conn:
        row = conn.execute(select(tables.quarantine).where(tables.quarantine.c.id == item)).mappings().first()
    if row is None:
        fail(f"no quarantined row {item}", EXIT_NOT_FOUND, as_json)
    data = dict(row) | {"raw": json.loads(row["raw"])}
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        if key != "raw":
            out.print(f"[bold]{key}[/]: {value}", highlight=False)
    out.print("[bold]raw[/]:")
    for key, value in data["raw"].items() if isinstance(data["raw"], dict) else [("line", data["raw"])]:
        out.print(f"  {key}: {value!r}", highlight=False)


@quarantine_app.command("retry")
def quarantine_retry(
    item: int,
    set_values: Annotated[list[str] | None, typer.Option("--set", help="Correct a field first: FIELD=VALUE")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a quarantined row through its batch's mapping again, optionally corrected."""
    fixes = {}
    for item_text in set_values or []:
        if "=" not in item_text:
            fail(f"--set expects FIELD=VALUE, got {item_text!r}", EXIT_REFUSED, as_json)
        key, value = item_text.split("=", 1)
        fixes[key] = value
    store = open_store(db)
    try:
        result = retry_quarantined(store, item, fixes)
    except LookupError as exc:
        fail(str(exc), EXIT_NOT_FOUND, as_json)
    except RetryFailed as exc:
        fail(f"still cannot be ingested: {exc}", EXIT_REFUSED, as_json)
    record_cli_audit(store, "quarantine.retry", [f"quarantine:{item}", f"batch:{result.batch_id}"],
                     ", ".join(sorted(fixes)) or None)
    after_batch(store, result.batch_id)
    if as_json:
        emit_json(result.as_dict())
    else:
        out.print(f"quarantined row {item} ingested as batch {result.batch_id}: {result.statements} statements")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.add_typer(quarantine_app, name="quarantine")
