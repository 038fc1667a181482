"""Failure and attention notices: which Airflow connection, to whom, on what."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from jetfort.rules.errors import Problems
from jetfort.rules.types import ConnId, RulesModel


class NotificationRules(RulesModel):
    """Failure and attention notices through an Airflow connection (secrets stay in the Connection)."""

    kind: Literal["smtp", "slack_webhook", "http"] | None = None
    conn_id: ConnId | None = Field(default=None, description="Airflow connection the notifier uses.")
    to: list[Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list, description="Recipients (smtp)."
    )
    on_failure: bool = True
    on_quarantine: bool = True
    on_cap_reached: bool = True

    @model_validator(mode="after")
    def _complete(self) -> NotificationRules:
        problems = []
        if self.kind and not self.conn_id:
            problems.append(("conn_id", f"required for kind {self.kind!r}"))
        if self.conn_id and not self.kind:
            problems.append(("kind", "required when conn_id is set"))
        if self.kind == "smtp" and not self.to:
            problems.append(("to", "smtp needs at least one recipient"))
        if problems:
            raise Problems(problems)
        return self
