"""Resolution runs of the HTTP app as jobs: one at a time in a worker thread, a request joining the run still
queued, and each kept in this process's memory with its progress and counts."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger(__name__)
KEEP = 100  # finished jobs kept for their status, the oldest forgotten first


@dataclass
class ResolveJob:
    id: str
    user: str
    state: str = "queued"  # queued, running, done, failed
    mode: str | None = None  # "warm" or "full", once the run has chosen
    progress: str | None = None
    result: dict | None = None
    error: str | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    ended: threading.Event = field(default_factory=threading.Event)

    def as_dict(self) -> dict:
        return dict(id=self.id, user=self.user, state=self.state, mode=self.mode, progress=self.progress,
                    result=self.result, error=self.error, submitted=self.submitted, started=self.started,
                    finished=self.finished)


class ResolveJobs:
    """The resolution jobs of one app and the single worker that runs them."""

    def __init__(self):
        self.jobs: OrderedDict[str, ResolveJob] = OrderedDict()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tessera-resolve")
        self._lock = threading.Lock()

    def submit(self, user: str, run: Callable[[ResolveJob], dict]) -> tuple[ResolveJob, bool]:
        """(the job that will resolve what is new now, whether it was queued for this call): a job still queued
        will list every record new by the time it starts, so a second one behind it would find nothing."""
        with self._lock:
            for job in self.jobs.values():
                if job.state == "queued":
                    return job, False
            job = ResolveJob(secrets.token_hex(8), user)
            self.jobs[job.id] = job
            self._forget_old()
        self.worker.submit(self._run, job, run)
        return job, True

    def get(self, job_id: str) -> ResolveJob | None:
        return self.jobs.get(job_id)

    def _run(self, job: ResolveJob, run: Callable[[ResolveJob], dict]) -> None:
        with self._lock:
            job.state, job.started = "running", time.time()
        try:
            job.result = run(job)
            job.state = "done"
        except Exception as exc:  # noqa: BLE001 - a job reports its failure rather than vanishing
            log.exception("resolution job %s failed", job.id)
            job.state, job.error = "failed", f"{type(exc).__name__} (the server's log has the details)"
        finally:
            job.finished = time.time()
            job.ended.set()

    def _forget_old(self) -> None:
        finished = [k for k, job in self.jobs.items() if job.ended.is_set()]
        for k in finished[:max(len(finished) - KEEP, 0)]:
            del self.jobs[k]
