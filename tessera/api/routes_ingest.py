"""Ingest over HTTP: upload a file with its mapping and markings as a job, follow it as Server-Sent Events,
list the rows it quarantined.

A user ingests for their own agency (an admin for any). Jobs run one at a time in a worker thread and are
kept in this process's memory (the batch itself is in the store, as from the CLI); a job's status and its
quarantine list are shown only to users of the job's agency.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from sqlalchemy import func, select

from tessera.access.policy import User
from tessera.alerts.pump import after_batch
from tessera.api import search_index
from tessera.api.deps import PREFIX, LimitQuery, OffsetQuery, Problem, UserDep, page, record_audit, store_of
from tessera.intake.pipeline import BatchMarking, IngestRefused, ingest_file
from tessera.store import tables

router = APIRouter(prefix=f"{PREFIX}/ingest", tags=["ingest"])
log = logging.getLogger(__name__)

MAX_UPLOAD = 512 << 20
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Job:
    id: str
    user: str
    agency: str
    file: str
    state: str = "queued"  # queued, running, done, refused, failed
    records: int = 0
    result: dict | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    changed: threading.Event = field(default_factory=threading.Event)

    def as_dict(self) -> dict:
        return dict(id=self.id, user=self.user, agency=self.agency, file=self.file, state=self.state,
                    records=self.records, result=self.result, error=self.error,
                    batch=(self.result or {}).get("batch_id"))


class Jobs:
    """The ingest jobs of this process and the single worker that runs them."""

    def __init__(self):
        self.jobs: dict[str, Job] = {}
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tessera-ingest")


def install(app) -> None:
    app.state.ingest_jobs = Jobs()


def _jobs(request: Request) -> Jobs:
    if not hasattr(request.app.state, "ingest_jobs"):
        request.app.state.ingest_jobs = Jobs()
    return request.app.state.ingest_jobs


def _run(store, job: Job, work: Path, path: Path, mapping: Path | None, marking: BatchMarking) -> None:
    job.state = "running"
    job.changed.set()

    def progress(rows: int) -> None:
        job.records = rows
        job.changed.set()

    try:
        result = ingest_file(store, path, job.agency, mapping, marking, progress)
        job.result = result.as_dict()
        job.records = result.records
        if not result.already_ingested:
            after_batch(store, result.batch_id)  # deconfliction notices and watch alerts at once; never raises
        try:
            search_index.refresh(store)  # the new batch's names and identifiers into the search-key index
        except Exception:  # noqa: BLE001 - search scans what the index lacks; the batch stands
            log.exception("search index refresh after job %s failed", job.id)
        job.state = "done"
    except IngestRefused as exc:
        job.state, job.error = "refused", str(exc).replace(str(work) + "/", "")
    except Exception as exc:  # noqa: BLE001 - a job reports its failure rather than vanishing
        job.state, job.error = "failed", f"{type(exc).__name__}: the batch was rolled back"
    finally:
        job.finished = time.time()
        job.changed.set()
        shutil.rmtree(work, ignore_errors=True)


def _job(request: Request, user: User, job_id: str, action: str) -> Job:
    """The job if the user's agency ran it (any, for an admin); otherwise 404, audited under `action`."""
    job = _jobs(request).jobs.get(job_id)
    if job is None or (job.agency != user.agency and "admin" not in user.roles):
        record_audit(store_of(request), user, action, [f"job:{job_id}"], None, purpose="not found")
        raise Problem(404, "Not Found", f"no ingest job {job_id!r}")
    return job


def _job_entities(job: Job) -> list[str]:
    batch = (job.result or {}).get("batch_id")
    return [f"job:{job.id}"] + ([f"batch:{batch}"] if batch is not None else [])


@router.post("", status_code=202, summary="Upload a file with its mapping and markings; returns the ingest job")
async def upload(request: Request, user: UserDep,
                 file: Annotated[UploadFile, File(description="CSV, JSON lines, XLSX or FtM entity stream")],
                 agency: Annotated[str, Form(max_length=32, description="agency that holds the records")],
                 mapping: Annotated[str | None, Form(max_length=1_000_000,
                                                     description="FollowTheMoney mapping YAML (not for FtM streams)")] = None,
                 classification: Annotated[str, Form(max_length=64)] = "OFFICIAL",
                 caveat: Annotated[str | None, Form(max_length=200)] = None,
                 release_to: Annotated[str | None, Form(max_length=500)] = None,
                 grading: Annotated[str | None, Form(max_length=8)] = None,
                 handling: Annotated[str | None, Form(max_length=8)] = None) -> dict:
    agency = agency.strip().upper()
    if agency != user.agency and "admin" not in user.roles:
        raise Problem(403, "Forbidden", f"{user.name} may ingest only for {user.agency}")
    try:
        marking = BatchMarking.make(classification, caveat or None, release_to or None, grading or None,
                                    handling or None)
    except IngestRefused as exc:
        raise Problem(422, "Unprocessable Content", str(exc)) from None
    store = store_of(request)
    with store.engine.connect() as connection:
        if connection.execute(select(tables.agencies.c.code).where(tables.agencies.c.code == agency)).first() is None:
            raise Problem(422, "Unprocessable Content", f"no agency {agency!r}")
    work = Path(tempfile.mkdtemp(prefix="tessera-upload-"))
    name = _SAFE_NAME.sub("_", Path(file.filename or "upload").name).strip("._") or "upload"
    path = work / name
    size = 0
    with path.open("wb") as out:
        while chunk := await file.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD:
                shutil.rmtree(work, ignore_errors=True)
                raise Problem(413, "Content Too Large", f"uploads are limited to {MAX_UPLOAD >> 20} MB")
            out.write(chunk)
    mapping_path = None
    if mapping and mapping.strip():
        mapping_path = work / "mapping.yml"
        mapping_path.write_text(mapping, encoding="utf-8")
    jobs = _jobs(request)
    job = Job(secrets.token_hex(8), user.name, agency, name)
    jobs.jobs[job.id] = job
    record_audit(store, user, "ingest.upload", [f"agency:{agency}", f"job:{job.id}"], name,
                 purpose=str(marking.marking))
    jobs.worker.submit(_run, store, job, work, path, mapping_path, marking)
    return job.as_dict() | dict(events=f"{PREFIX}/ingest/{job.id}/events")


@router.get("/{job_id}", summary="An ingest job's state, progress and result")
def status(request: Request, user: UserDep, job_id: str) -> dict:
    job = _job(request, user, job_id, "ingest.status")
    record_audit(store_of(request), user, "ingest.status", _job_entities(job), None)
    return job.as_dict()


@router.get("/{job_id}/events", summary="An ingest job's progress as Server-Sent Events, until it ends",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request, user: UserDep, job_id: str) -> StreamingResponse:
    job = _job(request, user, job_id, "ingest.events")
    await run_in_threadpool(record_audit, store_of(request), user, "ingest.events", [f"job:{job.id}"], None)

    async def stream():
        last = None
        yield "retry: 1000\n\n"
        while True:
            job.changed.clear()
            now = job.as_dict()
            snapshot = (now["state"], now["records"])
            if snapshot != last:
                kind = "progress" if now["state"] in ("queued", "running") else now["state"]
                yield f"event: {kind}\ndata: {json.dumps(now, ensure_ascii=False)}\n\n"
                last = snapshot
            if now["state"] not in ("queued", "running") or await request.is_disconnected():
                return
            await asyncio.get_running_loop().run_in_executor(None, job.changed.wait, 0.5)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/{job_id}/quarantine", summary="Rows of the job's batch that could not make their entities")
def quarantine(request: Request, user: UserDep, job_id: str, limit: LimitQuery = 100, offset: OffsetQuery = 0) -> dict:
    job = _job(request, user, job_id, "quarantine.view")
    batch = (job.result or {}).get("batch_id")
    if batch is None:
        return page(request, [], 0, limit, offset, job=job.id, state=job.state)
    q = tables.quarantine
    where = (q.c.batch_id == batch) & (q.c.agency == job.agency)
    with store_of(request).engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(q).where(where)).scalar_one()
        rows = connection.execute(select(q.c.id, q.c.file_name, q.c.record_no, q.c.field, q.c.reason, q.c.raw,
                                         q.c.status).where(where).order_by(q.c.id).limit(limit).offset(offset))
        items = [dict(r._mapping) for r in rows]
    record_audit(store_of(request), user, "quarantine.view", [f"job:{job.id}", f"batch:{batch}"], None)
    return page(request, items, total, limit, offset, job=job.id, state=job.state, batch=batch)
