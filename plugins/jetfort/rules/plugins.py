"""Tenant plugins as the rules name them: a dotted import path and a config without secrets."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from jetfort.rules.errors import Problems
from jetfort.rules.types import DottedPath, RulesModel, secret_keys


class PluginSpec(RulesModel):
    """A tenant plugin: dotted import path ('pkg.module' or 'pkg.module:attr') and its config."""

    path: DottedPath
    config: dict[str, Any] = Field(default_factory=dict, description="No secrets: name a conn id instead.")
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data

    @field_validator("config")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        found = secret_keys(value)
        if found:
            raise Problems(
                [
                    (p, "looks like a secret; keep secrets in an Airflow Connection and put its conn id here")
                    for p in found
                ]
            )
        return value
