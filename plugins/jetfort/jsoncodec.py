"""JSON on the hot paths (ledger columns, Fortnox request and answer bodies), encoded and decoded by
msgspec, which Airflow itself depends on.

An order's ledger record is read and written several times on its way (about 4 KB of JSON each
time) and its Fortnox document is sent and answered once. For such a record the standard library
took about 20 µs to read and 27 µs to write; msgspec takes about 10 and 4 µs.

The JSON values are those of the standard library for what jetfort stores and sends (dicts, lists,
strings, numbers, booleans, None). What differs:

* the text is compact and non-ASCII characters are written as UTF-8, not as ``\\uXXXX`` escapes
  (the same values once read);
* ``Decimal``, dates and times are written as strings, where ``json.dumps`` raises ``TypeError``
  (other unknown types still raise it); a float NaN or infinity is written as ``null``, which is
  valid JSON, where ``json.dumps`` writes the invalid token ``NaN``;
* anything msgspec will not read but the standard library will (``NaN``, a number beyond a float's
  range, UTF-16 bytes) is read by the standard library, so :func:`loads` accepts what ``json.loads``
  accepts and raises ``ValueError`` for what it refuses.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def dumps_bytes(value: Any) -> bytes:
    """``value`` as UTF-8 JSON bytes (an HTTP body)."""
    return _encoder.encode(value)


def dumps(value: Any) -> str:
    """``value`` as JSON text (a ledger column)."""
    return _encoder.encode(value).decode()


def loads(data: str | bytes) -> Any:
    """The value of a JSON text or UTF-8/16/32 bytes; ``ValueError`` when it is not JSON."""
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:
        return json.loads(data)  # the standard library decides (and raises its own error)
