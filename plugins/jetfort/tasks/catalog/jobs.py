"""Catalog writes a shop settles later (Norce Commerce import jobs), kept in the ledger until they settle.

A write returns per-item ``results`` (settled now, handled by the step as ever) and ``jobs`` (queued).
An item in a job is *not* written yet: each job is recorded at once as a ledger record (kind
``shop_job``, key ``<shop>:<job id>``, state ``open``) holding the job, the quarantine kind, the
snapshot entities and, per item, the snapshot key, the value the snapshot gets when the job succeeds
and the item itself (the quarantine payload). A worker that dies after the write loses nothing.

The catalog DAG's sensor (``await_jobs``, reschedule mode) calls :func:`settle_open_jobs` on each poke:

* **succeeded** → the snapshot cells of the items the shop did not name as failed are saved (written),
  their open quarantine entries resolved; each failed item is quarantined with the shop's message;
* **failed** → every item is quarantined (with its own message when the shop names it, else the job's);
* **running** → stays open; a job still running at the sensor's timeout is settled by a later run.

Settling applies its effects first and closes the record last (compare-and-set ``open`` → state), so a
poke that dies half way is repeated by the next one; the effects are idempotent. An item also carried by
a newer open job of the same shop and kind is left to that job (the shop holds the newer value).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jetfort.ledger.store import Record
from jetfort.shop.errors import ShopError, ShopNotFound
from jetfort.shop.interface import JobOutcome, JobState, PendingJob, ShopBackend
from jetfort.tasks.catalog.base import SHOP, SUMMARY_COLUMNS, CatalogRun, Outcome

log = logging.getLogger(__name__)

#: Ledger record kind of a queued catalog write; its states.
SHOP_JOB = "shop_job"
OPEN, SUCCEEDED, FAILED, ABANDONED = "open", "succeeded", "failed", "abandoned"
#: Quarantine reason of an item the shop refused (at once or in a job).
REJECTED_BY_SHOP = "rejected_by_shop"
#: The summary columns of catalog runs (the step counts plus the shop jobs).
JOB_COLUMNS = ["pending_jobs", "job_failures"]
CATALOG_SUMMARY_COLUMNS = [*SUMMARY_COLUMNS, *JOB_COLUMNS]
JOBS_ENTITY = "shop jobs"


@dataclass
class WriteOutcome(Outcome):
    """:class:`Outcome` plus the keys a shop job carries (neither written nor refused yet)."""

    pending: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JobItem:
    """One item of a queued write: its snapshot key, the value saved when it succeeds, the item itself."""

    key: str
    value: str
    payload: Any = None


@dataclass(frozen=True)
class SnapshotTarget:
    """A shop-side snapshot entity a succeeded item is saved to (``seen``: also as the value the shop holds)."""

    entity: str
    seen: bool


def job_key(shop_key: str, job_id: str) -> str:
    return f"{shop_key}:{job_id}"


class ShopJobs:
    """Records the queued writes of one catalog run; counts them for the run's summary."""

    def __init__(self, run: CatalogRun) -> None:
        self.run = run
        self.recorded = 0  # jobs this run recorded (the step's ``pending_jobs``)

    def record(self, shop_key: str, kind: str, jobs: Sequence[PendingJob], items: Mapping[str, JobItem],
               targets: Sequence[SnapshotTarget]) -> set[str]:
        """Record each job in the ledger; the snapshot keys of the items they carry.

        ``items`` maps the shop's item key (as in :attr:`PendingJob.keys`) to the item; keys of a job
        that ``items`` lacks (the step settled them from ``results``) are not part of the record.
        """
        pending: set[str] = set()
        write = job_key(shop_key, jobs[0].job_id) if jobs else ""
        for job in jobs:
            carried = {k: items[k] for k in job.keys if k in items}
            unknown = [k for k in job.keys if k not in items]
            if unknown:
                log.warning("tenant %s: shop %s job %s carries keys jetfort did not send or settled: %s",
                            self.run.tenant, shop_key, job.job_id, unknown[:10])
            pending.update(item.key for item in carried.values())
            self.recorded += 1
            log.info("tenant %s: shop %s queued %s job %s with %d item(s); written when it succeeds",
                     self.run.tenant, shop_key, job.operation, job.job_id, len(carried))
            if self.run.dry_run:
                continue
            detail = {"job": job.as_dict(), "write": write, "shop": shop_key, "kind": kind, "run_id": self.run.run_id,
                      "targets": [{"entity": t.entity, "seen": t.seen} for t in targets],
                      "items": {k: {"key": i.key, "value": i.value, "payload": i.payload} for k, i in carried.items()}}
            self.run.ledger.ensure_record(self.run.tenant, SHOP_JOB, job_key(shop_key, job.job_id),
                                          state=OPEN, detail=detail)
        return pending


# ================================================================================ settling
@dataclass
class JobTally:
    """What one settling pass did (the sensor's summary row)."""

    checked: int = 0
    written: int = 0
    job_failures: int = 0
    still_open: list[str] = field(default_factory=list)

    def row(self, entity: str = JOBS_ENTITY) -> dict[str, Any]:
        return {"entity": entity, "read": self.checked, "changed": 0, "written": self.written, "skipped": 0,
                "quarantined": self.job_failures, "echo_suppressed": 0, "pending_jobs": len(self.still_open),
                "job_failures": self.job_failures}


@dataclass(frozen=True)
class OpenJob:
    """An open ``shop_job`` record, read back."""

    record_id: int
    source_key: str
    job: PendingJob
    write: str
    shop: str
    kind: str
    targets: tuple[SnapshotTarget, ...]
    items: dict[str, JobItem]

    @classmethod
    def of(cls, record: Record) -> OpenJob:
        detail = record.detail or {}
        items = {str(k): JobItem(str(v["key"]), str(v["value"]), v.get("payload"))
                 for k, v in dict(detail.get("items") or {}).items()}
        targets = tuple(SnapshotTarget(str(t["entity"]), bool(t["seen"])) for t in detail.get("targets") or [])
        return cls(record.id, record.source_key, PendingJob.from_dict(detail["job"]),
                   str(detail.get("write") or record.source_key), str(detail["shop"]), str(detail["kind"]),
                   targets, items)


def open_jobs(run: CatalogRun) -> list[OpenJob]:
    """The tenant's open shop jobs, oldest first."""
    return [OpenJob.of(r) for r in run.ledger.records(run.tenant, SHOP_JOB, states=[OPEN])]


def _writes(jobs: Sequence[OpenJob]) -> list[list[OpenJob]]:
    """Open jobs grouped by the write that queued them, oldest write first."""
    groups: dict[str, list[OpenJob]] = {}
    for job in sorted(jobs, key=lambda j: j.record_id):
        groups.setdefault(job.write, []).append(job)
    return list(groups.values())


def settle_open_jobs(run: CatalogRun, shop: Callable[[str], ShopBackend] | None = None) -> JobTally:
    """Ask the shop about every open job of the tenant and record what the settled writes did.

    A write's jobs settle together (an item two jobs carry, e.g. a product and its on-hands, is written
    only when both took it), once none of them is running.
    """
    shop = shop or run.rt.shop
    tally = JobTally()
    writes = _writes(open_jobs(run))
    newer = _newer_keys(writes)
    for group in writes:
        tally.checked += len(group)
        first = group[0]
        try:
            backend = shop(first.shop)
        except KeyError:
            log.warning("tenant %s: shop %s is no longer in the rules; its job(s) %s are abandoned (nothing "
                        "recorded)", run.tenant, first.shop, [j.job.job_id for j in group])
            _close(run, {j.source_key: (ABANDONED, f"shop {first.shop} is no longer in the tenant rules")
                         for j in group})
            continue
        outcomes = [_outcome(run, backend, job) for job in group]
        settled = [o for o in outcomes if o is not None and o.state != JobState.RUNNING]
        if len(settled) < len(group):
            tally.still_open.extend(j.source_key for j in group)
            continue
        _apply(run, group, settled, newer[first.write], tally)
    if tally.still_open:
        log.info("tenant %s: %d shop job(s) still running: %s", run.tenant, len(tally.still_open), tally.still_open)
    return tally


def _newer_keys(writes: Sequence[Sequence[OpenJob]]) -> dict[str, set[str]]:
    """Per write: its snapshot keys that a newer open write to the same shop and kind also carries."""
    out: dict[str, set[str]] = {}
    later: dict[tuple[str, str], set[str]] = {}
    for group in reversed(writes):
        seen = later.setdefault((group[0].shop, group[0].kind), set())
        keys = {item.key for job in group for item in job.items.values()}
        out[group[0].write] = keys & seen
        seen |= keys
    return out


def _outcome(run: CatalogRun, backend: ShopBackend, job: OpenJob) -> JobOutcome | None:
    """The job's outcome; None (ask again later) when the shop could not be reached."""
    try:
        return backend.job_outcome(job.job)
    except ShopNotFound as exc:
        return JobOutcome(JobState.FAILED, message=f"the shop does not know job {job.job.job_id}: {exc.message}")
    except ShopError as exc:
        if not exc.retryable:
            raise
        log.warning("tenant %s: shop %s job %s: %s; asking again at the next poke",
                    run.tenant, job.shop, job.job.job_id, exc)
        return None


def _verdicts(group: Sequence[OpenJob], outcomes: Sequence[JobOutcome]) -> dict[str, tuple[JobItem, str | None]]:
    """Per snapshot key of a settled write: the item and the shop's message when a job refused it."""
    out: dict[str, tuple[JobItem, str | None]] = {}
    for job, outcome in zip(group, outcomes, strict=True):
        for shop_key, item in job.items.items():
            message = None
            if shop_key in outcome.failed or outcome.state == JobState.FAILED:
                text = outcome.failed.get(shop_key) or outcome.message or f"job {job.job.job_id} failed"
                message = f"{text} [job {job.job.job_id}]"
            earlier = out.get(item.key)
            out[item.key] = (item, message if earlier is None or earlier[1] is None else earlier[1])
    return out


def _apply(run: CatalogRun, group: Sequence[OpenJob], outcomes: Sequence[JobOutcome], superseded: set[str],
           tally: JobTally) -> None:
    """Save what the write's jobs wrote, quarantine what they refused, then close their records."""
    first = group[0]
    written: list[JobItem] = []
    for key, (item, refusal) in _verdicts(group, outcomes).items():
        if key in superseded:
            continue  # a newer write carries this item: its outcome decides
        if refusal is None:
            written.append(item)
            continue
        run.quarantine(first.kind, f"{first.shop}:{key}", REJECTED_BY_SHOP, refusal, payload=item.payload)
        tally.job_failures += 1
    rows = [(i.key, i.value, None) for i in written]
    for target in first.targets:
        run.save(SHOP, target.entity, rows, written=True)
        if target.seen:
            run.save(SHOP, target.entity, rows)
    run.resolve(first.kind, (f"{first.shop}:{i.key}" for i in written))
    tally.written += len(written)
    _close(run, {job.source_key: (SUCCEEDED if o.state == JobState.SUCCEEDED else FAILED,
                                  o.message or f"{len(o.failed)} row(s) refused")
                 for job, o in zip(group, outcomes, strict=True)})
    log.info("tenant %s: shop %s job(s) %s settled: %d item(s) written", run.tenant, first.shop,
             [j.job.job_id for j in group], len(written))


def _close(run: CatalogRun, states: Mapping[str, tuple[str, str]]) -> None:
    """Close job records in one transaction (only those still open: a concurrent sensor may have won)."""
    if not run.dry_run:
        run.ledger.transition_many(run.tenant, SHOP_JOB, [
            {"source_key": key, "state": state, "step": "settle", "expect": [OPEN], "message": message,
             "run_id": run.run_id} for key, (state, message) in states.items()])


def pending_items(results_keys: Iterable[str], jobs: Sequence[PendingJob]) -> set[str]:
    """The shop item keys a write queued (in a job) and did not also settle in ``results``."""
    settled = set(results_keys)
    return {k for job in jobs for k in job.keys if k not in settled}
