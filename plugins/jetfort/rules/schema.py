"""The tenant rules' JSON schema, committed as ``include/mappings/tenant_rules.schema.json`` for editors."""

from __future__ import annotations

import json
from pathlib import Path

from jetfort.rules.files import SCHEMA_FILE, mappings_dir
from jetfort.rules.tenant import TenantRules


def render_json_schema() -> str:
    """The tenant rules' JSON schema as committed in include/mappings/tenant_rules.schema.json."""
    schema = TenantRules.model_json_schema(by_alias=True)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_json_schema(path: Path | None = None) -> Path:
    """Write the schema (default: mappings dir) — run ``python -m jetfort.rules`` after changing models."""
    target = path or (mappings_dir() / SCHEMA_FILE)
    target.write_text(render_json_schema(), encoding="utf-8")
    return target
