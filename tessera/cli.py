"""The `tessera` command: one typer app, with a sub-app from each package that has commands."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(name="tessera", no_args_is_help=True, add_completion=False,
                  help="Tessera: a shared intelligence picture against organised immigration crime.")

# (module, attribute) of command groups and commands each package contributes. A package adds
# its commands in its own `cli.py`; this list is the only line it touches here.
SUBAPPS = [
    ("tessera.intake.cli", "register"),
    ("tessera.export.cli", "register"),
    ("tessera.access.cli", "register"),
    ("tessera.demo", "register"),
    ("tessera.scenario.cli", "register"),
    ("tessera.situation.cli", "register"),
    ("tessera.resolve.cli", "register"),
    ("tessera.resolve.judge_cli", "register"),
    ("tessera.resolve.review_cli", "register"),
    ("tessera.graph.cli", "register"),
    ("tessera.api.cli", "register"),
    ("tessera.alerts.cli", "register"),
]

for module_name, attribute in SUBAPPS:
    getattr(importlib.import_module(module_name), attribute)(app)


if __name__ == "__main__":
    app()
