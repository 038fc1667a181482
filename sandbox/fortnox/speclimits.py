"""Field limits (types, maxLength, enums, required) taken from Fortnox's official OpenAPI file.

The sandbox validates write bodies with these limits so that it rejects what Fortnox rejects. The
table is extracted once from the official file into ``spec_limits.json`` (shipped with the sandbox,
so the sandbox runs without the 1 MB spec); regenerate with
``python -m sandbox.fortnox.speclimits /path/to/fortnox-api-v3-openapi-official.json``.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

LIMITS_FILE = Path(__file__).with_name("spec_limits.json")

# write bodies the sandbox accepts, by envelope key -> component schema
WRITE_SCHEMAS = {
    "Customer": "fortnox_Customer",
    "Article": "fortnox_Article",
    "Order": "fortnox_Order",
    "Invoice": "fortnox_Invoice",
    "InvoicePayment": "fortnox_InvoicePayment",
    "PriceList": "fortnox_PriceList",
    "Price": "fortnox_Price",
    "Currency": "fortnox_Currency",
    "TermsOfPayment": "fortnox_TermsOfPayment",
    "WayOfDelivery": "fortnox_WayOfDelivery",
    "Unit": "fortnox_Unit",
    "Project": "fortnox_Project",
}

_KEEP = ("type", "maxLength", "minLength", "enum", "minimum", "maximum", "format")


def _compact(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    out: dict[str, Any] = {k: schema[k] for k in _KEEP if k in schema}
    if schema.get("type") == "array" and depth < 4:
        out["items"] = _compact(schema["items"], components, depth + 1)
    if "properties" in schema and depth < 4:
        out["type"] = "object"
        out["required"] = list(schema.get("required", []))
        out["properties"] = {
            name: _compact(prop, components, depth + 1) for name, prop in schema["properties"].items()
        }
    return out


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    """Build the compact limits table from the parsed official spec."""
    components = spec["components"]["schemas"]
    return {key: _compact(components[name], components) for key, name in WRITE_SCHEMAS.items()}


@lru_cache(maxsize=1)
def limits() -> dict[str, Any]:
    """The shipped limits table (envelope key -> compact schema)."""
    return json.loads(LIMITS_FILE.read_text(encoding="utf-8"))


if __name__ == "__main__":
    source = Path(sys.argv[1])
    table = extract(json.loads(source.read_text(encoding="utf-8")))
    LIMITS_FILE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {LIMITS_FILE} ({len(table)} schemas)")
