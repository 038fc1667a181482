"""The ledger store: what jetfort synced, per record, with its audit trail.

Everything here is SQL through SQLAlchemy Core and works the same on SQLite and PostgreSQL.
Writes that must not race (state transitions, quarantine, cursors) are single statements or
compare-and-set inside one transaction; upserts use each dialect's ``ON CONFLICT``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from jetfort.ledger import engine as engine_mod
from jetfort.ledger import migrate
from jetfort.ledger.crypto import resolve_key
from jetfort.ledger.inbox import InboxStore
from jetfort.ledger.packing import pack_bytes
from jetfort.ledger.schema import audit_runs, catalog_snapshots, cursors, quarantine, record_audit, records


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything the ledger stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


log = logging.getLogger(__name__)

#: The audit row of one step, given its Airflow run as ``run_id`` (the row refers to its ``audit_runs``
#: row, which :meth:`Ledger._ensure_runs` wrote first); built once (a statement built per call costs more
#: CPU than the SQL).
_AUDIT_INSERT = sa.insert(record_audit).values(
    run=sa.select(audit_runs.c.id).where(audit_runs.c.run_id == sa.bindparam("run_id")).scalar_subquery())
#: runs a process remembers as written (beyond it, it forgets them all and writes them again, harmlessly)
_RUNS_REMEMBERED = 1024


@functools.lru_cache(maxsize=64)
def _update_statement(names: frozenset[str], count_attempt: bool) -> sa.Update:
    """The compare-and-set UPDATE of :meth:`Ledger._transition` for one shape of change, with bound
    parameters: built once per shape (a handful exist) instead of once per record, because building
    and cache-keying a Core statement with literal values cost more CPU than running it. ``v_<column>``
    parameters are the values set, ``w_<column>`` the conditions, ``w_expect`` the expected states."""
    values: dict[str, Any] = {name[2:]: sa.bindparam(name, type_=records.c[name[2:]].type)
                              for name in sorted(names) if name.startswith("v_")}
    if count_attempt:
        values["attempts"] = records.c.attempts + 1
    cond = [records.c.tenant == sa.bindparam("w_tenant"), records.c.kind == sa.bindparam("w_kind"),
            records.c.source_key == sa.bindparam("w_source_key")]
    if "w_expect" in names:
        cond.append(records.c.state.in_(sa.bindparam("w_expect", expanding=True)))
    return sa.update(records).where(*cond).values(**values).returning(records.c.id)


#: Fields a change overwrites only when it gives them (a link once made is never lost by a later step).
_TARGET_FIELDS = ("target_type", "target_key", "payload_hash", "detail")
#: Records by source keys: built once (a statement with the keys as literals is built and cache-keyed
#: per call, which cost more CPU than reading the rows).
_GET_MANY = sa.select(records).where(records.c.tenant == sa.bindparam("tenant"), records.c.kind == sa.bindparam("kind"),
                                     records.c.source_key.in_(sa.bindparam("keys", expanding=True)))
_GET_CURSORS = sa.select(cursors.c.name, cursors.c.value).where(
    cursors.c.tenant == sa.bindparam("tenant"), cursors.c.name.in_(sa.bindparam("names", expanding=True)))
#: Source keys per query when a batch reads its records (SQLite allows 32766 parameters).
_BATCH_CHUNK = 500


@dataclass(slots=True)
class _Change:
    """One change of :meth:`Ledger.transition_many`, checked and normalised (see :func:`_change`)."""

    source_key: str
    state: str
    step: str
    expect: frozenset[str] | None
    values: dict[str, Any]  # the target fields given
    count_attempt: bool
    message: str | None
    payload: Any
    run_id: str | None


def _change(source_key: str, state: str, *, step: str, expect: Iterable[str] | None = None,
            target_type: str | None = None, target_key: str | None = None, payload_hash: str | None = None,
            detail: Mapping[str, Any] | None = None, message: str | None = None, payload: Any = None,
            run_id: str | None = None, count_attempt: bool = False) -> _Change:
    """The keywords of :meth:`Ledger.transition` (a wrong or missing one raises ``TypeError`` as there)."""
    values = _given_fields(target_type, target_key, payload_hash, detail)
    return _Change(source_key, state, step, None if expect is None else frozenset(expect), values,
                   bool(count_attempt), message, payload, run_id)


def _given_fields(target_type: str | None, target_key: str | None, payload_hash: str | None,
                  detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """The record fields a step sets: only those given, so a link once made is never lost."""
    given = (("target_type", target_type), ("target_key", target_key), ("payload_hash", payload_hash))
    values: dict[str, Any] = {name: value for name, value in given if value is not None}
    if detail is not None:
        values["detail"] = dict(detail)
    return values


@dataclass(slots=True)
class _Row:
    """A record of a batch as read under lock, and what the batch's changes make of it."""

    id: int
    before: str  # the state read: the UPDATE's guard
    state: str
    values: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    changed: bool = False


class _BatchMismatch(Exception):
    """A batch UPDATE changed other rows than decided (cannot happen with the rows locked; if it ever
    does, the transaction is rolled back and the batch runs again record by record)."""


def _json_serializer(dialect: sa.Dialect) -> Any:
    # what SQLAlchemy's JSON type serialises with on this engine (``json_serializer=`` of create_engine)
    return getattr(dialect, "_json_serializer", None) or json.dumps


# The batch path of Ledger.transition_many, per dialect, as SQL text run with few statements per batch.
# SQLite: plain statements run straight on the driver (executemany), values converted as SQLAlchemy's
# column types would (Core's per-row parameter handling cost more CPU than SQLite's UPDATE itself).
# PostgreSQL: the rows of a batch travel as arrays (unnest), a few round trips per batch, not one per row;
# JSON values as the column type writes them (packing.pack_bytes, bytea).

def _sqlite_batch_read(count: int) -> str:
    return ("SELECT id, source_key, state FROM records WHERE tenant = ? AND kind = ? AND source_key IN ("
            + ", ".join("?" * count) + ")")


@functools.lru_cache(maxsize=16)
def _sqlite_batch_update(fields: tuple[str, ...]) -> str:
    """The guarded UPDATE of one record: parameters state, updated_at, attempts increment, the target
    ``fields`` given, then id and the state read (the guard)."""
    return ("UPDATE records SET state = ?, updated_at = ?, attempts = attempts + ?"
            + "".join(f", {name} = ?" for name in fields) + " WHERE id = ? AND state = ?")


_SQLITE_AUDIT_INSERT = ("INSERT INTO record_audit (record_id, at, step, state, message, payload, run)"
                        " VALUES (?, ?, ?, ?, ?, ?, (SELECT id FROM audit_runs WHERE run_id = ?))")

#: Lock the batch's rows before deciding, always in the same (byte) order of source keys, so that two
#: batches over the same keys queue behind each other instead of deadlocking.
_POSTGRESQL_BATCH_READ = sa.text(
    "SELECT id, source_key, state FROM records WHERE tenant = :tenant AND kind = :kind"
    ' AND source_key = ANY(CAST(:keys AS VARCHAR[])) ORDER BY source_key COLLATE "C" FOR UPDATE')
_POSTGRESQL_COLUMN_TYPES = {"target_type": "VARCHAR", "target_key": "VARCHAR", "payload_hash": "VARCHAR",
                            "detail": "BYTEA"}


@functools.lru_cache(maxsize=16)
def _postgresql_batch_update(fields: tuple[str, ...]) -> sa.TextClause:
    """One guarded UPDATE for every record of one shape of change; returns the ids it updated."""
    sets = "".join(f", {name} = u.{name}" for name in fields)
    arrays = "".join(f", CAST(:{name} AS {_POSTGRESQL_COLUMN_TYPES[name]}[])" for name in fields)
    return sa.text(
        f"UPDATE records SET state = u.state, updated_at = :now, attempts = records.attempts + u.inc{sets}"
        " FROM unnest(CAST(:id AS INTEGER[]), CAST(:before AS VARCHAR[]), CAST(:state AS VARCHAR[]),"
        f" CAST(:inc AS INTEGER[]){arrays}) AS u(id, before, state, inc{''.join(', ' + f for f in fields)})"
        " WHERE records.id = u.id AND records.state = u.before RETURNING records.id")


_POSTGRESQL_AUDIT_INSERT = sa.text(
    "INSERT INTO record_audit (record_id, at, step, state, message, payload, run)"
    " SELECT u.record_id, :at, u.step, u.state, u.message, u.payload,"
    " (SELECT r.id FROM audit_runs r WHERE r.run_id = u.run_id)"
    " FROM unnest(CAST(:record_id AS INTEGER[]), CAST(:step AS VARCHAR[]), CAST(:state AS VARCHAR[]),"
    " CAST(:message AS TEXT[]), CAST(:payload AS BYTEA[]), CAST(:run_id AS VARCHAR[]))"
    " AS u(record_id, step, state, message, payload, run_id)")


@dataclass(frozen=True)
class Record:
    id: int
    tenant: str
    kind: str
    source_key: str
    state: str
    target_type: str | None
    target_key: str | None
    payload_hash: str | None
    attempts: int
    detail: dict[str, Any] | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Record:
        """From a row of ``select(records)`` (the table's columns are this class's fields, in order)."""
        (id_, tenant, kind, source_key, state, target_type, target_key, payload_hash, attempts, detail,
         created_at, updated_at) = row
        return cls(id_, tenant, kind, source_key, state, target_type, target_key, payload_hash, attempts, detail,
                   _utc(created_at), _utc(updated_at))


@dataclass(frozen=True)
class QuarantineEntry:
    tenant: str
    kind: str
    source_key: str
    reason: str
    field: str | None
    code: str | None
    message: str
    payload: Any
    attempts: int
    first_at: dt.datetime
    last_at: dt.datetime
    resolved_at: dt.datetime | None


class Ledger(InboxStore):
    """Facade over the ledger database; cheap to build, engines are created lazily once."""

    def __init__(self, engine: sa.Engine, *, secret_key: str | None = None) -> None:
        self.engine = engine
        self._secret_key = secret_key
        self._runs_written: set[str] = set()  # run ids whose audit_runs row this process saw committed

    # construction -------------------------------------------------------------------------
    @classmethod
    def from_url(cls, url: str, *, secret_key: str | None = None, migrate_schema: bool = True) -> Ledger:
        ledger = cls(engine_mod.make_engine(url), secret_key=secret_key)
        if migrate_schema:
            ledger.migrate()
        return ledger

    @classmethod
    def from_conn_id(cls, conn_id: str = engine_mod.DEFAULT_CONN_ID) -> Ledger:
        """The ledger named by ``conn_id`` (see :func:`jetfort.ledger.engine.resolve`): a connection
        that cannot be read raises :class:`~jetfort.ledger.engine.LedgerUnavailable`, a database
        other than SQLite without a key :class:`~jetfort.ledger.crypto.SecretKeyMissing`."""
        target = engine_mod.resolve(conn_id)
        return cls.from_url(target.url, secret_key=target.secret_key)

    def migrate(self) -> None:
        migrate.upgrade(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def secret_key(self) -> str:
        path = self.engine.url.database if self.dialect == "sqlite" else None
        return resolve_key(self._secret_key, path)

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _audit_transaction(self) -> Iterator[tuple[sa.Connection, set[str]]]:
        """A transaction that writes audit rows, and the run ids :meth:`_ensure_runs` wrote in it: those
        are remembered once it committed (a rolled-back one wrote nothing to remember)."""
        written: set[str] = set()
        with self.transaction() as conn:
            yield conn, written
        if len(self._runs_written) + len(written) > _RUNS_REMEMBERED:
            self._runs_written.clear()
        self._runs_written |= written

    def _ensure_runs(self, conn: sa.Connection, run_ids: Iterable[str | None], written: set[str]) -> None:
        """The ``audit_runs`` rows of ``run_ids``, before audit rows refer to them (sorted, so that
        concurrent writers of the same new runs queue rather than deadlock)."""
        new = sorted({run_id for run_id in run_ids if run_id} - self._runs_written)
        if new:
            conn.execute(self._insert(audit_runs).on_conflict_do_nothing(index_elements=["run_id"]),
                         [{"run_id": run_id} for run_id in new])
            written.update(new)

    # records ------------------------------------------------------------------------------
    def ensure_record(self, tenant: str, kind: str, source_key: str, *, state: str = "seen",
                      detail: Mapping[str, Any] | None = None) -> Record:
        """Insert the record in ``state`` unless it exists; return the stored row either way."""
        now = utcnow()
        stmt = self._insert(records).values(
            tenant=tenant, kind=kind, source_key=source_key, state=state, attempts=0,
            detail=dict(detail) if detail else None, created_at=now, updated_at=now,
        ).on_conflict_do_nothing(index_elements=["tenant", "kind", "source_key"])
        with self.transaction() as conn:
            conn.execute(stmt)
            return self._get(conn, tenant, kind, source_key)  # type: ignore[return-value]

    def get(self, tenant: str, kind: str, source_key: str) -> Record | None:
        with self.engine.connect() as conn:
            return self._get(conn, tenant, kind, source_key)

    @staticmethod
    def _get(conn: sa.Connection, tenant: str, kind: str, source_key: str) -> Record | None:
        row = conn.execute(
            sa.select(records).where(
                records.c.tenant == tenant, records.c.kind == kind, records.c.source_key == source_key
            )
        ).first()
        return Record.from_row(row) if row else None

    def transition(
        self,
        tenant: str,
        kind: str,
        source_key: str,
        state: str,
        *,
        step: str,
        expect: Iterable[str] | None = None,
        target_type: str | None = None,
        target_key: str | None = None,
        payload_hash: str | None = None,
        detail: Mapping[str, Any] | None = None,
        message: str | None = None,
        payload: Any = None,
        run_id: str | None = None,
        count_attempt: bool = False,
    ) -> bool:
        """Move a record to ``state`` and audit the step, atomically.

        With ``expect`` this is a compare-and-set: nothing changes (and False is returned) unless
        the record is currently in one of those states. Target fields are only overwritten when
        given, so a link once made is never lost by a later step.
        """
        with self._audit_transaction() as (conn, written):
            self._ensure_runs(conn, [run_id], written)
            return self._transition(conn, tenant, kind, source_key, state, step=step, expect=expect,
                                    target_type=target_type, target_key=target_key, payload_hash=payload_hash,
                                    detail=detail, message=message, payload=payload, run_id=run_id,
                                    count_attempt=count_attempt)

    def transition_many(self, tenant: str, kind: str, changes: Iterable[Mapping[str, Any]]) -> set[str]:
        """Several :meth:`transition` calls in one transaction (batch stages: one commit, not one per
        record). Each change holds ``source_key``, ``state``, ``step`` and any keyword of
        :meth:`transition`; returns the source keys that changed (compare-and-set losers are left out).

        Changes apply in order, as that many :meth:`transition` calls would: a key given twice sees the
        state the first change left. The batch reads its records' states once (PostgreSQL: ``FOR UPDATE``;
        SQLite: the transaction holds the write lock from ``BEGIN IMMEDIATE``), decides every
        compare-and-set in Python, then writes one guarded UPDATE per changed record and the audit rows
        in a few statements, instead of one UPDATE round trip per change."""
        batch = [_change(**change) for change in changes]
        if not batch:
            return set()
        if self.dialect in ("sqlite", "postgresql"):
            try:
                with self._audit_transaction() as (conn, written):
                    self._ensure_runs(conn, (c.run_id for c in batch), written)
                    return self._transition_batch(conn, tenant, kind, batch)
            except _BatchMismatch:
                log.warning("ledger batch of %d change(s) did not update the rows it locked; "
                            "running it record by record", len(batch))
        return self._transition_each(tenant, kind, batch)

    def _transition_each(self, tenant: str, kind: str, batch: Sequence[_Change]) -> set[str]:
        """:meth:`transition_many` as one compare-and-set UPDATE per change (other dialects; fallback)."""
        changed: set[str] = set()
        audit: list[dict[str, Any]] = []  # written in one executemany at the end, same transaction
        with self._audit_transaction() as (conn, written):
            self._ensure_runs(conn, (c.run_id for c in batch), written)
            for c in batch:
                if self._transition(conn, tenant, kind, c.source_key, c.state, step=c.step, expect=c.expect,
                                    message=c.message, payload=c.payload, run_id=c.run_id,
                                    count_attempt=c.count_attempt, audit_rows=audit, **c.values):
                    changed.add(c.source_key)
            if audit:
                conn.execute(_AUDIT_INSERT, audit)
        return changed

    def _transition_batch(self, conn: sa.Connection, tenant: str, kind: str, batch: Sequence[_Change]) -> set[str]:
        sqlite_ = self.dialect == "sqlite"
        keys = sorted({c.source_key for c in batch})
        rows: dict[str, _Row] = {}
        for start in range(0, len(keys), _BATCH_CHUNK):
            part = keys[start:start + _BATCH_CHUNK]
            if sqlite_:  # no row locks needed: BEGIN IMMEDIATE holds the database's write lock
                found = conn.exec_driver_sql(_sqlite_batch_read(len(part)), (tenant, kind, *part))
            else:
                found = conn.execute(_POSTGRESQL_BATCH_READ, {"tenant": tenant, "kind": kind, "keys": part})
            for record_id, key, state in found.fetchall():
                rows[key] = _Row(record_id, state, state)
        changed: set[str] = set()
        audit: list[tuple[int, _Change]] = []
        for c in batch:
            row = rows.get(c.source_key)
            if row is None or (c.expect is not None and row.state not in c.expect):
                continue
            row.state = c.state
            row.values.update(c.values)
            row.attempts += c.count_attempt
            row.changed = True
            audit.append((row.id, c))
            changed.add(c.source_key)
        if not audit:
            return changed
        shapes: dict[tuple[str, ...], list[_Row]] = {}
        for row in rows.values():
            if row.changed:
                shapes.setdefault(tuple(f for f in _TARGET_FIELDS if f in row.values), []).append(row)
        write = self._batch_write_sqlite if sqlite_ else self._batch_write_postgresql
        write(conn, shapes, audit, utcnow())
        return changed

    def _batch_write_sqlite(self, conn: sa.Connection, shapes: Mapping[tuple[str, ...], list[_Row]],
                            audit: Sequence[tuple[int, _Change]], now: dt.datetime) -> None:
        dialect = self.engine.dialect
        to_db = records.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect)
        at = to_db(now) if to_db else now
        dumps = _json_serializer(dialect)
        for fields, rows in shapes.items():
            params = [(row.state, at, row.attempts,
                       *[dumps(row.values[f]) if f == "detail" else row.values[f] for f in fields],
                       row.id, row.before) for row in rows]
            if conn.exec_driver_sql(_sqlite_batch_update(fields), params).rowcount != len(rows):
                raise _BatchMismatch
        conn.exec_driver_sql(_SQLITE_AUDIT_INSERT, [
            (record_id, at, c.step, c.state, c.message, "null" if c.payload is None else dumps(c.payload), c.run_id)
            for record_id, c in audit])

    def _batch_write_postgresql(self, conn: sa.Connection, shapes: Mapping[tuple[str, ...], list[_Row]],
                                audit: Sequence[tuple[int, _Change]], now: dt.datetime) -> None:
        for fields, rows in shapes.items():
            params: dict[str, Any] = {"now": now, "id": [r.id for r in rows], "before": [r.before for r in rows],
                                      "state": [r.state for r in rows], "inc": [r.attempts for r in rows]}
            for name in fields:
                params[name] = [pack_bytes(r.values[name]) if name == "detail" else r.values[name] for r in rows]
            updated = set(conn.execute(_postgresql_batch_update(fields), params).scalars())
            if updated != {r.id for r in rows}:
                raise _BatchMismatch
        conn.execute(_POSTGRESQL_AUDIT_INSERT, {
            "at": now, "record_id": [record_id for record_id, _ in audit], "step": [c.step for _, c in audit],
            "state": [c.state for _, c in audit], "message": [c.message for _, c in audit],
            "payload": [pack_bytes(c.payload) for _, c in audit],
            "run_id": [c.run_id for _, c in audit]})

    def ensure_records(self, tenant: str, kind: str, items: Iterable[tuple[str, Mapping[str, Any] | None]], *,
                       state: str = "seen") -> None:
        """:meth:`ensure_record` for many (source key, detail) pairs in one transaction."""
        now = utcnow()
        rows = [{"tenant": tenant, "kind": kind, "source_key": key, "state": state, "attempts": 0,
                 "detail": dict(detail) if detail else None, "created_at": now, "updated_at": now}
                for key, detail in items]
        if not rows:
            return
        stmt = self._insert(records).on_conflict_do_nothing(index_elements=["tenant", "kind", "source_key"])
        with self.transaction() as conn:
            conn.execute(stmt, rows)

    def get_many(self, tenant: str, kind: str, source_keys: Iterable[str], *, chunk: int = 500) -> dict[str, Record]:
        """source key → record for those of ``source_keys`` that exist (one query per ``chunk`` keys)."""
        keys = list(dict.fromkeys(source_keys))
        found: dict[str, Record] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), chunk):
                params = {"tenant": tenant, "kind": kind, "keys": keys[start:start + chunk]}
                for row in conn.execute(_GET_MANY, params).all():
                    record = Record.from_row(row)
                    found[record.source_key] = record
        return found

    def _transition(self, conn: sa.Connection, tenant: str, kind: str, source_key: str, state: str, *,
                    step: str, expect: Iterable[str] | None = None, target_type: str | None = None,
                    target_key: str | None = None, payload_hash: str | None = None,
                    detail: Mapping[str, Any] | None = None, message: str | None = None, payload: Any = None,
                    run_id: str | None = None, count_attempt: bool = False,
                    audit_rows: list[dict[str, Any]] | None = None) -> bool:
        """The compare-and-set of :meth:`transition` on ``conn``; the audit row is inserted at once, or
        appended to ``audit_rows`` for the caller to insert before its transaction commits."""
        now = utcnow()
        params: dict[str, Any] = {"w_tenant": tenant, "w_kind": kind, "w_source_key": source_key,
                                  "v_state": state, "v_updated_at": now}
        params.update({f"v_{name}": value for name, value in
                       _given_fields(target_type, target_key, payload_hash, detail).items()})
        if expect is not None:
            params["w_expect"] = list(expect)
        record_id = conn.execute(_update_statement(frozenset(params), count_attempt), params).scalar()
        if record_id is None:
            return False
        row = {"record_id": record_id, "at": now, "step": step, "state": state, "message": message,
               "payload": payload, "run_id": run_id}
        if audit_rows is None:
            conn.execute(_AUDIT_INSERT, row)
        else:
            audit_rows.append(row)
        return True

    def records(self, tenant: str, kind: str, states: Iterable[str] | None = None) -> list[Record]:
        query = sa.select(records).where(records.c.tenant == tenant, records.c.kind == kind)
        if states is not None:
            query = query.where(records.c.state.in_(list(states)))
        with self.engine.connect() as conn:
            return [Record.from_row(r) for r in conn.execute(query.order_by(records.c.id))]

    def count(self, tenant: str, kind: str, states: Iterable[str], since: dt.datetime | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(records).where(
            records.c.tenant == tenant, records.c.kind == kind, records.c.state.in_(list(states))
        )
        if since is not None:
            query = query.where(records.c.updated_at >= since)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def audit(self, tenant: str, kind: str, source_key: str) -> list[dict[str, Any]]:
        """The record's audit rows, oldest first: id, record_id, at, step, state, message, payload, run_id."""
        query = (
            sa.select(*(c for c in record_audit.c if c is not record_audit.c.run), audit_runs.c.run_id)
            .join(records, records.c.id == record_audit.c.record_id)
            .outerjoin(audit_runs, audit_runs.c.id == record_audit.c.run)
            .where(records.c.tenant == tenant, records.c.kind == kind, records.c.source_key == source_key)
            .order_by(record_audit.c.id)
        )
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        for row in rows:
            row["at"] = as_utc(row["at"])
        return rows

    # quarantine ---------------------------------------------------------------------------
    def quarantine(
        self,
        tenant: str,
        kind: str,
        source_key: str,
        *,
        reason: str,
        message: str,
        field: str | None = None,
        code: str | None = None,
        payload: Any = None,
        run_id: str | None = None,
    ) -> None:
        """Hold a record back with a reason a person can act on (repeat → attempts + 1)."""
        now = utcnow()
        fields = {"reason": reason, "message": message, "field": field, "code": code,
                  "payload": payload, "last_at": now, "resolved_at": None}
        stmt = self._insert(quarantine).values(
            tenant=tenant, kind=kind, source_key=source_key, attempts=1, first_at=now, **fields
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant", "kind", "source_key"],
            set_={**fields, "attempts": quarantine.c.attempts + 1},
        )
        with self.transaction() as conn:
            conn.execute(stmt)
        self.ensure_record(tenant, kind, source_key, state="quarantined")
        self.transition(tenant, kind, source_key, "quarantined", step="quarantine",
                        message=f"{reason}: {message}", payload=payload, run_id=run_id,
                        count_attempt=True)

    def resolve_quarantine(self, tenant: str, kind: str, source_key: str) -> bool:
        with self.transaction() as conn:
            result = conn.execute(
                sa.update(quarantine)
                .where(quarantine.c.tenant == tenant, quarantine.c.kind == kind,
                       quarantine.c.source_key == source_key, quarantine.c.resolved_at.is_(None))
                .values(resolved_at=utcnow())
            )
            return bool(result.rowcount)

    def audit_of_run(self, tenant: str, kind: str, run_id: str) -> dict[str, dict[str, Any]]:
        """What the Airflow run ``run_id`` did to each record of a kind, whichever try did it:
        ``{source_key: {state, target_type, target_key, detail, steps: [(step, state, message)]}}``
        with the steps in the order they were written."""
        query = (sa.select(records.c.source_key, records.c.state, records.c.target_type, records.c.target_key,
                           records.c.detail, record_audit.c.step, record_audit.c.state.label("step_state"),
                           record_audit.c.message)
                 .join(records, record_audit.c.record_id == records.c.id)
                 .join(audit_runs, audit_runs.c.id == record_audit.c.run)
                 .where(audit_runs.c.run_id == run_id, records.c.tenant == tenant, records.c.kind == kind)
                 .order_by(record_audit.c.id))
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                entry = out.setdefault(row.source_key, {
                    "state": row.state, "target_type": row.target_type, "target_key": row.target_key,
                    "detail": row.detail or {}, "steps": []})
                entry["steps"].append((row.step, row.step_state, row.message or ""))
        return out

    def open_quarantine(self, tenant: str, kind: str | None = None) -> list[QuarantineEntry]:
        query = sa.select(quarantine).where(quarantine.c.tenant == tenant, quarantine.c.resolved_at.is_(None))
        if kind is not None:
            query = query.where(quarantine.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(quarantine.c.id)).all()
        out = []
        for row in rows:
            data = dict(row._mapping)
            data.pop("id")
            for key in ("first_at", "last_at", "resolved_at"):
                data[key] = as_utc(data[key])
            out.append(QuarantineEntry(**data))
        return out

    # cursors ------------------------------------------------------------------------------
    def get_cursor(self, tenant: str, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(cursors.c.value).where(cursors.c.tenant == tenant, cursors.c.name == name)
            ).scalar()

    def get_cursors(self, tenant: str, names: Iterable[str], *, chunk: int = _BATCH_CHUNK) -> dict[str, str]:
        """name → value for those of ``names`` that exist (one query per ``chunk`` names)."""
        wanted = list(dict.fromkeys(names))
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), chunk):
                rows = conn.execute(_GET_CURSORS, {"tenant": tenant, "names": wanted[start:start + chunk]})
                found.update((name, value) for name, value in rows)
        return found

    def set_cursor(self, tenant: str, name: str, value: str) -> None:
        now = utcnow()
        stmt = self._insert(cursors).values(tenant=tenant, name=name, value=value, updated_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=["tenant", "name"],
                                          set_={"value": value, "updated_at": now})
        with self.transaction() as conn:
            conn.execute(stmt)

    # catalog snapshots --------------------------------------------------------------------
    def snapshot(self, tenant: str, side: str, entity: str) -> dict[str, tuple[str, str | None]]:
        """key → (last seen hash, hash jetfort itself last wrote) for one side and entity."""
        query = sa.select(catalog_snapshots.c.key, catalog_snapshots.c.hash, catalog_snapshots.c.written_hash).where(
            catalog_snapshots.c.tenant == tenant, catalog_snapshots.c.side == side,
            catalog_snapshots.c.entity == entity,
        )
        with self.engine.connect() as conn:
            return {k: (h, w) for k, h, w in conn.execute(query)}

    def save_snapshot(self, tenant: str, side: str, entity: str,
                      rows: Iterable[tuple[str, str, Any]], *, written: bool = False,
                      batch_size: int = 2000) -> int:
        """Upsert (key, hash, data) rows as *seen*; ``written=True`` records them as jetfort's own writes
        instead, leaving the last seen hash alone (a key never seen gets ``""``), so that reading the
        side back finds ``hash == written_hash != seen``: jetfort's echo, not a change to send on."""
        now = utcnow()
        total = 0
        batch: list[dict[str, Any]] = []

        def flush(conn: sa.Connection) -> None:
            if not batch:
                return
            stmt = self._insert(catalog_snapshots)
            update: dict[str, Any] = {"data": stmt.excluded.data, "updated_at": now}
            if written:
                update["written_hash"] = stmt.excluded.written_hash
            else:
                update["hash"] = stmt.excluded.hash
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["tenant", "side", "entity", "key"], set_=update), batch)
            batch.clear()

        with self.transaction() as conn:
            for key, digest, data in rows:
                batch.append({"tenant": tenant, "side": side, "entity": entity, "key": key,
                              "hash": "" if written else digest, "written_hash": digest if written else None,
                              "data": data, "updated_at": now})
                total += 1
                if len(batch) >= batch_size:
                    flush(conn)
            flush(conn)
        return total
