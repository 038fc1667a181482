"""The watcher trigger: a tenant's Fortnox events of one purpose, from the one socket of its app.

``FortnoxEventTrigger(tenant=..., purpose="status"|"catalog", fortnox_conn_id=..., events_url=None,
ledger_conn_id=None)`` goes into an ``AssetWatcher``. All of them in a triggerer process share one
Airflow shared stream (:meth:`shared_stream_key` is constant); the stream is
:class:`jetfort.events.hub.Hub`, which opens one socket per Fortnox app. Each trigger fires one
:class:`TriggerEvent` per batch of its tenant's events of its purpose, with the payload
``{"tenant", "purpose", "batch", "events": [...]}``; the DAG run's last task hands the batch ids to
:func:`jetfort.events.offsets.mark_applied`, and only then may the offsets move past those events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from jetfort.events.protocol import check_purpose

if TYPE_CHECKING:
    from jetfort.events.credentials import Subscriber
    from jetfort.events.hub import Hub

#: one shared stream per triggerer process; the hub opens one socket per Fortnox app in it
HUB_KEY = ("jetfort.events", "fortnox")


class FortnoxEventsUnavailable(RuntimeError):
    """This trigger's tenant cannot be served (its connection cannot be read, ...)."""


class FortnoxEventTrigger(BaseEventTrigger):
    def __init__(self, *, tenant: str, purpose: str, fortnox_conn_id: str, events_url: str | None = None,
                 ledger_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not tenant:
            raise ValueError("FortnoxEventTrigger: tenant must not be empty")
        if not fortnox_conn_id:
            raise ValueError(f"FortnoxEventTrigger for tenant {tenant!r}: fortnox_conn_id must not be empty")
        self.tenant = tenant
        try:
            self.purpose = check_purpose(purpose)
        except ValueError as exc:
            raise ValueError(f"FortnoxEventTrigger for tenant {tenant!r}: {exc}") from None
        self.fortnox_conn_id = fortnox_conn_id
        self.events_url = events_url or None
        self.ledger_conn_id = ledger_conn_id or None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"tenant": self.tenant, "purpose": self.purpose, "fortnox_conn_id": self.fortnox_conn_id,
                 "events_url": self.events_url, "ledger_conn_id": self.ledger_conn_id})

    def subscriber(self) -> Subscriber:
        # the socket machinery is imported where it runs (the triggerer), not when a DAG file is parsed
        from jetfort.events.credentials import Subscriber

        return Subscriber(self.tenant, self.purpose, self.fortnox_conn_id, self.ledger_conn_id, self.events_url)

    # ------------------------------------------------------------------------------ shared stream
    def shared_stream_key(self) -> tuple[str, str]:
        return HUB_KEY

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        from jetfort.events import hub as hubs

        async for item in hubs.hub_for(HUB_KEY).stream():
            yield item

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        from jetfort.events import hub as hubs

        async for event in self._events(hubs.hub_for(HUB_KEY), shared_stream):
            yield event

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Without a shared stream (a triggerer that does not share): a hub of its own, same events."""
        from jetfort.events import hub as hubs

        hub = hubs.Hub(("jetfort.events", "standalone", self.tenant, self.purpose),
                       hubs._Config.credentials(), hubs._Config.settings())
        async for event in self._events(hub, hub.stream()):
            yield event

    async def _events(self, hub: Hub, stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        from jetfort.events.hub import SubscriberError
        from jetfort.events.offsets import Batch

        registration = hub.register(self.subscriber())
        need = (self.tenant, self.purpose)
        try:
            async for item in stream:
                if isinstance(item, Batch) and item.need == need:
                    yield TriggerEvent(item.payload)
                elif isinstance(item, SubscriberError) and item.registration == registration:
                    raise FortnoxEventsUnavailable(item.message)
        finally:
            hub.unregister(registration)
