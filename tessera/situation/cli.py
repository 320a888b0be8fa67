"""`tessera situation`: import the Home Office small-boat series and report totals, comparisons, records."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tessera.cli_common import (EXIT_NOT_FOUND, EXIT_REFUSED, DbOption, JsonOption, emit_json, fail,
                                open_store, out)

app = typer.Typer(name="situation", no_args_is_help=True,
                  help="Small-boat crossings from the official Home Office series.")

FromOption = Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: first day held)")]
ToOption = Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (default: last day held)")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="situation")


def _day(text: str | None, option: str, as_json: bool) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a date as YYYY-MM-DD, not {text!r}", 2, as_json)


def _figures(db, as_json):
    from tessera.situation.stats import Figures
    store = open_store(db)
    try:
        figures = Figures.from_store(store)
    finally:
        store.close()
    if not figures.dates:
        fail("no small-boat figures in the store; run `tessera situation import FILE` first", EXIT_NOT_FOUND, as_json)
    return figures


def _period(figures, start, end, as_json):
    start = _day(start, "--from", as_json) or figures.first
    end = _day(end, "--to", as_json) or figures.last
    if end < start:
        fail("--to is before --from", 2, as_json)
    return start, end


def _fmt(n) -> str:
    return "-" if n is None else (f"{n:,}" if isinstance(n, int) else str(n))


@app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="ODS (SB_01/SB_02) or CSV copy of the series")],
            db: DbOption = None, as_json: JsonOption = False) -> None:
    """Validate and store a release of the series; the same file twice changes nothing."""
    from tessera.situation.reader import SeriesError, read_series
    from tessera.situation.store import import_series
    if not file.is_file():
        fail(f"{file}: no such file", EXIT_REFUSED, as_json)
    started = time.perf_counter()
    try:
        series = read_series(file)
    except SeriesError as exc:
        if as_json:
            emit_json({"error": "file refused", "problems": exc.problems, "exit_code": EXIT_REFUSED})
            raise typer.Exit(EXIT_REFUSED)
        fail(f"{file.name} refused, nothing stored:\n" + str(exc), EXIT_REFUSED)
    read_s = time.perf_counter() - started
    store = open_store(db)
    try:
        result = import_series(store, series)
    finally:
        store.close()
    report = {**result.as_dict(), "file": file.name, "source_kind": series.source_kind,
              "read_seconds": round(read_s, 3), "seconds": round(time.perf_counter() - started, 3)}
    if as_json:
        emit_json(report)
        return
    if result.already_imported:
        out.print(f"{file.name} already imported as release {result.release_id}; nothing changed.", soft_wrap=True)
        return
    out.print(f"Release {result.release_id}: {file.name} ({series.source_kind}), {result.days} days "
              f"{result.first_date}..{result.data_through}, {result.weeks} weeks; {result.added} days added, "
              f"{result.revised} revised, in {report['seconds']}s.", soft_wrap=True)


@app.command()
def total(from_: FromOption = None, to: ToOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """People and boats crossing in a period; the last line printed is the number of people."""
    figures = _figures(db, as_json)
    t = figures.total(*_period(figures, from_, to, as_json))
    if as_json:
        emit_json(t)
        return
    note = "" if t["complete"] else f" (figures held only {figures.first}..{figures.last})"
    out.print(f"{t['from']} to {t['to']}: {_fmt(t['people'])} people in {_fmt(t['boats'])} boats, "
              f"{_fmt(t['per_boat'])} per boat{note}", highlight=False, soft_wrap=True)
    print(t["people"])


@app.command()
def compare(from_: FromOption = None, to: ToOption = None, db: DbOption = None,
            as_json: JsonOption = False) -> None:
    """A period against the same period a year earlier, and its rank among the same period of every year."""
    figures = _figures(db, as_json)
    c = figures.compare(*_period(figures, from_, to, as_json))
    if as_json:
        emit_json(c)
        return
    p, b = c["period"], c["year_earlier"]
    out.print(f"{p['from']} to {p['to']}: {_fmt(p['people'])} people, {_fmt(p['boats'])} boats "
              f"({_fmt(p['per_boat'])} per boat)", highlight=False, soft_wrap=True)
    pct = c["change"]["people"]["percent"]
    out.print(f"A year earlier ({b['from']} to {b['to']}): {_fmt(b['people'])} people, {_fmt(b['boats'])} boats "
              f"({_fmt(b['per_boat'])} per boat); change {c['change']['people']['difference']:+,} people"
              + (f" ({pct:+}%)" if pct is not None else ""), highlight=False, soft_wrap=True)
    if c["of_years_at_the_time"]:
        out.print(f"Rank {c['rank_at_the_time']} of {c['of_years_at_the_time']} for this period up to {p['to'][:4]}"
                  + (" — the highest on record" if c["record_at_the_time"] else "")
                  + f"; rank {c['rank_all_years']} of {c['of_years']} over all years held.", highlight=False, soft_wrap=True)
    table = Table("year", "from", "to", "people", "boats", "per boat", "rank")
    for y in c["years"]:
        table.add_row(str(y["year"]), y["from"], y["to"], _fmt(y["people"]), _fmt(y["boats"]),
                      _fmt(y["per_boat"]), str(y["rank"]))
    out.print(table)


@app.command()
def series(by: Annotated[str, typer.Option("--by", help="day, week, month or year")] = "month",
           from_: FromOption = None, to: ToOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """People and boats per day, week (ending Sunday), month or year."""
    figures = _figures(db, as_json)
    start, end = _period(figures, from_, to, as_json)
    try:
        rows = figures.series(by, start, end)
    except ValueError as exc:
        fail(str(exc), 2, as_json)
    if as_json:
        emit_json(rows)
        return
    table = Table(by, "people", "boats", "per boat")
    for r in rows:
        table.add_row(r["period"], _fmt(r["people"]), _fmt(r["boats"]), _fmt(r["per_boat"]))
    out.print(table)


@app.command()
def ytd(as_of: Annotated[str | None, typer.Option("--as-of", help="Day, YYYY-MM-DD (default: last held)")] = None,
        db: DbOption = None, as_json: JsonOption = False) -> None:
    """Year to date against the same days last year."""
    figures = _figures(db, as_json)
    c = figures.year_to_date(_day(as_of, "--as-of", as_json))
    if as_json:
        emit_json(c)
        return
    p, b = c["period"], c["year_earlier"]
    out.print(f"{p['from']} to {p['to']}: {_fmt(p['people'])} people; same days last year {_fmt(b['people'])} "
              f"({c['change']['people']['difference']:+,})", highlight=False, soft_wrap=True)
    print(p["people"])


@app.command()
def releases(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Releases of the series imported so far."""
    from tessera.situation.store import releases as list_releases
    store = open_store(db)
    try:
        rows = list_releases(store)
    finally:
        store.close()
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "file", "kind", "imported", "days", "through", "added", "revised", "sha256")
    for r in rows:
        table.add_row(str(r["id"]), r["file_name"], r["source_kind"], str(r["imported_at"])[:19], str(r["days"]),
                      str(r["data_through"]), str(r["added"]), str(r["revised"]), r["sha256"][:12])
    out.print(table)
