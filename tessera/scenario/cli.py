"""`tessera scenario generate`: write a synthetic multi-agency world with its ground truth."""

from __future__ import annotations

from typing import Annotated

import typer

from tessera.cli_common import JsonOption, console, emit_json


def register(app: typer.Typer) -> None:
    sub = typer.Typer(name="scenario", no_args_is_help=True, help="Synthetic multi-agency world with ground truth.")

    @sub.command("generate")
    def generate_cmd(
        out: Annotated[str, typer.Option("--out", help="Directory to write the exports, mappings and truth into")],
        people: Annotated[int, typer.Option("--people", help="How many people the world holds")] = 10000,
        seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same bytes")] = 1,
        as_json: JsonOption = False,
    ) -> None:
        """Generate every holder's export files, their mappings, manifest.json and truth/."""
        from tessera.scenario.generate import generate

        with console.status(f"generating {people:,} people (seed {seed})…"):
            summary = generate(out, people, seed)
        if as_json:
            emit_json(summary)
        else:
            for k, v in summary.items():
                console.print(f"{k:>10}: {v}", highlight=False)

    app.add_typer(sub)
