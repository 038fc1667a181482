"""When the flows run (cron per flow part, time zone) and how Airflow retries a failed task."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from jetfort.rules.files import default_value, from_defaults
from jetfort.rules.types import Cron, RulesModel


class Schedules(RulesModel):
    """Cron per flow part (data-interval timetables); null switches a part's schedule off."""

    orders: Cron = from_defaults("schedules", "orders")
    order_status: Cron | None = from_defaults("schedules", "order_status")
    catalog: Cron | None = from_defaults("schedules", "catalog")
    drift: Cron | None = from_defaults("schedules", "drift")
    window_overlap_minutes: int = Field(
        default_factory=lambda: default_value("schedules", "window_overlap_minutes"),
        ge=0,
        le=1440,
        description="Each run also re-reads this many minutes before its window (clock skew, late writes).",
    )
    timezone: str = from_defaults("schedules", "timezone")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like 'Europe/Stockholm')"
            ) from None
        return value


class RetryRules(RulesModel):
    """How Airflow retries a failed jetfort task (permanent errors are never retried)."""

    count: int = Field(default=3, ge=0, le=10, description="Retries after the first try.")
    delay_seconds: float = Field(
        default=30.0, gt=0, le=3600,
        description="Delay before the first retry; doubles on each further retry (exponential backoff).",
    )
    max_delay_minutes: float = Field(default=15.0, gt=0, le=1440, description="Cap on the backoff delay.")
