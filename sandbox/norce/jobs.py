"""Connect import jobs: Queued(6) → Validating(5) → Initialized(1) → Succeeded(2) / Failed(3) / Validation failed(4).

An import is stored when it is posted and applied only when its job reaches its final state, as Norce's
workers do (norce-api.md §4.1, §4.7). Jobs move either with the clock (``job_delay_seconds``: the three
steps are spread evenly over that many seconds, checked whenever anything reads the catalog, or by the
background thread) or only when a test calls :meth:`JobQueue.advance` / :meth:`JobQueue.process_all`
(``job_delay_seconds=None``), so every life-cycle test is deterministic.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from sandbox.norce.catalog_wire import LOCAL_TZ, BoundRow, ImportHeader

WIRE_TZ = LOCAL_TZ  # offset-less DateTimes are shop-local (see CATALOG_CHOICES)
IMPORTED_ROW_MAX = 1000  # ImportedRow is "possibly truncated"


class JobStatus(IntEnum):
    INITIALIZED = 1
    SUCCEEDED = 2
    FAILED = 3
    VALIDATION_FAILED = 4
    VALIDATING = 5
    QUEUED = 6


FINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.VALIDATION_FAILED})


class Severity(IntEnum):
    INFORMATION = 1
    WARNING = 2  # the row was partly imported (or ignored)
    ERROR = 3  # the row was not imported


def wire_time(value: datetime | None) -> str | None:
    """A DateTime as Norce writes it in job data: local time, no offset, milliseconds."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(WIRE_TZ).replace(tzinfo=None).isoformat(timespec="milliseconds")


def run_time(delta: timedelta) -> str:
    """A .NET TimeSpan as text: ``hh:mm:ss.fffffff``."""
    micros = max(0, int(delta.total_seconds() * 1_000_000))
    seconds, micro = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{micro:06d}0"


@dataclass
class CatalogFaults:
    """Norce-specific knobs: fail the next N jobs, refuse rows of some SKUs, the time a job takes."""

    fail_next_jobs: int = 0
    reject_skus: list[str] = field(default_factory=list)
    job_delay_seconds: float | None = 0.0

    def update(self, **changes: Any) -> None:
        """Change some knobs; unknown names or wrong types raise ``ValueError`` naming the knob."""
        for key, value in changes.items():
            if key == "fail_next_jobs":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"fail_next_jobs must be a whole number >= 0, got {value!r}")
                self.fail_next_jobs = value
            elif key == "reject_skus":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"reject_skus must be a list of part numbers, got {value!r}")
                self.reject_skus = list(value)
            elif key == "job_delay_seconds":
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                          or value < 0):
                    raise ValueError(f"job_delay_seconds must be a number >= 0 or null, got {value!r}")
                self.job_delay_seconds = None if value is None else float(value)
            else:
                raise ValueError(f"unknown catalog fault knob {key!r}; known: "
                                 "fail_next_jobs, reject_skus, job_delay_seconds")

    def as_dict(self) -> dict[str, Any]:
        return {"fail_next_jobs": self.fail_next_jobs, "reject_skus": list(self.reject_skus),
                "job_delay_seconds": self.job_delay_seconds}


@dataclass
class LogEntry:
    severity: Severity
    message: str
    at: datetime
    row: str | None = None

    def dto(self) -> dict[str, Any]:
        return {"SeverityId": int(self.severity), "Message": self.message, "TimeStamp": wire_time(self.at),
                "ImportedRow": self.row}


@dataclass
class Job:
    """One import job: what was posted, where it stands, what it did."""

    job_id: int
    operation: str
    header: ImportHeader
    rows: list[BoundRow]
    start: datetime
    delay: float | None
    fail: bool
    reject: frozenset[str]
    status: JobStatus = JobStatus.QUEUED
    last_updated: datetime | None = None
    stop: datetime | None = None
    logs: list[LogEntry] = field(default_factory=list)
    inserts: int = 0
    updates: int = 0
    failures: int = 0
    ignored: int = 0
    effects: list[str] = field(default_factory=list)  # e.g. FullFile deactivations, for inspection

    @property
    def storage_name(self) -> str:
        return f"connect/{self.header.account_id}/{self.operation}/{self.job_id}.json"

    @property
    def valid_rows(self) -> list[BoundRow]:
        return [r for r in self.rows if r.value is not None]

    def log(self, severity: Severity, message: str, at: datetime, row: Any = None) -> None:
        text = None if row is None else json.dumps(row, default=str, ensure_ascii=False)[:IMPORTED_ROW_MAX]
        self.logs.append(LogEntry(severity, message, at, text))

    def dto(self) -> dict[str, Any]:
        """``JobDto`` as Job/Get answers it."""
        end = self.stop or self.last_updated or self.start
        return {"JobId": self.job_id, "StatusId": int(self.status), "IsFinished": self.status in FINAL,
                "Totals": len(self.rows), "Fail": self.failures, "Updates": self.updates, "Inserts": self.inserts,
                "Start": wire_time(self.start), "Stop": wire_time(self.stop),
                "LastUpdated": wire_time(self.last_updated or self.start), "RunTime": run_time(end - self.start),
                "StorageName": self.storage_name}

    def seen(self) -> dict[str, Any]:
        """What the sandbox saw and did, for inspection (header flags included)."""
        return {"JobId": self.job_id, "Operation": self.operation, "StatusId": int(self.status),
                "Header": dict(self.header.raw), "AccountId": self.header.account_id,
                "FullFile": self.header.full_file,
                "FieldsThatAreSet": {k: self.header.names(k) for k in sorted(self.header.fields)
                                     if self.header.fields[k]},
                "Rows": len(self.rows), "Inserts": self.inserts, "Updates": self.updates, "Fail": self.failures,
                "Ignored": self.ignored, "Effects": list(self.effects)}


Applier = Callable[[Job, datetime], None]


class JobQueue:
    """All jobs of one sandbox; ``apply`` writes a succeeded job's rows into the catalog."""

    def __init__(self, clock: Callable[[], datetime], apply: Applier, faults: CatalogFaults,
                 lock: threading.RLock, first_id: int = 70001) -> None:
        self._clock = clock
        self._apply = apply
        self.faults = faults
        self._lock = lock
        self._next_id = first_id
        self.jobs: dict[int, Job] = {}
        self._stop_background: threading.Event | None = None

    def now(self) -> datetime:
        value = self._clock()
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def submit(self, operation: str, header: ImportHeader, rows: list[BoundRow]) -> Job:
        """Store a posted import as a Queued job; the fault knobs in force now decide its fate."""
        with self._lock:
            fail = self.faults.fail_next_jobs > 0
            if fail:
                self.faults.fail_next_jobs -= 1
            job = Job(self._next_id, operation, header, rows, self.now(), self.faults.job_delay_seconds, fail,
                      frozenset(self.faults.reject_skus))
            self._next_id += 1
            self.jobs[job.job_id] = job
            return job

    def response(self, job: Job) -> dict[str, Any]:
        """``JobResponse`` of a freshly submitted job."""
        failures = [r for r in job.rows if r.error]
        messages = [f"{r.label()}: {r.error}" for r in failures]
        return {"StatusCode": "OK", "Description": f"Job {job.job_id} queued ({job.operation}).",
                "JobId": str(job.job_id),
                "ValidationSummary": {"NrOfItemsInTotal": len(job.rows), "NrOfValidationFailures": len(failures),
                                      "Messages": messages}}

    def tick(self) -> None:
        """Move clock-driven jobs to the state their elapsed time has reached."""
        with self._lock:
            now = self.now()
            for job in self.jobs.values():
                while job.delay is not None and job.status not in FINAL:
                    due = job.start + timedelta(seconds=job.delay * self._position(job) / 3)
                    if due > now:
                        break
                    self._step(job, due)

    def advance(self, steps: int = 1) -> None:
        """Move every unfinished job ``steps`` states on (tests drive the life cycle with this)."""
        with self._lock:
            for _ in range(steps):
                for job in self.jobs.values():
                    if job.status not in FINAL:
                        self._step(job, self.now())

    def process_all(self) -> None:
        """Run every unfinished job to its final state."""
        with self._lock:
            for job in self.jobs.values():
                while job.status not in FINAL:
                    self._step(job, self.now())

    @staticmethod
    def _position(job: Job) -> int:
        return {JobStatus.QUEUED: 1, JobStatus.VALIDATING: 2, JobStatus.INITIALIZED: 3}[job.status]

    def _step(self, job: Job, at: datetime) -> None:
        job.last_updated = at
        if job.status is JobStatus.QUEUED:
            job.status = JobStatus.VALIDATING
            job.log(Severity.INFORMATION, "Starting import.", at)
            for row in job.rows:
                if row.error:
                    job.failures += 1
                    job.log(Severity.ERROR, f"{row.label()}: {row.error}", at, row.raw)
        elif job.status is JobStatus.VALIDATING:
            if job.rows and not job.valid_rows:
                self._finish(job, JobStatus.VALIDATION_FAILED, at, None)  # the row errors say why
            else:
                job.status = JobStatus.INITIALIZED
        elif job.status is JobStatus.INITIALIZED:
            if job.fail:
                self._finish(job, JobStatus.FAILED, at, "Import failed: an unexpected error occurred while "
                             "processing the job; nothing was imported.")
            else:
                self._apply(job, at)
                self._finish(job, JobStatus.SUCCEEDED, at, None)

    @staticmethod
    def _finish(job: Job, status: JobStatus, at: datetime, error: str | None) -> None:
        if error:
            job.log(Severity.ERROR, error, at)
        job.log(Severity.INFORMATION, "Import finished.", at)
        job.status = status
        job.stop = job.last_updated = at

    def get(self, job_id: int) -> Job | None:
        self.tick()
        return self.jobs.get(job_id)

    def start_background(self, interval: float = 0.25) -> None:
        """Tick on a daemon thread (live stack), so jobs finish even when nobody polls."""
        if self._stop_background is not None:
            return
        stop = threading.Event()
        self._stop_background = stop

        def loop() -> None:
            while not stop.wait(interval):
                self.tick()

        threading.Thread(target=loop, name="norce-catalog-jobs", daemon=True).start()

    def stop_background(self) -> None:
        if self._stop_background is not None:
            self._stop_background.set()
            self._stop_background = None
