"""`tessera judge`: analysts' same / not-same / split judgements, their list, withdrawal and restoral."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tessera.cli_common import (EXIT_DENIED, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_USAGE, DbOption, JsonOption,
                                emit_json, fail, open_store, out)

judge_app = typer.Typer(help="Analysts' judgements: they always win over match scores.", no_args_is_help=True)

AsOption = Annotated[str | None, typer.Option("--as", envvar="TESSERA_USER",
                                              help="The analyst making the judgement (default: $TESSERA_USER)")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why: it is stored, shown and audited")]


def analyst(store, name: str | None, as_json: bool):
    """The registered, enabled user a judgement is made (or a review listed) as."""
    from tessera.access import identity

    if not name:
        fail("say who judges: --as USER or $TESSERA_USER", EXIT_USAGE, as_json)
    with store.engine.connect() as connection:
        try:
            user = identity.get_user(connection, name)
        except identity.NotFound as error:
            fail(str(error), EXIT_NOT_FOUND, as_json)
    if user.disabled:
        fail(f"user {name!r} is disabled", EXIT_DENIED, as_json)
    return user


def _exit_code(error) -> int:
    from tessera.resolve import judgements as jm

    if isinstance(error, jm.JudgementConflict):
        return EXIT_REFUSED
    if isinstance(error, jm.NotFound):
        return EXIT_NOT_FOUND
    return EXIT_USAGE


def _write(db, as_user, as_json, action):
    """Run one judgement write in a transaction; print it, or fail with the documented exit code."""
    from tessera.resolve import judgements as jm

    store = open_store(db)
    user = analyst(store, as_user, as_json)
    try:
        with store.engine.begin() as connection:
            judgement = action(connection, user)
    except jm.JudgementConflict as error:
        if as_json:
            emit_json({"error": str(error), "exit_code": EXIT_REFUSED, "conflicting": error.conflicting})
            raise typer.Exit(EXIT_REFUSED) from None
        fail(str(error), EXIT_REFUSED)
    except jm.JudgementError as error:
        fail(str(error), _exit_code(error), as_json)
    if as_json:
        emit_json(judgement.as_dict())
        return
    state = "" if judgement.active else f" (withdrawn by {judgement.deleted_by})"
    out.print(f"judgement {judgement.describe()}{state}", highlight=False)


def _add(kind, a, b, reason, as_user, db, as_json, parts=None):
    from tessera.resolve import judgements as jm

    _write(db, as_user, as_json, lambda conn, user: jm.add_judgement(conn, kind, a, b, reason, user.name, user.agency,
                                                                        parts=parts))


@judge_app.command("same")
def same(a: Annotated[str, typer.Argument(help="Source or canonical id")],
         b: Annotated[str, typer.Argument(help="Source or canonical id")],
         reason: ReasonOption, as_user: AsOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Judge A and B to be the same (a canonical id stands for its members)."""
    _add("same", a, b, reason, as_user, db, as_json)


@judge_app.command("not-same")
def not_same(a: Annotated[str, typer.Argument(help="Source or canonical id")],
             b: Annotated[str, typer.Argument(help="Source or canonical id")],
             reason: ReasonOption, as_user: AsOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Judge A and B not to be the same: resolution never joins them again."""
    _add("not-same", a, b, reason, as_user, db, as_json)


@judge_app.command("split")
def split(entity: Annotated[str, typer.Argument(help="Canonical id")], reason: ReasonOption,
          part: Annotated[list[str] | None, typer.Option("--part", help="Comma-separated members kept together "
                                                          "(repeatable; the rest form one more part; default: "
                                                          "every member apart)")] = None,
          as_user: AsOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Split a canonical entity: its parts are never joined again."""
    parts = [[m.strip() for m in p.split(",") if m.strip()] for p in (part or [])]
    _add("split", entity, None, reason, as_user, db, as_json, parts=parts)


@judge_app.command("withdraw")
def withdraw(judgement_id: Annotated[int, typer.Argument(metavar="ID")], as_user: AsOption = None,
             db: DbOption = None, as_json: JsonOption = False) -> None:
    """Withdraw a judgement (soft delete: `judge restore ID` brings it back)."""
    from tessera.resolve import judgements as jm

    _write(db, as_user, as_json, lambda conn, user: jm.withdraw(conn, judgement_id, user.name))


@judge_app.command("restore")
def restore(judgement_id: Annotated[int, typer.Argument(metavar="ID")], as_user: AsOption = None,
            db: DbOption = None, as_json: JsonOption = False) -> None:
    """Restore a withdrawn judgement, unless it now contradicts active ones."""
    from tessera.resolve import judgements as jm

    _write(db, as_user, as_json, lambda conn, user: jm.restore(conn, judgement_id, user.name))


@judge_app.command("list")
def list_(show_all: Annotated[bool, typer.Option("--all", help="Include withdrawn judgements")] = False,
          entity: Annotated[str | None, typer.Option("--entity", help="Only judgements naming or covering this id")] = None,
          db: DbOption = None, as_json: JsonOption = False) -> None:
    """Judgements, oldest first."""
    from tessera.resolve import judgements as jm

    store = open_store(db)
    with store.engine.connect() as connection:
        found = jm.load_judgements(connection, include_withdrawn=show_all, entity=entity)
    if as_json:
        emit_json([j.as_dict() for j in found])
        return
    table = Table("id", "kind", "a", "b", "records", "by", "when", "reason", "withdrawn", title="Judgements")
    for j in found:
        records = len(set(j.a_members) | set(j.b_members))
        table.add_row(str(j.id), j.kind, j.a, j.b or "", str(records), f"{j.user} ({j.agency or '-'})",
                      jm._iso(j.created_at)[:19], j.reason,
                      "" if j.active else f"{jm._iso(j.deleted_at)[:19]} by {j.deleted_by}")
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(judge_app, name="judge")
