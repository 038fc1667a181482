"""Event offsets: what the stream may resume from, persisted only once the runs that handled the events
succeeded.

Two halves:

* :class:`OffsetTracker` (pure, in memory, one per socket): every event received, per topic in arrival
  order (= Fortnox's order within a topic), with the batches it went into. An event is *pending* until
  a batch holding it was applied (its DAG run's last task called :func:`mark_applied`) or nobody needs
  it (no trigger watches its tenant and purpose). The offset safe to persist for a topic is the one of
  the last event before the earliest pending event. Offsets are never compared: only arrival order
  and equality (duplicates) are used.
* the ledger functions: :func:`mark_applied` (called by the DAG run), :func:`applied_batches`,
  :func:`persisted_offsets` and :func:`save_offsets` (called by the stream).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from jetfort.events.protocol import Event, check_purpose
from jetfort.ledger.schema import event_applied, event_offsets
from jetfort.ledger.store import Ledger, utcnow

#: how many offsets per topic are remembered to drop duplicates (beyond those still held)
SEEN_WINDOW = 50_000


def stream_key_for(events_url: str, client_id: str) -> str:
    """The ledger key of one socket's offsets: the events URL and the Fortnox app (client id)."""
    return f"{events_url}#{client_id}"


# --------------------------------------------------------------------------------------- ledger
def mark_applied(ledger: Ledger, tenant: str, purpose: str, batch_ids: Iterable[str]) -> int:
    """Record that the run which handled ``batch_ids`` (of ``tenant`` and ``purpose``) succeeded.

    Idempotent: returns how many batches were newly recorded. The stream then lets the persisted
    offsets move past those batches' events.
    """
    check_purpose(purpose)
    ids = list(dict.fromkeys(str(b) for b in batch_ids))
    for batch in ids:
        if not batch or len(batch) > 64:
            raise ValueError(f"tenant {tenant!r}, purpose {purpose!r}: batch id {batch!r} is not a batch id")
    if not ids:
        return 0
    now = utcnow()
    rows = [{"batch": b, "tenant": tenant, "purpose": purpose, "applied_at": now} for b in ids]
    stmt = ledger._insert(event_applied).on_conflict_do_nothing(index_elements=["batch"])
    with ledger.transaction() as conn:
        before = set(conn.execute(sa.select(event_applied.c.batch).where(event_applied.c.batch.in_(ids))).scalars())
        fresh = [r for r in rows if r["batch"] not in before]
        if fresh:
            conn.execute(stmt, fresh)
    return len(fresh)


def applied_batches(ledger: Ledger, batch_ids: Iterable[str], *, chunk: int = 500) -> set[str]:
    """Which of ``batch_ids`` were applied."""
    ids = list(dict.fromkeys(batch_ids))
    found: set[str] = set()
    with ledger.engine.connect() as conn:
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            found.update(conn.execute(sa.select(event_applied.c.batch)
                                      .where(event_applied.c.batch.in_(part))).scalars())
    return found


def prune_applied(ledger: Ledger, older_than: dt.timedelta = dt.timedelta(days=15)) -> int:
    """Forget applied batches older than Fortnox's replay window (they can never come back)."""
    with ledger.transaction() as conn:
        result = conn.execute(sa.delete(event_applied).where(event_applied.c.applied_at < utcnow() - older_than))
    return int(result.rowcount or 0)


def persisted_offsets(ledger: Ledger, stream_key: str) -> dict[str, str]:
    """topic → the offset a (re)started stream resumes after."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(event_offsets.c.topic, event_offsets.c.offset)
                            .where(event_offsets.c.stream == stream_key))
        return {topic: offset for topic, offset in rows}


def save_offsets(ledger: Ledger, stream_key: str, offsets: Mapping[str, str]) -> None:
    if not offsets:
        return
    now = utcnow()
    with ledger.transaction() as conn:
        for topic, offset in offsets.items():
            stmt = ledger._insert(event_offsets).values(stream=stream_key, topic=topic, offset=offset,
                                                        updated_at=now)
            conn.execute(stmt.on_conflict_do_update(index_elements=["stream", "topic"],
                                                    set_={"offset": offset, "updated_at": now}))


# --------------------------------------------------------------------------------------- tracker
Need = tuple[str, str]  # (tenant, purpose) whose run must succeed before an event stops being pending


@dataclass(eq=False)
class _Entry:
    event: Event
    needs: set[Need]
    attached: bool = True

    @property
    def pending(self) -> bool:
        return bool(self.needs)


@dataclass(eq=False)
class Batch:
    """Events of one tenant and purpose handed to that tenant's trigger together."""

    id: str
    tenant: str
    purpose: str
    entries: list[_Entry]
    created: float
    superseded: bool = False
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.payload = {"tenant": self.tenant, "purpose": self.purpose, "batch": self.id,
                        "events": [e.event.as_payload() for e in self.entries]}

    @property
    def need(self) -> Need:
        return (self.tenant, self.purpose)

    def waiting(self) -> bool:
        return any(self.need in e.needs for e in self.entries)


def sweep_batch(tenant: str, purpose: str, now: float) -> Batch:
    """An empty batch, not tracked (it holds no event, so no offset waits for it): its only job is to
    make Airflow create a run, which takes the asset events Airflow left out of the runs before (see
    :class:`jetfort.events.stream.StreamSettings`). Its payload says ``"sweep": true``."""
    batch = Batch(uuid.uuid4().hex, tenant, purpose, [], now)
    batch.payload["sweep"] = True
    return batch


@dataclass
class OffsetTracker:
    """See the module docstring. Not thread-safe; one per socket, driven from one event loop."""

    persisted: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.persisted = dict(self.persisted)
        self._topics: dict[str, deque[_Entry]] = {}
        self._held: dict[tuple[str, str], _Entry] = {}
        self._seen: dict[str, OrderedDict[str, None]] = {}
        self._last_seen: dict[str, str] = {}
        self._batches: dict[str, Batch] = {}
        self._dirty: dict[str, str] = {}

    # receiving ----------------------------------------------------------------------------
    def receive(self, event: Event, *, needs: Iterable[Need]) -> _Entry | None:
        """Remember ``event`` in arrival order; ``None`` when it is not new (a duplicate, or an event
        replayed after :meth:`rewind` that this tracker already knows)."""
        topic, offset = event.topic, event.offset
        self._last_seen[topic] = offset
        queue = self._topics.setdefault(topic, deque())
        known = self._held.get((topic, offset))
        if known is not None:
            if not known.attached:  # replayed after a rewind: back into arrival order, as it was
                known.attached = True
                queue.append(known)
            return None
        seen = self._seen.setdefault(topic, OrderedDict())
        if offset in seen:  # seen, resolved and let go: a duplicate
            seen.move_to_end(offset)
            return None
        seen[offset] = None
        if len(seen) > SEEN_WINDOW:
            seen.popitem(last=False)
        entry = _Entry(event, set(needs))
        self._held[(topic, offset)] = entry
        queue.append(entry)
        return entry

    def rewind(self) -> None:
        """The next connection replays from older offsets: arrival order starts again.

        Held events are detached and go back in line when they are replayed; events this tracker
        let go are not taken again. Until the replay reaches them, detached events do not hold the
        offsets back (they come after the replay's start anyway)."""
        for topic, queue in self._topics.items():
            for entry in queue:
                entry.attached = False
                if not entry.pending:  # done: a replay of it is a duplicate (see the seen offsets)
                    self._held.pop((topic, entry.event.offset), None)
            queue.clear()
        self._last_seen.clear()

    def new_batch(self, tenant: str, purpose: str, entries: Iterable[_Entry], now: float) -> Batch:
        batch = Batch(uuid.uuid4().hex, tenant, purpose, list(entries), now)
        self._batches[batch.id] = batch
        return batch

    def resume_offsets(self, topics: Iterable[str]) -> dict[str, str | None]:
        """Where a new connection starts: the last offset this tracker saw, else the persisted one."""
        return {t: self._last_seen.get(t, self.persisted.get(t)) for t in topics}

    # resolving ----------------------------------------------------------------------------
    def pending_batch_ids(self) -> list[str]:
        return list(self._batches)

    def pending_needs(self) -> set[Need]:
        return {b.need for b in self._batches.values()}

    def applied(self, batch_ids: Iterable[str]) -> int:
        """Batches whose runs succeeded: their events stop waiting for that tenant and purpose."""
        count = 0
        for batch_id in batch_ids:
            batch = self._batches.pop(batch_id, None)
            if batch is None:
                continue
            count += 1
            for entry in batch.entries:
                entry.needs.discard(batch.need)
        # a redelivered copy of those events (or the batch it copied) has nothing left to wait for
        for other in [b for b in self._batches.values() if not b.waiting()]:
            self._batches.pop(other.id, None)
        return count

    def drop(self, tenant: str, purpose: str) -> int:
        """Nobody will handle these batches any more (their trigger is gone): stop waiting for them."""
        need = (tenant, purpose)
        gone = [b for b in self._batches.values() if b.need == need]
        for batch in gone:
            self._batches.pop(batch.id, None)
            for entry in batch.entries:
                entry.needs.discard(need)
        return len(gone)

    def stale(self, now: float, age: float) -> list[Batch]:
        """Batches waiting longer than ``age`` seconds (their run failed or never came)."""
        return [b for b in self._batches.values() if not b.superseded and now - b.created >= age and b.waiting()]

    def redeliver(self, batch: Batch, now: float) -> Batch:
        """A new batch (new id) with the events still waiting; either one applied resolves both."""
        fresh = self.new_batch(batch.tenant, batch.purpose, [e for e in batch.entries if batch.need in e.needs], now)
        batch.superseded = True
        return fresh

    # offsets ------------------------------------------------------------------------------
    def advance(self) -> dict[str, str]:
        """Move each topic's safe offset past its resolved head; returns offsets not yet saved."""
        for topic, entries in self._topics.items():
            last: str | None = None
            while entries and not entries[0].pending:
                entry = entries.popleft()
                self._held.pop((topic, entry.event.offset), None)
                last = entry.event.offset
            if last is not None and self.persisted.get(topic) != last:
                self.persisted[topic] = last
                self._dirty[topic] = last
        return dict(self._dirty)

    def saved(self, offsets: Mapping[str, str]) -> None:
        for topic, offset in offsets.items():
            if self._dirty.get(topic) == offset:
                del self._dirty[topic]

    def held(self, topic: str) -> int:
        """Events of ``topic`` in line (pending, or resolved behind a pending one)."""
        return len(self._topics.get(topic, ()))
