"""The ledger store: what jetfort synced, per record, with its audit trail.

Everything here is SQL through SQLAlchemy Core and works the same on SQLite and PostgreSQL.
Writes that must not race (state transitions, quarantine, cursors) are single statements or
compare-and-set inside one transaction; upserts use each dialect's ``ON CONFLICT``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from jetfort.ledger import engine as engine_mod
from jetfort.ledger import migrate
from jetfort.ledger.schema import catalog_snapshots, cursors, quarantine, record_audit, records


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything the ledger stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


#: The audit row of one step; built once (a statement built per call costs more CPU than the SQL).
_AUDIT_INSERT = sa.insert(record_audit)


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
    def from_row(cls, row: sa.Row[Any]) -> Record:
        data = dict(row._mapping)
        data["created_at"] = as_utc(data["created_at"])
        data["updated_at"] = as_utc(data["updated_at"])
        return cls(**data)


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


class Ledger:
    """Facade over the ledger database; cheap to build, engines are created lazily once."""

    def __init__(self, engine: sa.Engine, *, secret_key: str | None = None) -> None:
        self.engine = engine
        self._secret_key = secret_key

    # construction -------------------------------------------------------------------------
    @classmethod
    def from_url(cls, url: str, *, secret_key: str | None = None, migrate_schema: bool = True) -> Ledger:
        ledger = cls(engine_mod.make_engine(url), secret_key=secret_key)
        if migrate_schema:
            ledger.migrate()
        return ledger

    @classmethod
    def from_conn_id(cls, conn_id: str = engine_mod.DEFAULT_CONN_ID) -> Ledger:
        secret_key = None
        try:
            from airflow.sdk import BaseHook

            secret_key = BaseHook.get_connection(conn_id).extra_dejson.get("secret_key")
        except Exception:  # no connection: env key or the SQLite key file
            secret_key = None
        return cls.from_url(engine_mod.resolve_url(conn_id), secret_key=secret_key)

    def migrate(self) -> None:
        migrate.upgrade(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def secret_key(self) -> str:
        from jetfort.ledger.crypto import resolve_key

        path = self.engine.url.database if self.dialect == "sqlite" else None
        return resolve_key(self._secret_key, path)

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

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
        with self.transaction() as conn:
            return self._transition(conn, tenant, kind, source_key, state, step=step, expect=expect,
                                    target_type=target_type, target_key=target_key, payload_hash=payload_hash,
                                    detail=detail, message=message, payload=payload, run_id=run_id,
                                    count_attempt=count_attempt)

    def transition_many(self, tenant: str, kind: str, changes: Iterable[Mapping[str, Any]]) -> set[str]:
        """Several :meth:`transition` calls in one transaction (batch stages: one commit, not one per
        record). Each change holds ``source_key``, ``state``, ``step`` and any keyword of
        :meth:`transition`; returns the source keys that changed (compare-and-set losers are left out)."""
        changed: set[str] = set()
        audit: list[dict[str, Any]] = []  # written in one executemany at the end, same transaction
        with self.transaction() as conn:
            for change in changes:
                args = dict(change)
                key, state = args.pop("source_key"), args.pop("state")
                if self._transition(conn, tenant, kind, key, state, audit_rows=audit, **args):
                    changed.add(key)
            if audit:
                conn.execute(_AUDIT_INSERT, audit)
        return changed

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
                part = keys[start:start + chunk]
                query = sa.select(records).where(records.c.tenant == tenant, records.c.kind == kind,
                                                 records.c.source_key.in_(part))
                for row in conn.execute(query):
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
        if target_type is not None:
            params["v_target_type"] = target_type
        if target_key is not None:
            params["v_target_key"] = target_key
        if payload_hash is not None:
            params["v_payload_hash"] = payload_hash
        if detail is not None:
            params["v_detail"] = dict(detail)
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
        query = (
            sa.select(record_audit)
            .join(records, records.c.id == record_audit.c.record_id)
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
