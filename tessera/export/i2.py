"""i2-friendly CSV pairs: entities.csv and links.csv, with marking and 3x5x2 grading columns.

Analyst's Notebook / iBase import one row per entity (identity, type, label, attributes, and one
``prop:<name>`` column per FtM property, several values joined with "; ") and one row per link
(end 1, end 2, link type). Each row carries the highest marking of the values behind
it (classification, caveat, release_to), the gradings of those values (grading, source evaluation,
intelligence assessment, handling; several values joined with "; ") and their provenance
(agency file#row). Every cell goes through ``csvsafe.neutralise`` so a spreadsheet cannot run it.
The manifest (``<out dir>/manifest.json``) holds the overall marking and what was withheld.
"""

from __future__ import annotations

from pathlib import Path

from tessera.export.csvsafe import write_csv
from tessera.export.selection import Selection, Statement, audited, select_for, write_manifest
from tessera.model.markings import highest
from tessera.store.store import Store

MARKING_COLUMNS = ["classification", "caveat", "release_to"]
GRADING_COLUMNS = ["grading", "source_evaluation", "intelligence_assessment", "handling"]
ENTITY_COLUMNS = ["entity_id", "entity_type", "label", "attributes"] + MARKING_COLUMNS + GRADING_COLUMNS + [
    "agencies", "sources"]
LINK_COLUMNS = ["link_id", "from_id", "to_id", "link_type", "date", "attributes"] + MARKING_COLUMNS + \
    GRADING_COLUMNS + ["agencies", "sources"]


def _joined(values) -> str:
    return "; ".join(dict.fromkeys(v for v in values if v))


def _grading_cells(statements: list[Statement]) -> list[str]:
    parts = [s.grading_parts for s in statements]
    return [_joined(s.grading for s in statements)] + [_joined(p[i] for p in parts) for i in range(3)]


def _marking_cells(statements: list[Statement]) -> list[str]:
    m = highest([s.marking for s in statements])
    release = sorted({r for s in statements for r in s.marking.release_to})
    return [m.classification, m.caveat or "", ",".join(release)]


def _provenance_cells(statements: list[Statement]) -> list[str]:
    return [_joined(s.agency for s in statements),
            _joined(f"{s.agency} {s.file}#{s.row} @{s.received_at}" for s in statements)]


def _attributes(statements: list[Statement]) -> str:
    return _joined(f"{s.prop}={s.value}" for s in statements if s.prop_type != "entity")


def write_i2(selection: Selection, out_dir: Path | str) -> tuple[int, int]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    nodes = selection.nodes()
    props = sorted({s.prop for e in nodes for s in e.statements if s.prop_type != "entity"})
    for e in nodes:
        st = e.statements
        rows.append([e.id, e.schema, e.caption, _attributes(st)] + _marking_cells(st) + _grading_cells(st)
                    + _provenance_cells(st) + [_joined(s.value for s in st if s.prop == p) for p in props])
    with open(out_dir / "entities.csv", "w", newline="", encoding="utf-8") as fh:
        n_entities = write_csv(fh, ENTITY_COLUMNS + [f"prop:{p}" for p in props], rows)
    rows = []
    for i, link in enumerate(selection.links(), 1):
        st = link.statements
        rows.append([f"L{i}", link.source, link.target, link.type, link.date, _attributes(st)]
                    + _marking_cells(st) + _grading_cells(st) + _provenance_cells(st))
    with open(out_dir / "links.csv", "w", newline="", encoding="utf-8") as fh:
        n_links = write_csv(fh, LINK_COLUMNS, rows)
    return n_entities, n_links


def export_i2(store: Store, user: str, out: Path | str, entity_ids: list[str] | None = None,
              purpose: str | None = None, for_agency: str | None = None) -> dict:
    """Write ``out/entities.csv``, ``out/links.csv`` and ``out/manifest.json``; audited."""
    selection = select_for(store, user, entity_ids, for_agency)
    out = Path(out)
    with audited(store, selection, "i2", out, purpose) as summary:
        summary["entities_csv"], summary["links_csv"] = write_i2(selection, out)
        summary["manifest"] = str(write_manifest(summary, out / "manifest.json"))
    return summary
