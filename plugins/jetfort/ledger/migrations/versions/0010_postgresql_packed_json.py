"""PostgreSQL stores the ledger's JSON values as SQLite does: packed (:mod:`jetfort.ledger.packing`), in
``bytea`` columns. Its own compression (TOAST) took an order's record detail only to 1.5 KB and left
the audit payloads as they were. Bytes per synced order at rest (``bench/ledger_scale.py --only size``),
after sync / after retention: 300 orders 3741 / 2731 → 2321 / 1966; 2100 orders 3292 / 2290 → 1884 /
1545 (the tables that do not grow with orders weigh less as the ledger grows).

Existing values become the UTF-8 bytes of their JSON text, which :func:`~jetfort.ledger.packing.unpack`
reads as they are; values written from now on are packed. SQLite: nothing to do (it stores packed
values in its JSON columns already). The downgrade makes the columns JSON again: the compressed values
are unpacked in Python first, in batches (one that does not unpack stops it, and nothing changes).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from jetfort import jsoncodec
from jetfort.ledger.packing import UnreadablePacked, unpack

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: (table, JSON column, primary key columns)
COLUMNS = (("records", "detail", ("id",)), ("record_audit", "payload", ("id",)),
           ("quarantine", "payload", ("id",)), ("shop_inbox", "payload", ("id",)),
           ("catalog_snapshots", "data", ("tenant", "side", "entity", "key")))
#: compressed values unpacked per statement by the downgrade
BATCH = 500


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, _ in COLUMNS:
        op.alter_column(table, column, type_=sa.LargeBinary, existing_type=sa.JSON,
                        postgresql_using=f"convert_to({column}::text, 'UTF8')")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, column, key in COLUMNS:
        _unpack_compressed(bind, table, column, key)
        op.alter_column(table, column, type_=sa.JSON, existing_type=sa.LargeBinary,
                        postgresql_using=f"convert_from({column}, 'UTF8')::json")


def _unpack_compressed(bind: sa.Connection, name: str, column: str, key: tuple[str, ...]) -> None:
    """Each compressed value of ``column`` rewritten as its JSON's UTF-8 bytes, ``BATCH`` rows at a time
    in the order of the primary key."""
    table = sa.table(name, *(sa.column(k) for k in key), sa.column(column, sa.LargeBinary))
    pk = sa.tuple_(*(table.c[k] for k in key))
    compressed = sa.func.substring(table.c[column], 1, 1) == sa.literal(b"x", sa.LargeBinary)  # zlib's first byte
    update = (sa.update(table).where(*(table.c[k] == sa.bindparam(f"k_{k}") for k in key))
              .values({column: sa.bindparam("v_value", type_=sa.LargeBinary)}))
    last: tuple[Any, ...] | None = None
    while True:
        query = sa.select(*(table.c[k] for k in key), table.c[column]).where(compressed)
        if last is not None:
            query = query.where(pk > sa.tuple_(*(sa.literal(v) for v in last)))
        rows = bind.execute(query.order_by(*(table.c[k] for k in key)).limit(BATCH)).all()
        if not rows:
            return
        params = []
        for *values, stored in rows:
            where = dict(zip(key, values, strict=True))
            params.append({**{f"k_{k}": v for k, v in where.items()},
                           "v_value": _json_bytes(f"{name}.{column}", where, stored)})
        bind.execute(update, params)
        last = tuple(rows[-1][:-1])


def _json_bytes(column: str, row: dict[str, Any], stored: bytes) -> bytes:
    """The JSON bytes of a packed value; one that does not unpack raises, naming its row."""
    try:
        return jsoncodec.dumps_bytes(unpack(stored))
    except UnreadablePacked as exc:
        where = ", ".join(f"{k} {v!r}" for k, v in row.items())
        raise UnreadablePacked(f"{column} of the row with {where}: {exc}") from None
