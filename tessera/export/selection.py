"""What an export may hold: the statements a named user (or a foreign agency) may see, with provenance.

Every export kind goes through ``select`` here, so none of them can bypass the access layer:

- the requester is a stored user (``identity.get_user``); a disabled user is refused;
- statements are filtered in the database by ``policy.visible_clause(requester)``;
- a sanitised release (``for_agency``) also applies ``visible_clause`` of a synthetic viewer for that
  agency (nationality = the agency's country, clearance = ``RELEASE_CLEARANCE``, agency = its code),
  so it holds only what both the requester and that agency's users could see; what the requester
  could see but the agency could not is *counted* by classification and caveat (never listed);
- the selection is stamped with ``markings.highest`` over the included statements;
- ``audited`` writes the audit entry (``export.<kind>``, the exported entity ids, the purpose).

Scope: all visible statements, or, when entity ids are given, the statements of those entities (by
source id or canonical id) and of the entities that point at them (a Passport's holder, a Call's
caller, a Payment's payer: the links and events around the subjects).

Entities are keyed by ``canonical_id`` when resolution has set one, else by their source id; entity
references inside values are rewritten to the canonical id of their target in the same way.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from followthemoney import model
from sqlalchemy import and_, not_, or_, select

from tessera.access import audit, identity
from tessera.access.policy import User, visible_clause
from tessera.model.markings import Grading, Marking, MarkingError, highest
from tessera.store import tables
from tessera.store.store import Store

RELEASE_CLEARANCE = "SECRET"  # the clearance assumed for a foreign agency's users in a sanitised release


class ExportRefused(ValueError):
    """The export cannot be made for this requester (unknown or disabled user, unknown agency)."""


@dataclass
class Statement:
    """One included value with its provenance and markings."""

    id: int
    entity: str          # exported entity id (canonical when resolved)
    source_entity: str   # the source entity id as ingested
    schema: str
    prop: str
    prop_type: str
    value: str
    agency: str
    file: str
    row: int
    received_at: str
    batch: int
    marking: Marking
    grading: str | None

    @property
    def grading_parts(self) -> tuple[str, str, str]:
        """(source evaluation, intelligence assessment, handling) codes, '' where unknown."""
        try:
            g = Grading.parse(self.grading)
        except MarkingError:
            return (self.grading or "", "", "")
        if g is None:
            return ("", "", "")
        return (g.source, g.intelligence, g.handling or "")

    @property
    def grading_text(self) -> str:
        try:
            g = Grading.parse(self.grading)
        except MarkingError:
            return f"unreadable grading {self.grading}"
        return f"{g} ({g.describe()})" if g else "ungraded"

    def provenance(self) -> dict:
        return dict(statement=self.id, agency=self.agency, file=self.file, row=self.row,
                    received_at=self.received_at, batch=self.batch, source_entity=self.source_entity,
                    classification=self.marking.classification, caveat=self.marking.caveat,
                    release_to=self.marking.release_text, grading=self.grading)


@dataclass
class Entity:
    """An exported entity: its id, schema and the statements it holds."""

    id: str
    schema: str
    statements: list[Statement] = field(default_factory=list)

    @property
    def marking(self) -> Marking:
        return highest([s.marking for s in self.statements])

    def values(self, prop: str) -> list[str]:
        return list(dict.fromkeys(s.value for s in self.statements if s.prop == prop))

    @property
    def caption(self) -> str:
        for prop in ("name", "caption", "number", "registrationNumber", "full", "title", "summary"):
            vals = self.values(prop)
            if vals:
                return vals[0]
        return self.id

    @property
    def edge(self) -> tuple[str, str] | None:
        """(source prop, target prop) when the schema is an FtM edge (Payment, Ownership...)."""
        schema = model.get(self.schema)
        if schema is not None and schema.edge and schema.source_prop and schema.target_prop:
            return schema.source_prop.name, schema.target_prop.name
        return None


@dataclass
class Link:
    """A relation between two exported entities, from entity-typed values."""

    source: str
    target: str
    type: str                 # the edge schema (Payment) or the property (holder)
    via: str | None           # the edge entity's id, if the link is an entity of its own
    statements: list[Statement]

    @property
    def marking(self) -> Marking:
        return highest([s.marking for s in self.statements])

    @property
    def date(self) -> str:
        for s in self.statements:
            if s.prop in ("date", "startDate"):
                return s.value
        return ""


@dataclass
class Selection:
    """What one export holds and for whom."""

    requester: User
    viewer: User
    for_agency: str | None
    entities: dict[str, Entity]
    withheld: list[dict]          # [{classification, caveat, statements}] — counts only, no content
    generated_at: datetime

    @property
    def statements(self) -> list[Statement]:
        return [s for e in self.entities.values() for s in e.statements]

    @property
    def marking(self) -> Marking:
        return highest([s.marking for s in self.statements])

    @property
    def withheld_total(self) -> int:
        return sum(w["statements"] for w in self.withheld)

    def links(self) -> list[Link]:
        """Edges: an edge schema's entity joins its source and target; other entity values join their holder."""
        out: list[Link] = []
        for entity in self.entities.values():
            edge = entity.edge
            refs = [s for s in entity.statements if s.prop_type == "entity"]
            if edge:
                sources = [s for s in refs if s.prop == edge[0]]
                targets = [s for s in refs if s.prop == edge[1]]
                for a in sources:
                    for b in targets:
                        support = [s for s in entity.statements if s.prop_type != "entity"] + [a, b]
                        out.append(Link(a.value, b.value, entity.schema, entity.id, support))
                refs = [s for s in refs if s.prop not in edge]
            for s in refs:
                out.append(Link(entity.id, s.value, s.prop, None, [s]))
        return out

    def nodes(self) -> list[Entity]:
        """Entities that are nodes (not edge-schema entities that became links)."""
        return [e for e in self.entities.values() if not (e.edge and any(
            s.prop in e.edge for s in e.statements))]

    def summary(self, kind: str, out: Path | str | None = None) -> dict:
        """The manifest of an export: who, for whom, marking, counts and what was withheld (counts only)."""
        return dict(kind=kind, out=str(out) if out else None, requested_by=self.requester.name,
                    requester_agency=self.requester.agency, for_agency=self.for_agency,
                    release_clearance=RELEASE_CLEARANCE if self.for_agency else None,
                    generated_at=self.generated_at.isoformat(timespec="seconds"),
                    marking=str(self.marking), classification=self.marking.classification,
                    caveat=self.marking.caveat, entities=len(self.entities), statements=len(self.statements),
                    withheld_statements=self.withheld_total, withheld=self.withheld)


def agency_viewer(connection, code: str) -> User:
    """A synthetic viewer standing for the users of a (foreign) agency in a sanitised release."""
    try:
        agency = identity.get_agency(connection, code)
    except identity.NotFound as exc:
        raise ExportRefused(str(exc)) from None
    return User(None, f"release:{agency['code']}", agency["code"], agency["country"], RELEASE_CLEARANCE,
                agency["country"], ("analyst",))


def _stamp(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat(timespec="seconds")
    return str(value)


def select_for(store: Store, user_name: str, entity_ids: list[str] | None = None,
               for_agency: str | None = None) -> Selection:
    """The statements ``user_name`` may export (to ``for_agency``, if given), grouped by entity."""
    s, b, e = tables.statements, tables.batches, tables.entities
    with store.engine.connect() as conn:
        try:
            requester = identity.get_user(conn, user_name)
        except identity.NotFound as exc:
            raise ExportRefused(str(exc)) from None
        if requester.disabled:
            raise ExportRefused(f"user {user_name!r} is disabled")
        viewer = agency_viewer(conn, for_agency) if for_agency else requester
        seen_by_requester = visible_clause(requester)
        allowed = and_(seen_by_requester, visible_clause(viewer)) if for_agency else seen_by_requester

        canonical = {r.id: r.canonical_id for r in conn.execute(
            select(e.c.id, e.c.canonical_id).where(e.c.canonical_id.is_not(None)))}
        scope = None
        if entity_ids:
            wanted = list(dict.fromkeys(entity_ids))
            members = {r.id for r in conn.execute(select(e.c.id).where(
                or_(e.c.id.in_(wanted), e.c.canonical_id.in_(wanted))))} | set(wanted)
            pointing = {r.entity_id for r in conn.execute(select(s.c.entity_id).distinct().where(
                s.c.prop_type == "entity", s.c.value.in_(sorted(members)), allowed))}
            scope = sorted(members | pointing)

        def scoped(query):
            return query.where(s.c.entity_id.in_(scope)) if scope is not None else query

        query = scoped(select(s, b.c.file_name, b.c.received_at).join(b, b.c.id == s.c.batch_id)
                       .where(allowed).order_by(s.c.entity_id, s.c.id))
        entities: dict[str, Entity] = {}
        for r in conn.execute(query):
            key = canonical.get(r.entity_id, r.entity_id)
            value = canonical.get(r.value, r.value) if r.prop_type == "entity" else r.value
            try:
                marking = Marking.make(r.classification, r.caveat, r.release_to)
            except MarkingError:  # cannot happen for a visible statement (unreadable fails closed)
                continue
            ent = entities.get(key)
            if ent is None:
                ent = entities[key] = Entity(key, r.schema)
            elif ent.schema != r.schema:
                try:
                    ent.schema = model.common_schema(ent.schema, r.schema).name
                except Exception:  # noqa: BLE001 - incompatible schemata: keep the first
                    pass
            ent.statements.append(Statement(r.id, key, r.entity_id, r.schema, r.prop, r.prop_type, value,
                                            r.agency, r.file_name, r.record_no, _stamp(r.received_at),
                                            r.batch_id, marking, r.grading))

        withheld: list[dict] = []
        if for_agency:
            counts: Counter = Counter()
            for r in conn.execute(scoped(select(s.c.classification, s.c.caveat).where(
                    seen_by_requester, not_(visible_clause(viewer))))):
                counts[(r.classification, (r.caveat or "").strip() or None)] += 1
            withheld = [dict(classification=c, caveat=cv, statements=n)
                        for (c, cv), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))]
    return Selection(requester, viewer, for_agency.strip().upper() if for_agency else None, entities, withheld,
                     datetime.now(timezone.utc))


@contextmanager
def audited(store: Store, selection: Selection, kind: str, out: Path | str,
            purpose: str | None = None) -> Iterator[dict]:
    """Write the audit entry and, inside the same transaction, let the caller write the file.

    If writing fails, the entry is rolled back with it (and a partial file removed).
    """
    summary = selection.summary(kind, out)
    query = json.dumps(dict(kind=kind, out=str(out), for_agency=selection.for_agency,
                            marking=summary["marking"], withheld_statements=summary["withheld_statements"]),
                       sort_keys=True, ensure_ascii=False)
    with store.engine.begin() as conn:
        entry = audit.record(conn, selection.requester.name, f"export.{kind}", sorted(selection.entities),
                             query=query, purpose=purpose)
        summary["audit_seq"] = entry.seq
        try:
            yield summary
        except BaseException:
            Path(out).unlink(missing_ok=True)
            raise


def write_manifest(summary: dict, path: Path | str) -> Path:
    """The manifest beside an export: marking, counts and what was withheld (counts, no content)."""
    path = Path(path)
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def manifest_path(out: Path | str) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".manifest.json")

