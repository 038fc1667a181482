"""How the ledger stores its JSON columns: compressed once they are worth it.

An order's record keeps the shop order as it was posted (a credit note months later is computed
from it), about 2.8 KB of JSON; its audit keeps what was sent. The ledger's JSON columns (record
details, audit payloads, quarantine payloads, catalog snapshots, the Norce inbox) therefore hold what
:func:`pack` writes: JSON text up to :data:`PACK_FROM` bytes, above that the same JSON compressed
with zlib (the standard library) against a preset dictionary of the keys such values share
(:mod:`jetfort.ledger.zdict`). An order's record detail takes about a sixth of its JSON (2.8 → 0.5
KB; zlib without the dictionary: 0.9 KB).

* SQLite: the columns are declared JSON and written by the engine's ``json_serializer``
  (:func:`jetfort.ledger.engine.make_engine`): text, or a BLOB once compressed.
* PostgreSQL (since migration 0010): the columns are ``bytea`` (:data:`JSON`) holding
  :func:`pack_bytes`, the same bytes (small values as UTF-8 JSON). Its own compression of large
  rows (TOAST, pglz) took an order's record detail only to 1.5 KB, and left the audit payloads
  (about 0.9 KB each) as they were. A ledger migrated from an older jetfort keeps its earlier values
  as plain JSON bytes until they are written again.

:func:`unpack` reads every form the ledger ever wrote: plain JSON text or bytes (before packing
existed, and PostgreSQL's values migrated by 0010), zlib without a dictionary (before dictionaries),
and zlib naming its dictionary by checksum in its header (RFC 1950 ``DICTID``). A value naming a
dictionary this jetfort does not have (written by a newer one) is an error, never a guess.

Compressed bytes are told from JSON by their first byte: a zlib stream starts with ``0x78`` ('x'),
which no JSON text starts with in any encoding :func:`jetfort.jsoncodec.loads` reads.
"""

from __future__ import annotations

import zlib
from typing import Any

import sqlalchemy as sa

from jetfort import jsoncodec
from jetfort.ledger.zdict import CURRENT, DICTIONARIES

#: JSON texts at least this long (in bytes) are stored compressed
PACK_FROM = 256
_ZLIB_FIRST = 0x78
_FDICT = 0x20  # the zlib header's flag: a DICTID follows (RFC 1950 2.2)


class UnreadablePacked(ValueError):
    """A compressed ledger value that does not decompress: the row is damaged, nothing is guessed."""


def pack(value: Any) -> str | bytes:
    """``value`` as the ledger stores it: JSON text, or from :data:`PACK_FROM` bytes UTF-8 JSON
    compressed with zlib against the current dictionary."""
    data = jsoncodec.dumps_bytes(value)
    return data.decode() if len(data) < PACK_FROM else _compress(data)


def pack_bytes(value: Any) -> bytes:
    """:func:`pack` as bytes (PostgreSQL's ``bytea``): small values as UTF-8 JSON."""
    data = jsoncodec.dumps_bytes(value)
    return data if len(data) < PACK_FROM else _compress(data)


def _compress(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zdict=CURRENT)
    return compressor.compress(data) + compressor.flush()


def unpack(stored: str | bytes) -> Any:
    """The value :func:`pack` stored (or plain JSON text or bytes written before packing existed)."""
    if isinstance(stored, bytes | bytearray | memoryview) and len(stored) and bytes(stored[:1])[0] == _ZLIB_FIRST:
        stored = _decompress(bytes(stored))
    return jsoncodec.loads(bytes(stored) if isinstance(stored, bytearray | memoryview) else stored)


def _decompress(stored: bytes) -> bytes:
    zdict = b""  # a stream without a dictionary (an older jetfort's) never asks for one
    if len(stored) >= 6 and stored[1] & _FDICT:  # the header names the dictionary the value needs
        dict_id = int.from_bytes(stored[2:6], "big")
        if dict_id not in DICTIONARIES:
            raise UnreadablePacked(f"a compressed ledger value names dictionary {dict_id:08x}, which this jetfort "
                                   f"does not have (known: {', '.join(f'{k:08x}' for k in DICTIONARIES)}); "
                                   "was it written by a newer jetfort?")
        zdict = DICTIONARIES[dict_id]
    decompressor = zlib.decompressobj(zdict=zdict)
    try:
        data = decompressor.decompress(stored) + decompressor.flush()
    except zlib.error as exc:
        raise UnreadablePacked(f"a compressed ledger value does not decompress: {exc}") from None
    if not decompressor.eof or decompressor.unused_data:
        raise UnreadablePacked("a compressed ledger value does not decompress: the stream is cut short "
                               "or followed by other bytes")
    return data


class _Packed(sa.types.TypeDecorator[Any]):
    """A JSON value stored as :func:`pack_bytes` in a binary column (``None`` as ``null``, as
    SQLAlchemy's JSON stores it; SQL NULL only when written as ``sa.null()``)."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> bytes:
        return pack_bytes(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        return None if value is None else unpack(value)


#: The type of the ledger's JSON columns: SQLAlchemy's JSON (on SQLite written through :func:`pack`
#: by the engine's ``json_serializer``), on PostgreSQL ``bytea`` holding :func:`pack_bytes`.
JSON = sa.JSON().with_variant(_Packed(), "postgresql")
