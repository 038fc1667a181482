"""Audit the recorded real Fortnox traffic against the official spec: where do they disagree?

Walks every recorded exchange (``vcr.load()``) and reports, with the cassette that shows it:

- ``length``: a string real Fortnox stored (in any answer, or accepted in a write) that is longer
  than the spec's ``maxLength`` for that field;
- ``decimals``: a number sent in a write that Fortnox stored with fewer decimals (rounded);
- ``empty``: an empty value (``""``/``null``) sent in a write and what Fortnox stored for it
  (kept empty, or left the previous value);
- ``enum``: a stored value outside the spec's ``enum`` for that field.

Each finding is a place where "real traffic wins over the spec"; ``sandbox/fortnox/FIDELITY.md``
must list every one (``test_fidelity.py`` keeps the two in step). Print the audit with
``python -m tests.sandbox.fortnox.fidelity``.

:func:`stored_diffs` is the other half: after a recorded write is replayed, it compares the entity
the sandbox stored with the entity Fortnox answered, on every field the request named, for the same
kinds (whole strings, rounded numbers, empties).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.fortnox.speclimits import limits

from .vcr import Exchange, load

# the recorder redacted these request bodies as "<REFRESH_TOKEN>"; rebuilt from the recorded answer
RECONSTRUCTED: dict[str, dict[str, Any]] = {
    "articles/limits/quantity_in_stock_min_value": {"Article": {"Description": "Test article",
                                                                "QuantityInStock": -100000000000000}},
    "invoices/row_delivered_quantity_decimals": {"Invoice": {
        "CustomerNumber": "1", "InvoiceDate": "2024-12-02", "DueDate": "2025-01-01",
        "InvoiceRows": [{"ArticleNumber": "101", "Description": "Test", "DeliveredQuantity": 1.123}]}},
}
# list envelopes -> the entity schema of their items
PLURALS = {"Articles": "Article", "Customers": "Customer", "Orders": "Order", "Invoices": "Invoice",
           "Projects": "Project", "TermsOfPayments": "TermsOfPayment", "Units": "Unit"}
# values that depend on numbering or the moment, not on how a field is stored
NOT_COMPARED = {"DocumentNumber", "CustomerNumber", "ArticleNumber", "RowId", "OCR", "InvoiceDate", "DueDate",
                "OrderDate"}


@dataclass(frozen=True)
class Finding:
    kind: str  # length | decimals | empty | enum
    field: str  # e.g. "Invoice.InvoiceRows.DeliveredQuantity"
    spec: str
    recorded: str
    cassette: str


def request_body(exchange: Exchange) -> dict[str, Any] | None:
    """The JSON body the recorded write sent (rebuilt where the recorder redacted it)."""
    if exchange.name in RECONSTRUCTED:
        return RECONSTRUCTED[exchange.name]
    if exchange.method not in ("POST", "PUT") or not exchange.body.startswith("{"):
        return None
    body = json.loads(exchange.body)
    return body if isinstance(body, dict) else None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value)) if isinstance(value, (int, float, str)) and str(value).strip() else None
    except InvalidOperation:
        return None


def _empty(value: Any) -> bool:
    return value in (None, "")


def _child(schema: dict[str, Any], name: str) -> dict[str, Any]:
    prop: dict[str, Any] = schema.get("properties", {}).get(name, {})
    return prop.get("items", {}) if prop.get("type") == "array" else prop


def _stored_values(value: Any, schema: dict[str, Any], path: str, cassette: str) -> list[Finding]:
    """Lengths and enums of every value Fortnox answered with."""
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _stored_values(v, _child(schema, k), f"{path}.{k}", cassette)]
    if isinstance(value, list):
        return [f for item in value for f in _stored_values(item, schema, path, cassette)]
    if not isinstance(value, str) or not value:
        return []
    found = []
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        found.append(Finding("length", path, f"maxLength {schema['maxLength']}", f"{len(value)} characters stored",
                             cassette))
    if schema.get("enum") and value not in schema["enum"]:
        found.append(Finding("enum", path, "not in enum", f"{value!r} stored", cassette))
    return found


def _written(sent: Any, stored: Any, schema: dict[str, Any], path: str, exchange: Exchange) -> list[Finding]:
    """Decimals, lengths and empties of one written field against what Fortnox stored."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        return [f for k, v in sent.items() for f in _written(v, stored.get(k), _child(schema, k), f"{path}.{k}", exchange)]
    if isinstance(sent, list) and isinstance(stored, list):
        return [f for a, b in zip(sent, stored, strict=False) for f in _written(a, b, schema, path, exchange)]
    if _empty(sent):
        kept = "kept empty" if _empty(stored) else f"kept the previous value {stored!r}" \
            if exchange.method == "PUT" else f"filled in {stored!r}"
        return [Finding("empty", path, "no rule", f"{sent!r} sent, {kept}", exchange.name)]
    if isinstance(sent, str) and "maxLength" in schema and len(sent) > schema["maxLength"] and stored == sent:
        return [Finding("length", path, f"maxLength {schema['maxLength']}", f"{len(sent)} characters accepted",
                        exchange.name)]
    number, kept_number = _number(sent), _number(stored)
    if isinstance(sent, (int, float)) and number is not None and kept_number is not None and number != kept_number:
        exponent = kept_number.normalize().as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        spec = f"{schema.get('type', 'untyped')}, no rounding"
        return [Finding("decimals", path, spec, f"{sent!r} stored as {stored!r} ({places} decimals)", exchange.name)]
    return []


def audit(exchanges: list[Exchange] | None = None) -> list[Finding]:
    """Every place the recorded traffic disagrees with (or says more than) the spec, deduplicated."""
    table = limits()
    found: list[Finding] = []
    for exchange in exchanges if exchanges is not None else load():
        if not isinstance(exchange.response, dict) or exchange.status >= 300:
            continue
        for key, value in exchange.response.items():
            envelope = PLURALS.get(key, key)
            if envelope in table:
                found += _stored_values(value, table[envelope], envelope, exchange.name)
        body = request_body(exchange)
        if body is None:
            continue
        for envelope, sent in body.items():
            if envelope in table and isinstance(exchange.response.get(envelope), dict):
                found += _written(sent, exchange.response[envelope], table[envelope], envelope, exchange)
    unique: dict[tuple[str, str, str], Finding] = {}
    for finding in found:
        unique.setdefault((finding.kind, finding.field, finding.cassette), finding)
    return sorted(unique.values(), key=lambda f: (f.kind, f.field, f.cassette))


def stored_diffs(sent: Any, stored: Any, recorded: Any, path: str = "") -> list[str]:
    """Fields the request named whose stored value differs from what Fortnox stored (same kinds)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict) or not isinstance(recorded, dict):
            return [f"{path}: not stored as an object"]
        return [d for k, v in sent.items() if k not in NOT_COMPARED
                for d in stored_diffs(v, stored.get(k), recorded.get(k), f"{path}.{k}".lstrip("."))]
    if isinstance(sent, list):
        if not isinstance(stored, list) or not isinstance(recorded, list) or len(stored) != len(recorded):
            return [f"{path}: {stored!r} rows != recorded {recorded!r}"]
        return [d for i, (a, b, c) in enumerate(zip(sent, stored, recorded, strict=False))
                for d in stored_diffs(a, b, c, f"{path}[{i}]")]
    if _empty(recorded) or _empty(stored):
        return [] if _empty(recorded) == _empty(stored) else [f"{path}: stored {stored!r} != recorded {recorded!r}"]
    ours, theirs = _number(stored), _number(recorded)
    if isinstance(sent, (int, float)) and ours is not None and theirs is not None:
        return [] if ours == theirs else [f"{path}: stored {stored!r} != recorded {recorded!r}"]
    return [] if str(stored) == str(recorded) else [f"{path}: stored {stored!r} != recorded {recorded!r}"]


def default_diffs(stored: Any, recorded: Any, path: str = "") -> list[str]:
    """Fields a created entity holds empty (``""``/``null``) in the recording but not in the sandbox:
    a default the sandbox fills in where Fortnox keeps the field empty. Numbering fields aside."""
    if isinstance(recorded, dict) and isinstance(stored, dict):
        return [d for k, v in recorded.items() if k not in NOT_COMPARED and k in stored
                for d in default_diffs(stored[k], v, f"{path}.{k}".lstrip("."))]
    if isinstance(recorded, list) and isinstance(stored, list):
        return [d for i, (a, b) in enumerate(zip(stored, recorded, strict=False)) for d in default_diffs(a, b, f"{path}[{i}]")]
    if _empty(recorded) and not _empty(stored):
        return [f"{path}: the sandbox fills in {stored!r}, Fortnox kept {recorded!r}"]
    return []


if __name__ == "__main__":
    for item in audit():
        print(f"{item.kind:8} {item.field:45} spec: {item.spec:28} recorded: {item.recorded}  [{item.cassette}]")
