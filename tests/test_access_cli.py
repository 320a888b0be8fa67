"""Access commands: an administrator sets up agencies, users and tokens, and checks the audit log."""

from __future__ import annotations

import json

import access_helpers  # noqa: F401
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from tessera.access.cli import register
from tessera.cli_common import EXIT_INTEGRITY, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_USAGE
from tessera.store.store import Store

app = typer.Typer()
register(app)
runner = CliRunner()


def run(db, *args, input=None):
    return runner.invoke(app, [*args, "--db", db], input=input)


def test_an_administrator_sets_up_agencies_users_and_a_token(store_url):
    assert run(store_url, "agency", "add", "NCA", "--country", "GB", "--contact", "ocu@nca.example").exit_code == 0
    result = run(store_url, "agency", "add", "DGPN", "--country", "FR", "--hit-policy", "silent",
                 "--phone-region", "FR", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["hit_policy"] == "silent"
    agencies = json.loads(run(store_url, "agency", "list", "--json").stdout)
    assert [a["code"] for a in agencies] == ["DGPN", "NCA"]

    result = run(store_url, "user", "add", "amelie", "--agency", "DGPN", "--clearance", "SECRET",
                 "--role", "analyst", "--role", "supervisor", "--password-stdin", "--json", input="s3cret\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["roles"] == ["analyst", "supervisor"]
    again = run(store_url, "user", "add", "amelie", "--agency", "DGPN", "--clearance", "SECRET",
                "--password-stdin", input="x\n")
    assert again.exit_code == EXIT_REFUSED
    assert run(store_url, "user", "add", "bob", "--agency", "NOPE", "--clearance", "SECRET",
               "--password-stdin", input="x\n").exit_code == EXIT_NOT_FOUND
    assert run(store_url, "user", "add", "bob", "--agency", "NCA", "--clearance", "COSMIC",
               "--password-stdin", input="x\n").exit_code == EXIT_USAGE

    result = run(store_url, "token", "create", "amelie", "--days", "7")
    assert result.exit_code == 0
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("tsr_")
    store = Store.open(store_url)
    try:
        from tessera.access import identity

        with store.engine.connect() as connection:
            assert identity.authenticate_token(connection, token).name == "amelie"
        assert run(store_url, "token", "revoke", "-", input=token + "\n").exit_code == 0
        assert run(store_url, "token", "revoke", "-", input=token + "\n").exit_code == EXIT_NOT_FOUND
        assert run(store_url, "audit", "verify").exit_code == 0
        shown = json.loads(run(store_url, "audit", "show", "--entity", "user:amelie", "--json").stdout)
        assert [e["action"] for e in shown] == ["user.add", "token.create"]
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE audit_log SET user_name = 'someone else' WHERE seq = 2"))
        result = run(store_url, "audit", "verify", "--json")
        assert result.exit_code == EXIT_INTEGRITY
        assert json.loads(result.stdout)["broken_seq"] == 2
    finally:
        store.close()
