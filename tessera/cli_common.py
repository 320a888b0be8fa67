"""Options, exit codes and output shared by every CLI command."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import typer
from rich.console import Console

from tessera.store.store import Store

# Documented exit codes (README, "Exit codes").
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3   # input refused before anything was written (unreadable file, bad mapping)
EXIT_NOT_FOUND = 4
EXIT_DENIED = 5    # not permitted
EXIT_INTEGRITY = 6  # audit chain or store integrity check failed

DbOption = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite path (default: $TESSERA_DB, else ./tessera.db)")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables")]

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def open_store(db: str | None) -> Store:
    return Store.open(db)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False, indent=2) + "\n")


def fail(message: str, code: int = EXIT_ERROR, as_json: bool = False) -> None:
    """Report an error (as JSON on stdout when asked) and exit with the given code."""
    if as_json:
        emit_json({"error": message, "exit_code": code})
    else:
        console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def actor() -> str:
    """Who runs this command, as the audit log names them: cli:<operating-system user>."""
    return f"cli:{os.environ.get('USER') or getpass.getuser() or 'unknown'}"


def record_cli_audit(store: Store, action: str, entities: Iterable[str] = (), query: str | None = None,
                     as_user: str | None = None, purpose: str | None = None) -> None:
    """One audit entry for a command: by the user it acts as (the operator noted in the query), else the operator."""
    from tessera.access import audit

    if as_user:
        query = f"{query} (via {actor()})" if query else f"via {actor()}"
    with store.engine.begin() as connection:
        audit.record(connection, as_user or actor(), action, entities, query=query, purpose=purpose)


def purpose_of(user, purpose: str | None, as_json: bool) -> str | None:
    """The purpose a command's --as user states, or exit 2 when their role must state one (purpose.yml)."""
    from tessera.access.purpose import PurposeRequired, stated_purpose

    try:
        return stated_purpose(user, purpose)
    except PurposeRequired as err:
        fail(f"{err}: --purpose TEXT", EXIT_USAGE, as_json)
