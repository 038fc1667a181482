"""Fortnox's official OpenAPI file as a contract, with one documented relaxation.

Usage (sandbox tests and the FortnoxHook tests use the same module)::

    from tests.contract.openapi import validate_request, validate_response
    validate_request("POST", "https://api.fortnox.se/3/orders", {"Order": {...}})
    validate_response("GET", "/3/orders/1", 200, {"Order": {...}})

Both raise :class:`ContractError` naming the operation and every schema error. Only the path and
query of ``url`` matter; any host (the sandbox's or api.fortnox.se) is accepted. The contract
covers the API (``/3/...``, ``/api/...``); the OAuth endpoints are not in the official file.

**The relaxation** ("blank, numeric-string and bare-list tolerance"). The official file is
generated and does not describe what the real API returns; recorded traffic wins where they differ.
It is applied by transforming the loaded spec once — no schema is skipped:

1. *blank values*: Fortnox renders "no value" as ``null``, ``""`` or ``0``, so every typed schema
   also accepts ``null``, every string schema also accepts ``""`` and every number schema also
   accepts ``0`` whatever its minimum (recorded: ``"Address1": null`` on customers,
   ``"PaymentWay": ""`` and ``"InvoicePeriodStart": ""`` on invoices, ``"VAT": null`` in article
   lists, ``"ConstructionAccount": 0`` on articles where the spec says minimum 1000);
2. *numbers and numeric strings are interchangeable*: a ``number``/``integer`` schema also accepts a
   string holding a number (recorded responses: article list ``"QuantityInStock": "0"``, invoice
   list ``"CurrencyRate": "1"``), and a plain ``string`` schema (no enum/format) also accepts a
   number (recorded request accepted by Fortnox: order row ``"OrderedQuantity": 1.0``);
3. *bare lists*: a response described as "A list of …" whose schema is a single item also accepts a
   JSON array of such items (the generator drops the array on ``/api/...`` lists, e.g. warehouse
   stock balance, which real clients read as an array);
4. *partial updates*: ``required`` applies to what a PUT body contains only when the field is sent,
   because Fortnox's PUT is a partial update (recorded: ``PUT /3/orders/6 {"Order": {"Comments":
   ...}}`` and ``PUT /3/customers/6 {"Customer": {"Name": ...}}`` → 200); PUT request bodies get
   the same schemas without ``required``. Responses and POST bodies keep ``required``.

The spec file ships in ``tests/data/fortnox/`` (origin and licence in ``SOURCES.md`` there);
``JETFORT_FORTNOX_OPENAPI`` points at another copy (e.g. a newer download from Fortnox).
"""

from __future__ import annotations

import copy
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

REPO = Path(__file__).resolve().parents[2]
SPEC_NAME = "fortnox-api-v3-openapi-official.json"
NUMERIC_STRING = r"^\s*-?[0-9]+(\.[0-9]+)?\s*$"
HOST = "https://api.fortnox.se"


class ContractError(AssertionError):
    """A request or response that the (relaxed) official contract rejects."""


def spec_path() -> Path:
    candidates = [os.environ.get("JETFORT_FORTNOX_OPENAPI", ""), str(REPO / "tests" / "data" / "fortnox" / SPEC_NAME)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(f"official Fortnox OpenAPI file not found; set JETFORT_FORTNOX_OPENAPI (tried {candidates})")


@lru_cache(maxsize=1)
def official_spec() -> dict[str, Any]:
    return json.loads(spec_path().read_text(encoding="utf-8"))


def _relax_schema(node: Any) -> Any:
    """Rules 1 and 2 on one schema node and everything below it."""
    if isinstance(node, list):
        return [_relax_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: (_relax_schema(value) if key in ("properties", "items", "allOf", "anyOf", "oneOf",
                                                   "additionalProperties", "not") else value)
           for key, value in node.items()}
    if "properties" in node:
        out["properties"] = {name: _relax_schema(prop) for name, prop in node["properties"].items()}
    kind = node.get("type")
    if kind is None or "$ref" in node:
        return out
    out["nullable"] = True
    if kind in ("number", "integer"):
        return {"anyOf": [out, {"type": "string", "pattern": NUMERIC_STRING, "nullable": True},
                          {"type": "number", "enum": [0], "nullable": True}], "nullable": True}
    if kind == "string":
        if not any(key in out for key in ("enum", "format", "pattern")):
            return {"anyOf": [out, {"type": "number", "nullable": True}], "nullable": True}
        if "enum" in out:
            out["enum"] = [*out["enum"], "", None]
        if any(key in out for key in ("format", "minLength", "pattern")):
            return {"anyOf": [out, {"type": "string", "enum": [""], "nullable": True}], "nullable": True}
    return out


def _without_required(node: Any, components: dict[str, Any], depth: int = 0) -> Any:
    """Inline ``$ref``s (a few levels deep) and drop ``required`` everywhere (rule 4)."""
    if isinstance(node, list):
        return [_without_required(item, components, depth) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        if depth > 6:
            return node
        return _without_required(components[node["$ref"].rsplit("/", 1)[-1]], components, depth + 1)
    return {key: _without_required(value, components, depth) for key, value in node.items() if key != "required"}


def relax(spec: dict[str, Any]) -> dict[str, Any]:
    """The documented relaxation (rules 1-4), as a transformation of the loaded spec."""
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    for name in list(schemas):
        schemas[name] = _relax_schema(schemas[name])
    for operations in spec["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    if "schema" not in media:
                        continue
                    schema = _relax_schema(media["schema"])
                    described = str(response.get("description", "")).strip().lower()
                    if described.startswith("a list of") and "$ref" in schema:  # rule 3
                        schema = {"anyOf": [schema, {"type": "array", "items": schema}]}
                    media["schema"] = schema
            for media in operation.get("requestBody", {}).get("content", {}).values():
                if "schema" in media:
                    media["schema"] = _relax_schema(media["schema"])
    for operations in spec["paths"].values():
        put = operations.get("put")
        if isinstance(put, dict):  # rule 4
            for media in put.get("requestBody", {}).get("content", {}).values():
                if "schema" in media:
                    media["schema"] = _without_required(media["schema"], schemas)
    return spec


@lru_cache(maxsize=1)
def contract() -> OpenAPI:
    # request bodies are declared as "*/*"; Fortnox reads them as JSON
    config = Config(spec_validator_cls=None, extra_media_type_deserializers={"*/*": json.loads})
    return OpenAPI.from_dict(relax(official_spec()), config=config)


def _request(method: str, url: str, body: Any = None) -> MockRequest:
    parts = urlsplit(url)
    data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
    if isinstance(data, str):
        data = data.encode()
    args = dict(parse_qsl(parts.query, keep_blank_values=True))
    return MockRequest(HOST, method.lower(), parts.path.rstrip("/") or "/", args=args, data=data,
                       content_type="application/json")


def _raise(kind: str, method: str, url: str, errors: list[Exception]) -> None:
    if errors:
        details = "; ".join(_describe(e) for e in errors)
        raise ContractError(f"{kind} {method.upper()} {url} breaks the Fortnox contract: {details}")


def _describe(error: Exception) -> str:
    """The schema errors with their JSON paths, else the error (and its cause) as text."""
    seen: BaseException | None = error
    while seen is not None:
        nested = getattr(seen, "schema_errors", None)
        if nested:
            return "; ".join(f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in nested)
        seen = seen.__cause__
    return f"{type(error).__name__}: {error}"


def validate_request(method: str, url: str, body: Any = None) -> None:
    """Raise :class:`ContractError` unless the request fits an operation of the contract."""
    errors = list(contract().iter_request_errors(_request(method, url, body)))
    _raise("request", method, url, errors)


def validate_response(method: str, url: str, status: int, body: Any, request_body: Any = None) -> None:
    """Raise :class:`ContractError` unless ``body`` fits the documented response of the operation."""
    request = _request(method, url, request_body)
    payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    response = MockResponse(payload, status_code=status, content_type="application/json")
    errors = list(contract().iter_response_errors(request, response))
    _raise("response", method, url, errors)
