"""The shop inbox: orders a shop pushed to jetfort (Norce's order receiver), kept in the ledger.

The receiver stores a push here and commits before it answers the shop, so an order the shop was told
"OK" for survives any crash after that. One row per (shop, ref): a push repeated by the shop is
counted, not stored twice. A repeat with different content replaces the payload and makes the row
pending again (the orders flow reads the order anew; an order already in Fortnox is never posted twice,
the flow's ledger records see to that). The orders DAG reads pending rows and marks them consumed once
its own ledger records hold the orders; marking checks the payload it read is still the stored one, so
a replacement that arrived in between stays pending.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from jetfort import jsoncodec
from jetfort.ledger.schema import shop_inbox

#: Refs per statement when marking many rows (SQLite allows 32766 parameters).
_CHUNK = 500
#: The longest ref the inbox keys (the column's length); Norce's ClientOrderRef has at most 50.
MAX_REF_LENGTH = 200


def payload_hash(payload: Any) -> str:
    """A digest of the payload's JSON value (key order and spacing do not matter), to tell a repeated
    push from a changed one."""
    text = jsoncodec.dumps(_sorted(payload))
    return hashlib.sha256(text.encode()).hexdigest()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; the ledger stores UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class InboxEntry:
    """One pushed order as stored: ``push_count`` counts every push of it, ``last_error`` is what the
    orders flow noted when it could not use it (the row stays pending)."""

    shop: str
    ref: str
    payload: dict[str, Any]
    payload_hash: str
    received_at: dt.datetime
    last_pushed_at: dt.datetime
    push_count: int
    consumed_at: dt.datetime | None
    last_error: str | None

    @classmethod
    def from_mapping(cls, row: Mapping[Any, Any]) -> InboxEntry:
        return cls(shop=row["shop"], ref=row["ref"], payload=row["payload"], payload_hash=row["payload_hash"],
                   received_at=_utc(row["received_at"]) or row["received_at"],
                   last_pushed_at=_utc(row["last_pushed_at"]) or row["last_pushed_at"],
                   push_count=int(row["push_count"]), consumed_at=_utc(row["consumed_at"]),
                   last_error=row["last_error"])


_COLUMNS = (shop_inbox.c.shop, shop_inbox.c.ref, shop_inbox.c.payload, shop_inbox.c.payload_hash,
            shop_inbox.c.received_at, shop_inbox.c.last_pushed_at, shop_inbox.c.push_count,
            shop_inbox.c.consumed_at, shop_inbox.c.last_error)


def _check_key(shop: str, ref: str) -> None:
    if not shop or not isinstance(shop, str):
        raise ValueError(f"inbox: shop must be a non-empty string, got {shop!r}")
    if not ref or not isinstance(ref, str) or len(ref) > MAX_REF_LENGTH:
        raise ValueError(f"inbox: order ref must be a non-empty string of at most {MAX_REF_LENGTH} "
                         f"characters, got {ref!r}")


class InboxStore:
    """The inbox methods of :class:`jetfort.ledger.store.Ledger` (a mixin: it needs ``engine``)."""

    engine: sa.Engine

    def inbox_put(self, shop: str, ref: str, payload: dict[str, Any]) -> bool:
        """Store a pushed order and commit; True when there is something new to process (a new row, or a
        repeat with different content, which replaces the payload and is pending again), False for a
        repeat of what is stored (counted in ``push_count``)."""
        _check_key(shop, ref)
        if not isinstance(payload, dict):
            raise ValueError(f"inbox: the payload of order {ref!r} must be a JSON object, "
                             f"got {type(payload).__name__}")
        digest, now = payload_hash(payload), dt.datetime.now(dt.UTC)
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(shop_inbox)
        stmt = insert.values(shop=shop, ref=ref, payload=payload, payload_hash=digest, received_at=now,
                             last_pushed_at=now, push_count=1).on_conflict_do_nothing(index_elements=["shop", "ref"])
        key = (shop_inbox.c.shop == shop, shop_inbox.c.ref == ref)
        with self.engine.begin() as conn:
            if conn.execute(stmt).rowcount == 1:
                return True
            stored = conn.execute(sa.select(shop_inbox.c.payload_hash).where(*key).with_for_update()).scalar_one()
            values: dict[str, Any] = {"push_count": shop_inbox.c.push_count + 1, "last_pushed_at": now}
            changed = stored != digest
            if changed:
                values.update(payload=payload, payload_hash=digest, consumed_at=None, last_error=None)
            conn.execute(sa.update(shop_inbox).where(*key).values(**values))
        return changed

    def inbox_get(self, shop: str, ref: str) -> InboxEntry | None:
        """The stored row of one pushed order, consumed or not."""
        query = sa.select(*_COLUMNS).where(shop_inbox.c.shop == shop, shop_inbox.c.ref == ref)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return InboxEntry.from_mapping(row) if row else None

    def inbox_pending(self, shop: str, limit: int = 500) -> list[InboxEntry]:
        """Up to ``limit`` rows of ``shop`` not consumed yet, oldest first."""
        if limit < 1:
            raise ValueError(f"inbox: limit must be at least 1, got {limit}")
        query = (sa.select(*_COLUMNS)
                 .where(shop_inbox.c.shop == shop, shop_inbox.c.consumed_at.is_(None))
                 .order_by(shop_inbox.c.id).limit(limit))
        with self.engine.connect() as conn:
            return [InboxEntry.from_mapping(row) for row in conn.execute(query).mappings()]

    def inbox_count_pending(self, shop: str) -> int:
        """How many rows of ``shop`` wait to be consumed (for summaries and monitoring)."""
        query = sa.select(sa.func.count()).select_from(shop_inbox).where(
            shop_inbox.c.shop == shop, shop_inbox.c.consumed_at.is_(None))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def inbox_mark_consumed(self, shop: str, refs: Iterable[str] | Mapping[str, str]) -> int:
        """Mark rows consumed; returns how many changed. With a mapping ref → payload hash (as read), a
        row whose payload was replaced since is left pending; with plain refs, the rows are marked as
        they are."""
        now, done = dt.datetime.now(dt.UTC), 0
        with self.engine.begin() as conn:
            if isinstance(refs, Mapping):
                stmt = sa.update(shop_inbox).where(
                    shop_inbox.c.shop == shop, shop_inbox.c.ref == sa.bindparam("b_ref"),
                    shop_inbox.c.payload_hash == sa.bindparam("b_hash"), shop_inbox.c.consumed_at.is_(None),
                ).values(consumed_at=now)
                for ref, digest in refs.items():
                    done += conn.execute(stmt, {"b_ref": ref, "b_hash": digest}).rowcount
                return done
            names = list(dict.fromkeys(refs))
            for start in range(0, len(names), _CHUNK):
                done += conn.execute(sa.update(shop_inbox).where(
                    shop_inbox.c.shop == shop, shop_inbox.c.ref.in_(names[start:start + _CHUNK]),
                    shop_inbox.c.consumed_at.is_(None)).values(consumed_at=now)).rowcount
        return done

    def inbox_note_error(self, shop: str, ref: str, message: str) -> bool:
        """Note why the orders flow could not use a row; the row stays pending (shown in ``last_error``).
        False when there is no such row."""
        with self.engine.begin() as conn:
            result = conn.execute(sa.update(shop_inbox).where(shop_inbox.c.shop == shop, shop_inbox.c.ref == ref)
                                  .values(last_error=message))
        return bool(result.rowcount)
