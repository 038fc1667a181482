"""Fortnox events (WebSocket topics): which DAGs of a tenant also run on Fortnox's change events."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jetfort.rules.types import RulesModel

#: The event-capable flow parts: the DAG part (``jetfort__<tenant>__<part>``) → the events' purpose.
EVENT_PARTS: dict[str, Literal["status", "catalog"]] = {"order_status": "status", "catalog": "catalog"}


class EventRules(RulesModel):
    """Run the status and catalog DAGs on Fortnox's change events, seconds after a change; the cron
    schedule stays as the safety net. The Fortnox connection's extra ``events_url`` names the endpoint
    (default ``wss://ws.fortnox.se/topics-v1``)."""

    enabled: bool = Field(default=False, description="Listen to the tenant's Fortnox events.")
    status: bool = Field(
        default=True,
        description="The order-status DAG runs on order and invoice events (needs status_map.enabled).",
    )
    catalog: bool = Field(default=True, description="The catalog DAG runs on article and stock-balance events.")

    def purposes(self) -> tuple[str, ...]:
        """The purposes switched on (none when events are off)."""
        if not self.enabled:
            return ()
        return tuple(p for p in ("status", "catalog") if getattr(self, p))
