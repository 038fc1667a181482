"""How the SQLite ledger stores its JSON columns: compressed once they are worth it.

An order's record keeps the shop order as it was posted (a credit note months later is computed
from it) and the document mapped for Fortnox, about 3.5 KB of JSON; its audit keeps what was sent.
SQLite stores text as it is given, so the ledger's JSON columns (record details, audit payloads,
quarantine payloads, catalog snapshots, the Norce inbox) are written by :func:`pack`: JSON text up
to :data:`PACK_FROM` bytes, above that the same JSON compressed with zlib (the standard library),
stored as a BLOB. :func:`unpack` reads both, so rows written before this existed read as they did,
and nothing needs migrating. About a third of the size for an order's record (3.6 → 1.2 KB).

On PostgreSQL the columns stay JSON: it compresses the values of a row over about 2 KB itself
(TOAST; an order's record detail, 3.6 → 1.5 KB). The audit payloads (about 0.9 KB each) stay as
they are there; retention (:mod:`jetfort.ledger.retention`) drops them after a year.

A BLOB is told from JSON by its first byte: a zlib stream starts with ``0x78`` ('x'), which no JSON
text starts with in any encoding :func:`jetfort.jsoncodec.loads` reads.
"""

from __future__ import annotations

import zlib
from typing import Any

from jetfort import jsoncodec

#: JSON texts at least this long (in bytes) are stored compressed
PACK_FROM = 256
_ZLIB_FIRST = 0x78


class UnreadablePacked(ValueError):
    """A compressed ledger value that does not decompress: the row is damaged, nothing is guessed."""


def pack(value: Any) -> str | bytes:
    """``value`` as the ledger stores it: JSON text, or zlib-compressed UTF-8 JSON from :data:`PACK_FROM` bytes."""
    data = jsoncodec.dumps_bytes(value)
    if len(data) < PACK_FROM:
        return data.decode()
    return zlib.compress(data, 6)


def unpack(stored: str | bytes) -> Any:
    """The value :func:`pack` stored (or plain JSON text or bytes written before packing existed)."""
    if isinstance(stored, bytes | bytearray | memoryview) and len(stored) and bytes(stored[:1])[0] == _ZLIB_FIRST:
        try:
            stored = zlib.decompress(stored)
        except zlib.error as exc:
            raise UnreadablePacked(f"a compressed ledger value does not decompress: {exc}") from None
    return jsoncodec.loads(bytes(stored) if isinstance(stored, bytearray | memoryview) else stored)
