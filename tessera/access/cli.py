"""Commands for agencies, users, API tokens and the audit log."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from tessera.access import audit, identity
from tessera.cli_common import (EXIT_INTEGRITY, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_USAGE, DbOption, JsonOption,
                                actor, emit_json, fail, open_store, out)

agency_app = typer.Typer(help="Agencies that share through Tessera.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def _exit_code(error: identity.IdentityError) -> int:
    if isinstance(error, identity.NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, identity.Conflict):
        return EXIT_REFUSED
    return EXIT_USAGE


def _table(title: str, columns: list[str], rows: list[list]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    out.print(table)


@agency_app.command("add")
def agency_add(code: Annotated[str, typer.Argument(help="Short code, e.g. NCA")],
               country: Annotated[str, typer.Option("--country", help="Two-letter country code")],
               name: Annotated[str | None, typer.Option("--name")] = None,
               contact: Annotated[str | None, typer.Option("--contact", help="Contact point named in hit notices")] = None,
               hit_policy: Annotated[str, typer.Option("--hit-policy", help="open | silent | none")] = "open",
               phone_region: Annotated[str | None, typer.Option("--phone-region", help="Default phone region")] = None,
               db: DbOption = None, as_json: JsonOption = False) -> None:
    """Register an agency."""
    store = open_store(db)
    try:
        with store.engine.begin() as connection:
            row = identity.add_agency(connection, code, country, name, contact, hit_policy, phone_region, actor())
    except identity.IdentityError as error:
        fail(str(error), _exit_code(error), as_json)
    if as_json:
        emit_json(row)
    else:
        out.print(f"agency {row['code']} ({row['country']}) added, hit policy {row['hit_policy']}")


@agency_app.command("list")
def agency_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List agencies."""
    with open_store(db).engine.connect() as connection:
        rows = identity.list_agencies(connection)
    if as_json:
        emit_json(rows)
    else:
        cols = ["code", "name", "country", "phone_region", "contact", "hit_policy"]
        _table("Agencies", cols, [[r[c] for c in cols] for r in rows])


@user_app.command("add")
def user_add(name: Annotated[str, typer.Argument()],
             agency: Annotated[str, typer.Option("--agency", help="Agency code")],
             clearance: Annotated[str, typer.Option("--clearance", help="OFFICIAL, OFFICIAL-SENSITIVE, SECRET, TOP-SECRET")],
             role: Annotated[list[str] | None, typer.Option("--role", help="analyst | supervisor | admin (repeatable)")] = None,
             nationality: Annotated[str | None, typer.Option("--nationality", help="Default: the agency's country")] = None,
             password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
             db: DbOption = None, as_json: JsonOption = False) -> None:
    """Create a user account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        fail("empty password", EXIT_USAGE, as_json)
    store = open_store(db)
    try:
        with store.engine.begin() as connection:
            user = identity.add_user(connection, name, agency, clearance, password, role or ["analyst"],
                                     nationality, actor())
    except identity.IdentityError as error:
        fail(str(error), _exit_code(error), as_json)
    data = dict(id=user.id, name=user.name, agency=user.agency, clearance=user.clearance,
                nationality=user.nationality, roles=list(user.roles))
    if as_json:
        emit_json(data)
    else:
        out.print(f"user {user.name} added: {user.agency}, {user.clearance}, {user.nationality}, "
                  f"{', '.join(user.roles)}")


@user_app.command("list")
def user_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List users."""
    with open_store(db).engine.connect() as connection:
        rows = [dict(id=u.id, name=u.name, agency=u.agency, clearance=u.clearance, nationality=u.nationality,
                     roles=list(u.roles), disabled=u.disabled) for u in identity.list_users(connection)]
    if as_json:
        emit_json(rows)
    else:
        cols = ["name", "agency", "clearance", "nationality", "roles", "disabled"]
        _table("Users", cols, [[",".join(r[c]) if c == "roles" else r[c] for c in cols] for r in rows])


@token_app.command("create")
def token_create(name: Annotated[str, typer.Argument(help="User name")],
                 days: Annotated[float, typer.Option("--days", help="Lifetime in days (0: never expires)")] = 90,
                 label: Annotated[str | None, typer.Option("--label")] = None,
                 db: DbOption = None, as_json: JsonOption = False) -> None:
    """Issue an API token; it is printed once, alone on the last line, and stored only as a hash."""
    store = open_store(db)
    try:
        with store.engine.begin() as connection:
            issued = identity.create_token(connection, name, days or None, label, actor())
    except identity.IdentityError as error:
        fail(str(error), _exit_code(error), as_json)
    if as_json:
        emit_json(dict(id=issued.id, user=issued.user, token=issued.token, created_at=issued.created_at,
                       expires_at=issued.expires_at))
        return
    expiry = issued.expires_at.isoformat(timespec="seconds") if issued.expires_at else "never"
    out.print(f"token {issued.id} for {issued.user}, expires {expiry}. It is shown only once:")
    sys.stdout.flush()
    sys.stdout.write(issued.token + "\n")


@token_app.command("revoke")
def token_revoke(token: Annotated[str | None, typer.Argument(help="Token text, or - to read it from stdin")] = None,
                 token_id: Annotated[int | None, typer.Option("--id", help="Token id (see token list)")] = None,
                 user: Annotated[str | None, typer.Option("--user", help="Revoke every live token of this user")] = None,
                 db: DbOption = None, as_json: JsonOption = False) -> None:
    """Revoke a token by its text, its id, or all of a user's tokens."""
    if token == "-":
        token = sys.stdin.readline().strip()
    store = open_store(db)
    try:
        with store.engine.begin() as connection:
            count = identity.revoke_token(connection, token, token_id, user, actor())
    except identity.IdentityError as error:
        fail(str(error), _exit_code(error), as_json)
    if as_json:
        emit_json({"revoked": count})
    else:
        out.print(f"{count} token(s) revoked")


@token_app.command("list")
def token_list(user: Annotated[str | None, typer.Option("--user")] = None,
               db: DbOption = None, as_json: JsonOption = False) -> None:
    """List tokens (never their text)."""
    with open_store(db).engine.connect() as connection:
        rows = identity.list_tokens(connection, user)
    if as_json:
        emit_json(rows)
    else:
        cols = ["id", "user", "created_at", "expires_at", "revoked_at", "label"]
        _table("API tokens", cols, [[r[c] for c in cols] for r in rows])


@audit_app.command("verify")
def audit_verify(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Check the audit chain; exit 6 at the first edited, deleted or reordered entry."""
    verdict = audit.verify(open_store(db))
    if as_json:
        emit_json(verdict.as_dict())
    elif verdict.ok:
        out.print(f"audit log intact: {verdict.checked} entries, head {verdict.head_seq} {verdict.head_hash}")
    else:
        out.print(f"[bold red]audit log broken at seq {verdict.broken_seq}: {verdict.problem}[/] — {verdict.detail}")
    if not verdict.ok:
        raise typer.Exit(EXIT_INTEGRITY)


@audit_app.command("show")
def audit_show(user: Annotated[str | None, typer.Option("--user", help="Only entries by this user")] = None,
               entity: Annotated[str | None, typer.Option("--entity", help="Only entries naming this entity")] = None,
               limit: Annotated[int | None, typer.Option("--limit", help="Only the newest N")] = None,
               db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show audit entries, oldest first."""
    entries = audit.show(open_store(db), user, entity, limit)
    if as_json:
        emit_json([e.as_dict() for e in entries])
    else:
        _table("Audit log", ["seq", "at", "user", "action", "entities", "query", "purpose"],
               [[e.seq, e.at, e.user, e.action, ", ".join(e.entities), e.query, e.purpose] for e in entries])


def register(app: typer.Typer) -> None:
    app.add_typer(agency_app, name="agency")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    app.add_typer(audit_app, name="audit")
