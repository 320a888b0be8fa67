"""CLI: `tessera watch add|list|remove`, `tessera alerts list|ack|pump|hook`, `tessera notices list`, `tessera blind`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tessera.cli_common import (EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_USAGE, DbOption, JsonOption, emit_json, fail,
                                open_store, out, record_cli_audit)

watch_app = typer.Typer(help="Watch an entity or its network for new records, merges, splits and changes.",
                        no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts of watched entities: list, acknowledge, deliver, webhooks.",
                         no_args_is_help=True)
notices_app = typer.Typer(help="Deconfliction notices to an agency (no content: agency, contact, reference).",
                          no_args_is_help=True)
blind_app = typer.Typer(help="Blind matching on keyed hashes: hash a file on your side, submit only the hashes.",
                        no_args_is_help=True)

AsOption = Annotated[str, typer.Option("--as", help="The user")]
KeyFileOption = Annotated[Path | None, typer.Option("--key-file", help="Federation key file (default: "
                                                    "$TESSERA_FEDERATION_KEY or $TESSERA_FEDERATION_KEY_FILE)")]


def _user(store, name: str, as_json: bool):
    from tessera.access.identity import NotFound, get_user

    try:
        with store.engine.connect() as connection:
            return get_user(connection, name)
    except NotFound as exc:
        fail(str(exc), EXIT_NOT_FOUND, as_json)


def _table(rows: list[dict], columns: list[str]) -> None:
    table = Table(*columns)
    for r in rows:
        table.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in columns))
    out.print(table)


# --- watches -----------------------------------------------------------------------------------------

@watch_app.command("add")
def watch_add(target: Annotated[str, typer.Argument(help="Canonical or source entity id")], as_user: AsOption,
              network: Annotated[bool, typer.Option("--network", help="Watch the entity's network too")] = False,
              hops: Annotated[int, typer.Option("--hops", help="Network radius, 1-3")] = 1,
              label: Annotated[str | None, typer.Option("--label")] = None,
              db: DbOption = None, as_json: JsonOption = False) -> None:
    """Watch an entity you may see (or its network)."""
    from tessera.access.identity import NotFound
    from tessera.alerts.watches import WatchError, add_watch

    store = open_store(db)
    _user(store, as_user, as_json)
    try:
        watch = add_watch(store, as_user, target, "network" if network else "entity", hops, label)
    except NotFound as exc:
        fail(str(exc), EXIT_NOT_FOUND, as_json)
    except WatchError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    record_cli_audit(store, "watch.add", [target, f"watch:{watch['id']}"], watch["kind"], as_user=as_user)
    if as_json:
        return emit_json(watch)
    out.print(f"watch {watch['id']}: {as_user} watches {watch['kind']} {target}", highlight=False)


@watch_app.command("list")
def watch_list(as_user: Annotated[str | None, typer.Option("--as", help="Only this user's watches")] = None,
               db: DbOption = None, as_json: JsonOption = False) -> None:
    """Watches, with their owners."""
    from tessera.alerts.watches import list_watches

    with open_store(db).engine.connect() as connection:
        rows = list_watches(connection, as_user)
    if as_json:
        return emit_json(rows)
    _table(rows, ["id", "user", "kind", "target", "hops", "label", "created_at"])


@watch_app.command("remove")
def watch_remove(watch_id: int, as_user: AsOption, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Stop watching."""
    from tessera.access.identity import NotFound
    from tessera.alerts.watches import remove_watch

    store = open_store(db)
    try:
        with store.engine.begin() as connection:
            remove_watch(connection, as_user, watch_id)
    except NotFound as exc:
        fail(str(exc), EXIT_NOT_FOUND, as_json)
    record_cli_audit(store, "watch.remove", [f"watch:{watch_id}"], None, as_user=as_user)
    if as_json:
        return emit_json(dict(removed=watch_id))
    out.print(f"watch {watch_id} removed")


# --- alerts ------------------------------------------------------------------------------------------

@alerts_app.command("list")
def alerts_list(as_user: Annotated[str | None, typer.Option("--as", help="Only this user's alerts")] = None,
                unacked: Annotated[bool, typer.Option("--unacked", help="Only alerts not yet acknowledged")] = False,
                after: Annotated[int, typer.Option("--after", help="Only alerts after this id")] = 0,
                limit: int = 100, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Alerts, each shown only as far as its watcher may see (every watcher's without --as)."""
    from tessera.access.identity import list_users
    from tessera.alerts.feed import list_alerts

    store = open_store(db)
    rows: list[dict] = []
    with store.engine.connect() as connection:
        users = [_user(store, as_user, as_json)] if as_user else [u for u in list_users(connection) if not u.disabled]
        for user in users:
            rows += [dict(a, user=user.name) for a in list_alerts(connection, user, after, limit, unacked)]
    rows.sort(key=lambda a: a["id"])
    if as_json:
        return emit_json(rows)
    _table([dict(r, entities=", ".join(r["entities"])) for r in rows],
           ["id", "user", "created_at", "kind", "subject", "message", "entities", "acked"])


@alerts_app.command("ack")
def alerts_ack(alert_id: int, as_user: AsOption, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Acknowledge one of your alerts."""
    from tessera.alerts.feed import ack

    store = open_store(db)
    user = _user(store, as_user, as_json)
    with store.engine.begin() as connection:
        found = ack(connection, user, alert_id)
    if not found:
        fail(f"{as_user} has no alert {alert_id}", EXIT_NOT_FOUND, as_json)
    if as_json:
        return emit_json(dict(acked=alert_id))
    out.print(f"alert {alert_id} acknowledged")


@alerts_app.command("pump")
def alerts_pump(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Process what is due once: new batches, resolution changes, network watches, webhook deliveries."""
    from tessera.alerts.pump import pump_once

    report = pump_once(open_store(db))
    if as_json:
        return emit_json(report)
    out.print(f"{report['batches']} batches, {report['changes']} resolution changes: {report['notices']} notices, "
              f"{report['alerts']} alerts; deliveries {report['deliveries']}", highlight=False)


@alerts_app.command("hook")
def alerts_hook(url: Annotated[str, typer.Argument(help="http(s) URL that receives signed POSTs")], as_user: AsOption,
                db: DbOption = None, as_json: JsonOption = False) -> None:
    """Send your alerts to a webhook; prints its signing secret once."""
    from tessera.alerts.delivery import WebhookError, add_webhook

    store = open_store(db)
    _user(store, as_user, as_json)
    try:
        with store.engine.begin() as connection:
            hook = add_webhook(connection, as_user, url)
    except WebhookError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    if as_json:
        return emit_json(hook)
    out.print(f"webhook {hook['id']} for {as_user}: {url}\nsigning secret (shown once): {hook['secret']}",
              highlight=False)


@alerts_app.command("deliveries")
def alerts_deliveries(alert: Annotated[int | None, typer.Option("--alert")] = None, db: DbOption = None,
                      as_json: JsonOption = False) -> None:
    """Webhook deliveries with their attempts, last status and next retry."""
    from tessera.alerts.delivery import list_deliveries

    with open_store(db).engine.connect() as connection:
        rows = list_deliveries(connection, alert)
    if as_json:
        return emit_json(rows)
    _table(rows, ["id", "alert_id", "webhook_id", "status", "attempts", "last_status", "next_attempt_at",
                  "last_error"])


# --- notices -----------------------------------------------------------------------------------------

@notices_app.command("list")
def notices_list(agency: Annotated[str, typer.Option("--agency", help="The agency told")],
                 kind: Annotated[str | None, typer.Option("--kind", help="hit, seen or searched")] = None,
                 after: Annotated[int, typer.Option("--after")] = 0, limit: int = 100,
                 db: DbOption = None, as_json: JsonOption = False) -> None:
    """Notices to an agency: hits on its records, and who submitted on or searched for its subjects."""
    from tessera.access.deconfliction import list_notices

    with open_store(db).engine.connect() as connection:
        rows = list_notices(connection, agency, after, limit, kind)
    if as_json:
        return emit_json(rows)
    _table(rows, ["id", "created_at", "kind", "trigger", "own_entity", "message"])


# --- blind matching ----------------------------------------------------------------------------------

def _key(key_file, as_json):
    from tessera.access.blind import BlindError, federation_key

    try:
        return federation_key(key_file)
    except BlindError as exc:
        fail(str(exc), EXIT_REFUSED, as_json)


@blind_app.command("hash")
def blind_hash(source: Annotated[Path, typer.Argument(help="Raw CSV, on the agency's own machine")],
               out_file: Annotated[Path, typer.Option("--out", help="Hash file to write (JSON lines)")],
               ref: Annotated[str | None, typer.Option("--ref", help="Column with your own row reference")] = None,
               phone: Annotated[list[str] | None, typer.Option("--phone")] = None,
               email: Annotated[list[str] | None, typer.Option("--email")] = None,
               document: Annotated[list[str] | None, typer.Option("--document", help="Passport/ID numbers")] = None,
               account: Annotated[list[str] | None, typer.Option("--account", help="IBAN/account numbers")] = None,
               plate: Annotated[list[str] | None, typer.Option("--plate")] = None,
               handle: Annotated[list[str] | None, typer.Option("--handle")] = None,
               name: Annotated[list[str] | None, typer.Option("--name")] = None,
               dob: Annotated[list[str] | None, typer.Option("--dob")] = None,
               dob_format: Annotated[list[str] | None, typer.Option("--dob-format", help='e.g. "%d/%m/%Y"')] = None,
               region: Annotated[str, typer.Option("--region", help="Region of national phone numbers")] = "GB",
               key_file: KeyFileOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Turn a raw CSV into keyed hashes of its normalised identifiers; no raw value is written."""
    from tessera.access.blind import BlindError, Columns, write_hash_file

    columns = Columns(ref, phone or [], email or [], document or [], account or [], plate or [], handle or [],
                      name or [], dob or [])
    if not columns.used() or columns.used() == [ref]:
        fail("name at least one column to hash (--phone, --document, --name with --dob, ...)", EXIT_USAGE, as_json)
    try:
        report = write_hash_file(source, out_file, columns, _key(key_file, as_json), region.upper(),
                                 tuple(dob_format or ()))
    except (BlindError, OSError, UnicodeDecodeError) as exc:
        fail(str(exc), EXIT_REFUSED, as_json)
    if as_json:
        return emit_json(report)
    out.print(f"{report['rows']} rows, {report['keys']} keyed hashes -> {out_file} (keyring {report['keyring']})",
              highlight=False)


@blind_app.command("submit")
def blind_submit(hash_file: Annotated[Path, typer.Argument(help="A file made by `tessera blind hash`")],
                 agency: Annotated[str, typer.Option("--agency", help="The submitting agency")],
                 key_file: KeyFileOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Match keyed hashes against the store and issue notices by each owner's hit policy."""
    from tessera.access.blind import BlindError, submit

    key = _key(key_file, as_json)
    store = open_store(db)
    try:
        report = submit(store, hash_file, agency, key)
    except (BlindError, OSError, UnicodeDecodeError) as exc:
        fail(f"refused, nothing written: {exc}", EXIT_REFUSED, as_json)
    record_cli_audit(store, "blind.submit", [f"agency:{report['agency']}", f"submission:{report['submission']}"],
                     hash_file.name)
    if as_json:
        return emit_json(report)
    out.print(f"submission {report['submission']}: {report['rows']} rows, {report['subjects']} subjects held "
              f"elsewhere, {report['notices']} notices (see `tessera notices list --agency {report['agency']}`)",
              highlight=False)


@blind_app.command("index")
def blind_index(key_file: KeyFileOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Build the keyed-hash index of every batch not yet indexed with the current federation key."""
    from tessera.access.blind import ensure_index

    key = _key(key_file, as_json)
    with open_store(db).engine.begin() as connection:
        done = ensure_index(connection, key)
    if as_json:
        return emit_json(dict(batches=done))
    out.print(f"{len(done)} batches indexed")


def register(app: typer.Typer) -> None:
    app.add_typer(watch_app, name="watch")
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(notices_app, name="notices")
    app.add_typer(blind_app, name="blind")
