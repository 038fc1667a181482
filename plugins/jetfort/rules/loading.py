"""Tenant rules in: one tenant's JSON (or dict) validated into :class:`TenantRules`, or all tenants
from Variable key → JSON with the errors kept per tenant."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from jetfort.rules.errors import RulesError, problems_from
from jetfort.rules.files import TENANT_ID_PATTERN, VARIABLE_PREFIX
from jetfort.rules.tenant import TenantRules


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_tenant(tenant_id: str, raw: str | bytes | Mapping[str, Any]) -> TenantRules:
    """Validate one tenant's rules (JSON text or a dict); RulesError names the tenant and each field path."""
    if not isinstance(tenant_id, str) or not re.fullmatch(TENANT_ID_PATTERN, tenant_id):
        raise RulesError(
            str(tenant_id),
            [("(tenant id)", f"must match {TENANT_ID_PATTERN} (Variable key {VARIABLE_PREFIX}<tenant_id>)")],
        )
    data: Any = raw
    if isinstance(raw, str | bytes):
        try:
            data = json.loads(raw, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise RulesError(
                tenant_id, [("(json)", f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
            ) from None
        except ValueError as exc:
            raise RulesError(tenant_id, [("(json)", str(exc))]) from None
    try:
        rules = TenantRules.model_validate(data)
    except ValidationError as exc:
        raise RulesError(tenant_id, problems_from(exc)) from None
    rules._tenant_id = tenant_id
    return rules


def load_tenants(
    variables: Mapping[str, str | Mapping[str, Any]],
) -> tuple[dict[str, TenantRules], dict[str, RulesError]]:
    """Valid tenants and errors per tenant id, from Variable key → JSON; other keys are ignored.

    One tenant's invalid rules never hide the others.
    """
    tenants: dict[str, TenantRules] = {}
    errors: dict[str, RulesError] = {}
    for key in sorted(variables):
        if not key.startswith(VARIABLE_PREFIX):
            continue
        tenant_id = key[len(VARIABLE_PREFIX) :]
        try:
            tenants[tenant_id] = parse_tenant(tenant_id, variables[key])
        except RulesError as exc:
            errors[tenant_id] = exc
    return tenants, errors
