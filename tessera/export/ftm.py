"""FollowTheMoney JSON lines that keep their provenance and markings, for one named user.

Format: one line per entity, ``{"id", "schema", "properties"}`` built with followthemoney's model
(so ``followthemoney`` and Aleph tooling read it as an entity stream), plus two extra top-level keys
that FtM keeps as context and ignores otherwise:

- ``"tessera:marking"``: the highest marking of the entity's values (e.g. "SECRET – UK EYES ONLY");
- ``"tessera:provenance"``: ``{prop: [{value, statement, agency, file, row, received_at, batch,
  source_entity, classification, caveat, release_to, grading}, ...]}``, one item per value as stored.

The file's overall marking, the requester and anything withheld from a sanitised release are in
the manifest beside it (``<out>.manifest.json``): the first line stays an entity so that readers
detect an FtM stream.
"""

from __future__ import annotations

import json
from pathlib import Path

from followthemoney import model

from tessera.export.selection import Entity, Selection, audited, manifest_path, select_for, write_manifest
from tessera.store.store import Store


def entity_line(entity: Entity) -> dict:
    proxy = model.make_entity(entity.schema)
    proxy.id = entity.id
    provenance: dict[str, list[dict]] = {}
    for s in entity.statements:
        if proxy.schema.get(s.prop) is None:
            continue  # a property of a merged schema this one lacks: kept in provenance only
        proxy.add(s.prop, s.value, cleaned=True)
    for s in entity.statements:
        provenance.setdefault(s.prop, []).append(dict(value=s.value, **s.provenance()))
    line = proxy.to_dict()
    line["tessera:marking"] = str(entity.marking)
    line["tessera:provenance"] = provenance
    return line


def write_ftm(selection: Selection, path: Path | str) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        for entity in selection.entities.values():
            fh.write(json.dumps(entity_line(entity), ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count


def export_ftm(store: Store, user: str, out: Path | str, entity_ids: list[str] | None = None,
               purpose: str | None = None, for_agency: str | None = None) -> dict:
    """Export what ``user`` may see (and ``for_agency`` may receive) as FtM JSON lines; audited."""
    selection = select_for(store, user, entity_ids, for_agency)
    with audited(store, selection, "ftm", out, purpose) as summary:
        write_ftm(selection, out)
        summary["manifest"] = str(write_manifest(summary, manifest_path(out)))
    return summary
