"""Exports over HTTP: what the caller may see (or a partner may receive) as a file download, audited.

Each export goes through tessera.export's access-checked functions, as the CLI's do: the caller's policy
applies, the highest marking is stamped and an audit entry is written. The download carries the marking in
`X-Tessera-Marking` and the audit entry in `X-Tessera-Audit-Seq`; i2 exports and manifests come as a zip.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from tessera.api.deps import PREFIX, Problem, PurposeHeader, UserDep, check_purpose, store_of
from tessera.export.ftm import export_ftm
from tessera.export.graph import export_graph
from tessera.export.i2 import export_i2
from tessera.export.report import ReportUnavailable, export_report
from tessera.export.selection import ExportRefused

router = APIRouter(prefix=PREFIX, tags=["export"])

KINDS = {"ftm": ("export.ftm.jsonl", "application/x-ndjson"),
         "graphml": ("export.graphml", "application/graphml+xml"),
         "gexf": ("export.gexf", "application/xml"),
         "report": ("report.html", "text/html; charset=utf-8"),
         "report-pdf": ("report.pdf", "application/pdf"),
         "i2": ("i2.zip", "application/zip")}


class ExportRequest(BaseModel):
    kind: Literal["ftm", "graphml", "gexf", "report", "report-pdf", "i2"] = Field(
        description="ftm: FtM JSON lines; graphml/gexf: the visible subgraph; report: case report (HTML or PDF); "
                    "i2: entities.csv + links.csv zipped")
    entities: list[str] | None = Field(default=None, max_length=1000,
                                       description="only these entities and what links to them (default: all)")
    purpose: str | None = Field(default=None, max_length=1000,
                               description="why: recorded in the audit log (or the X-Tessera-Purpose header)")
    for_agency: str | None = Field(default=None, max_length=32,
                                   description="sanitised release: only what this agency's users could see")
    manifest: bool = Field(default=False, description="zip the file with its manifest (marking, counts, withheld)")


def _public(summary: dict) -> dict:
    """The manifest without the server's file paths."""
    return {k: v for k, v in summary.items() if k not in ("out", "manifest", "entities_csv", "links_csv")}


@router.post("/exports", summary="Export what the caller may see as a file (audited, marked)",
             response_class=FileResponse,
             responses={200: {"content": {t: {} for _, t in KINDS.values()}},
                        403: {"description": "refused (e.g. unknown partner agency)"}})
def export(request: Request, user: UserDep, body: ExportRequest, header_purpose: PurposeHeader = None) -> FileResponse:
    purpose = check_purpose(user, body.purpose or header_purpose)
    store = store_of(request)
    work = Path(tempfile.mkdtemp(prefix="tessera-export-"))
    name, media = KINDS[body.kind]
    entity_ids = [e for e in body.entities or [] if e] or None
    try:
        out = work / name
        if body.kind in ("graphml", "gexf"):
            summary = export_graph(store, user.name, out, body.kind, entity_ids, purpose, body.for_agency)
        elif body.kind == "i2":
            out = work / "i2"
            summary = export_i2(store, user.name, out, entity_ids, purpose, body.for_agency)
        else:
            fn = export_ftm if body.kind == "ftm" else export_report
            summary = fn(store, user.name, out, entity_ids, purpose, body.for_agency)
        public = _public(summary)
        if body.kind == "i2" or body.manifest:
            zipped = work / (name if body.kind == "i2" else name + ".zip")
            with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
                if body.kind == "i2":
                    for part in ("entities.csv", "links.csv"):
                        archive.write(out / part, part)
                else:
                    archive.write(out, name)
                archive.writestr("manifest.json", json.dumps(public, indent=2, ensure_ascii=False, default=str))
            out, name, media = zipped, zipped.name, "application/zip"
    except ExportRefused as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise Problem(403, "Forbidden", str(exc)) from None
    except ReportUnavailable as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise Problem(503, "Service Unavailable", str(exc)) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    headers = {"X-Tessera-Marking": str(public.get("marking", "")).encode("ascii", "replace").decode(),
               "X-Tessera-Audit-Seq": str(public.get("audit_seq", "")),
               "X-Tessera-Entities": str(public.get("entities", "")),
               "X-Tessera-Withheld": str(public.get("withheld_statements", 0))}
    return FileResponse(out, media_type=media, filename=name, headers=headers,
                        background=BackgroundTask(shutil.rmtree, work, True))
