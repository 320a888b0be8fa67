"""`tessera review`: the record pairs the resolver was least sure of, for analysts to judge."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tessera.cli_common import DbOption, JsonOption, emit_json, open_store, out, record_cli_audit
from tessera.resolve.judge_cli import analyst


def review_command(
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many pairs")] = 20,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many pairs")] = 0,
    as_user: Annotated[str | None, typer.Option("--as", help="Only pairs whose two records this user may see "
                                                "in full")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The record pairs the resolver was least sure of, most in doubt first, without those already judged."""
    from tessera.api.routes_resolve import wholly_visible
    from tessera.resolve.review import review_queue

    store = open_store(db)
    user = analyst(store, as_user, as_json) if as_user else None
    with store.engine.connect() as connection:
        visible = (lambda ids: wholly_visible(connection, user, ids)) if user else None
        items = review_queue(connection, limit, offset, visible)
    record_cli_audit(store, "review", sorted({x for i in items for x in (i["a"], i["b"])}),
                     f"limit={limit}&offset={offset}", as_user)
    if as_json:
        emit_json(items)
        return
    table = Table(title="Pairs to review")
    for header in ("margin", "weight", "a", "name a", "b", "name b", "joined"):
        table.add_column(header, overflow="fold")  # whole ids, wrapped: they are what `tessera judge` takes
    for i in items:
        table.add_row(f"{i['margin']:+.2f}", f"{i['weight']:+.2f}", i["a"], i["name_a"] or "", i["b"],
                      i["name_b"] or "", "yes" if i["joined"] else "no")
    out.print(table)
    if items:
        out.print("judge with: tessera judge same A B --reason …  (or: tessera judge not-same A B --reason …)",
                  highlight=False)
    else:
        out.print("nothing to review", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("review")(review_command)
