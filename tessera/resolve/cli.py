"""`tessera resolve` and `tessera evaluate`: cluster source entities, then score clusters against a truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tessera.cli_common import (EXIT_NOT_FOUND, DbOption, JsonOption, console, emit_json, fail, open_store, out,
                                record_cli_audit)


def resolve_command(
    model: Annotated[Path | None, typer.Option(help="Model file of match weights (default: the shipped model.json)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Score and cluster but do not write canonical ids")] = False,
    changed: Annotated[bool, typer.Option("--changed", help="Only what changed: score never-resolved records "
                                          "against the existing blocks and keep existing clusters")] = False,
    estimate: Annotated[bool, typer.Option("--estimate", help="Estimate match weights from this store's data "
                                           "(u from random pairs, m by EM) instead of the model's weights")] = False,
    save_model: Annotated[Path | None, typer.Option("--save-model", help="Write the model this run scored with "
                                                    "(e.g. estimated weights, for a Spark run) to this file")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve source entities into canonical entities (writes entities.canonical_id)."""
    from tessera.resolve.engine import load_model, resolve

    if model is not None and not model.exists():
        fail(f"no model file {model}", EXIT_NOT_FOUND, as_json)
    store = open_store(db)
    if as_json:
        result = resolve(store, load_model(model), write=not dry_run, changed=changed, estimate=estimate)
    else:
        with console.status("resolving") as status:
            result = resolve(store, load_model(model), write=not dry_run, changed=changed, estimate=estimate,
                             progress=lambda msg: status.update(msg))
    if save_model is not None and not dry_run:
        from tessera.resolve.engine import run_model

        save_model.write_text(json.dumps(run_model(store), indent=2) + "\n")
    options = [f"--model {model}" if model else "", "--dry-run" if dry_run else "", "--changed" if changed else "",
               "--estimate" if estimate else ""]
    record_cli_audit(store, "resolve.dry-run" if dry_run else "resolve", [],
                     " ".join(o for o in options if o) or None)
    if as_json:
        emit_json(result.as_dict())
        return
    r = result
    table = Table("measure", "value", title="Tessera resolve")
    for label, value in [("source entities", r.entities), ("of which Person", r.persons),
                         ("exact identifier joins", r.exact_key_joins), ("Person pairs scored", r.pairs_scored),
                         ("pairs accepted", r.pairs_accepted), ("merges refused (conflicts)", r.merges_refused),
                         ("blocks skipped (too large)", r.blocks_skipped), ("clusters", r.clusters),
                         ("clusters of 2+", r.multi_clusters), ("largest cluster", r.largest_cluster),
                         ("canonical ids changed", r.canonical_changed), ("seconds", r.seconds.get("total"))]:
        table.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    out.print(table)
    if dry_run:
        out.print("dry run: nothing written")


def evaluate_command(
    truth: Annotated[Path, typer.Option("--truth", help="A scenario world directory (or its truth/ folder)")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare the store's clusters with a synthetic world's truth: pairwise and cluster precision/recall/F1."""
    from tessera.resolve.evaluate import evaluate

    if not (truth / "records.csv").exists() and not (truth / "truth" / "records.csv").exists():
        fail(f"{truth} has no records.csv (nor truth/records.csv)", EXIT_NOT_FOUND, as_json)
    result = evaluate(open_store(db), truth)
    if as_json:
        emit_json(result)
        return
    table = Table("schema", "entities", "true", "clusters", "pair P", "pair R", "pair F1", "cluster F1",
                  title="Resolution against truth")
    for schema, m in result["schemas"].items():
        table.add_row(schema, f"{m['source_entities']:,}", f"{m['true_entities']:,}", f"{m['predicted_clusters']:,}",
                      f"{m['pairwise_precision']:.3f}", f"{m['pairwise_recall']:.3f}", f"{m['pairwise_f1']:.3f}",
                      f"{m['cluster_f1']:.3f}")
    out.print(table)
    cultures = result.get("person_recall_by_culture")
    if cultures:
        ct = Table("culture", "true pairs", "recall", title="Person pairwise recall by name culture")
        for c, v in cultures.items():
            ct.add_row(c, f"{v['true_pairs']:,}", "-" if v["recall"] is None else f"{v['recall']:.3f}")
        out.print(ct)
    cov = result["coverage"]
    out.print(f"{cov['entities_evaluated']:,} source entities joined to truth; {cov['rows_ambiguous']:,} rows with two "
              f"entities of one schema left out; {cov['entities_impure']:,} source entities span several truths",
              highlight=False)


def explain_command(
    a: Annotated[str, typer.Argument(help="A source or canonical entity id")],
    b: Annotated[str, typer.Argument(help="Another source or canonical entity id")],
    model: Annotated[Path | None, typer.Option(help="Model file (default: the one the last run scored with)")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the evidence, weights, refusals and judgements that joined or separated two entities."""
    from tessera.resolve.engine import load_model
    from tessera.resolve.explain import ExplainError, explain

    if model is not None and not model.exists():
        fail(f"no model file {model}", EXIT_NOT_FOUND, as_json)
    try:
        result = explain(open_store(db), a, b, load_model(model) if model else None)  # else the last run's
    except ExplainError as exc:
        fail(str(exc), EXIT_NOT_FOUND, as_json)
    if as_json:
        emit_json(result)
        return
    verdict = "in one canonical entity" if result["same_cluster"] else "in different canonical entities"
    out.print(f"{a} ({result['a_canonical']}) and {b} ({result['b_canonical']}) are {verdict}", highlight=False)
    for key in result["shared_keys"]:
        out.print(f"shared identifier {'+'.join(key['properties'])} = {' '.join(key['value'])}: "
                  f"{key['a']} ~ {key['b']}", highlight=False)
    for j in result["judgements"]:
        out.print(f"judgement #{j['id']} {j['kind']} by {j['user']}: {j['reason']}", highlight=False)
    if result.get("learned"):
        out.print(f"weights corrected by {result['learned']['judgements']} analysts' judgements", highlight=False)
    for p in result["pairs"]:
        table = Table("comparison", "level", "weight", title=f"{p['left']} ~ {p['right']}: {p['decision']}")
        table.add_row("prior", "", f"{p['prior']:+.2f}")
        for c in p["comparisons"]:
            table.add_row(c["comparison"], c["level"], f"{c['weight']:+.2f}")
        for label, value in p["adjustments"].items():
            if value:
                table.add_row(label.replace("_", " "), "term frequency", f"{value:+.2f}")
        table.add_row("total", f"threshold {p['threshold']}", f"{p['total']:+.2f}")
        if p.get("context", {}).get("shared_companions"):
            ctx = p["context"]
            table.add_row("group context", f"{ctx['shared_companions']} companions in common", f"{ctx['weight']:+.2f}")
        out.print(table)
        if p["refused"]:
            out.print(f"refused: {p['refused']}", highlight=False)
    if result.get("note"):
        out.print(result["note"], highlight=False)


def register(app: typer.Typer) -> None:
    app.command("resolve")(resolve_command)
    app.command("evaluate")(evaluate_command)
    app.command("explain")(explain_command)
