"""Case report for prosecutors: subjects, links and events with provenance footnotes and gradings.

HTML from ``templates/report.html.j2`` (jinja2, autoescaped); PDF through WeasyPrint when the output
path ends in ``.pdf`` (WeasyPrint is optional: without it a PDF request fails with a clear error).
The marking banner (the highest marking of everything included) is at the top and bottom of the
document (and of every PDF page); each item lists its values, each value with its 3x5x2 grading
and a footnote to its provenance: agency, file, row and the time the file was received.
"""

from __future__ import annotations

from pathlib import Path

from followthemoney import model
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tessera.export.selection import Entity, Selection, audited, manifest_path, select_for, write_manifest
from tessera.store.store import Store

TEMPLATES = Path(__file__).parent / "templates"
SUBJECT_SCHEMATA = ("Person", "LegalEntity")  # Person, Organization, Company are subjects


class ReportUnavailable(RuntimeError):
    """A PDF was asked for but WeasyPrint cannot be used here."""


def _kind(entity: Entity) -> str:
    schema = model.get(entity.schema)
    if schema is None:
        return "object"
    dated = any(s.prop in ("date", "startDate") for s in entity.statements)
    if schema.is_a("Event") or (schema.is_a("Interval") and dated and not schema.is_a("Identification")
                                and not schema.is_a("Thing")):
        return "event"
    if any(schema.is_a(s) for s in SUBJECT_SCHEMATA):
        return "subject"
    return "object"


class Footnotes:
    """Numbers provenance records in order of first use."""

    def __init__(self):
        self.items: list[dict] = []
        self._index: dict[tuple, int] = {}

    def ref(self, s) -> int:
        key = (s.agency, s.file, s.row, s.received_at, s.batch)
        if key not in self._index:
            self.items.append(dict(agency=s.agency, file=s.file, row=s.row, received_at=s.received_at,
                                   batch=s.batch))
            self._index[key] = len(self.items)
        return self._index[key]


def _values(statements, notes: Footnotes) -> list[dict]:
    return [dict(prop=s.prop, value=s.value, grading=s.grading_text, marking=str(s.marking), note=notes.ref(s))
            for s in statements]


def context(selection: Selection) -> dict:
    notes = Footnotes()
    labels = {e.id: e.caption for e in selection.entities.values()}
    sections: dict[str, list[dict]] = {"subject": [], "object": [], "event": []}
    for e in sorted(selection.nodes(), key=lambda e: (e.schema, e.caption)):
        sections[_kind(e)].append(dict(id=e.id, schema=e.schema, caption=e.caption, marking=str(e.marking),
                                       rows=_values(e.statements, notes)))
    links = []
    for link in selection.links():
        links.append(dict(source=labels.get(link.source, link.source), target=labels.get(link.target, link.target),
                          source_id=link.source, target_id=link.target, type=link.type, date=link.date,
                          marking=str(link.marking), rows=_values(link.statements, notes)))
    return dict(banner=str(selection.marking), requester=selection.requester,
                for_agency=selection.for_agency, generated_at=selection.generated_at.isoformat(timespec="seconds"),
                subjects=sections["subject"], objects=sections["object"], events=sections["event"], links=links,
                footnotes=notes.items, withheld=selection.withheld, withheld_total=selection.withheld_total,
                entity_count=len(selection.entities), statement_count=len(selection.statements))


def render_html(selection: Selection) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("report.html.j2").render(**context(selection))


def write_pdf(html: str, path: Path | str) -> None:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the pango libraries are missing
        raise ReportUnavailable(f"PDF needs WeasyPrint and its pango libraries ({exc}); write .html instead") from None
    weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf(str(path))


def export_report(store: Store, user: str, out: Path | str, entity_ids: list[str] | None = None,
                  purpose: str | None = None, for_agency: str | None = None) -> dict:
    """Write the case report (HTML, or PDF when ``out`` ends in .pdf); audited, with a manifest."""
    selection = select_for(store, user, entity_ids, for_agency)
    out = Path(out)
    html = render_html(selection)
    with audited(store, selection, "report", out, purpose) as summary:
        if out.suffix.lower() == ".pdf":
            write_pdf(html, out)
            summary["format"] = "pdf"
        else:
            out.write_text(html, encoding="utf-8")
            summary["format"] = "html"
        summary["manifest"] = str(write_manifest(summary, manifest_path(out)))
    return summary
