"""The sockets of one triggerer process, shared by every :class:`~jetfort.events.trigger.FortnoxEventTrigger`.

Airflow's shared streams hand :meth:`open_shared_stream` the kwargs of ONE trigger of the group, so the
group's members register themselves here (from ``filter_shared_stream``) and :class:`Hub` keeps one
:class:`~jetfort.events.stream.AppSocket` per Fortnox app (events URL, client id, ledger) for the tenants
registered now, adding and removing tenants as triggers come and go. Everything runs on the triggerer's
event loop; connection reads happen off it (:mod:`jetfort.events.credentials`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass

from jetfort.events.credentials import AirflowCredentials, App, Credentials, Subscriber
from jetfort.events.stream import AppSocket, StreamSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubscriberError:
    """A raw stream item telling one registered trigger that it cannot be served (and why)."""

    registration: int
    message: str


class _Config:
    credentials: Callable[[], Credentials] = AirflowCredentials
    settings: Callable[[], StreamSettings] = StreamSettings.from_env


_HUBS: dict[Hashable, Hub] = {}


def configure(*, credentials: Callable[[], Credentials] | None = None,
              settings: Callable[[], StreamSettings] | None = None) -> None:
    """Replace how hubs get credentials and timings (tests, the bench); affects hubs made afterwards."""
    if credentials is not None:
        _Config.credentials = credentials
    if settings is not None:
        _Config.settings = settings


def reset() -> None:
    """Forget every hub of this process (tests: each runs its own event loop)."""
    _HUBS.clear()
    _Config.credentials = AirflowCredentials
    _Config.settings = StreamSettings.from_env


def hub_for(key: Hashable) -> Hub:
    hub = _HUBS.get(key)
    if hub is None:
        hub = _HUBS[key] = Hub(key, _Config.credentials(), _Config.settings())
    return hub


class Hub:
    def __init__(self, key: Hashable, credentials: Credentials, settings: StreamSettings) -> None:
        self.key = key
        self.credentials = credentials
        self.settings = settings
        self._subs: dict[int, Subscriber] = {}
        self._ids = itertools.count(1)
        self._apps: dict[Subscriber, App] = {}
        self._failed: dict[int, str] = {}
        self._sockets: dict[tuple[str, str, str], tuple[AppSocket, asyncio.Task[None]]] = {}
        self._changed: asyncio.Event | None = None
        self._out: asyncio.Queue[object] | None = None
        self._running = False

    # ------------------------------------------------------------------------------ registrations
    def register(self, sub: Subscriber) -> int:
        registration = next(self._ids)
        self._subs[registration] = sub
        log.info("Fortnox events: trigger for tenant %r (%s) registered", sub.tenant, sub.purpose)
        self._poke()
        return registration

    def unregister(self, registration: int) -> None:
        sub = self._subs.pop(registration, None)
        self._failed.pop(registration, None)
        if sub is not None:
            log.info("Fortnox events: trigger for tenant %r (%s) left", sub.tenant, sub.purpose)
        self._poke()

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def sockets(self) -> list[AppSocket]:
        return [socket for socket, _ in self._sockets.values()]

    # ------------------------------------------------------------------------------ the stream
    async def stream(self) -> AsyncIterator[object]:
        """Raw items for the group: :class:`~jetfort.events.offsets.Batch` and :class:`SubscriberError`.

        Runs until cancelled (the last trigger left); yields forever or raises, as Airflow asks."""
        while self._running:  # a previous run of this hub is still being torn down
            await asyncio.sleep(0.05)
        self._running = True
        self._changed = asyncio.Event()
        out: asyncio.Queue[object] = asyncio.Queue()
        self._out = out
        supervisor = asyncio.create_task(self._supervise(), name=f"jetfort events hub {self.key!r}")
        try:
            while True:
                item = await out.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            supervisor.cancel()
            await asyncio.wait({supervisor})
            await self._stop_sockets(list(self._sockets))
            self._apps.clear()
            self._out = None
            self._changed = None
            self._running = False  # the hub stays: the next group of this key uses it again

    async def _supervise(self) -> None:
        assert self._changed is not None and self._out is not None
        await asyncio.sleep(self.settings.settle)  # let the group's other triggers register first
        try:
            while True:
                self._changed.clear()
                await self._reconcile()
                waiter = asyncio.ensure_future(self._changed.wait())
                try:
                    await asyncio.wait({waiter}, timeout=30)
                finally:
                    waiter.cancel()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must fail the group loudly, not hang it
            log.exception("Fortnox events hub failed")
            self._out.put_nowait(exc)

    async def _reconcile(self) -> None:
        out = self._out
        assert out is not None
        for registration, sub in list(self._subs.items()):
            if sub in self._apps or registration in self._failed:
                continue
            try:
                self._apps[sub] = await self.credentials.app(sub)
            except Exception as exc:
                message = (f"tenant {sub.tenant!r} ({sub.purpose}): cannot open the Fortnox events socket "
                           f"from connection {sub.fortnox_conn_id!r}: {type(exc).__name__}: {exc}")
                log.error("Fortnox events: %s", message)
                self._failed[registration] = message
                out.put_nowait(SubscriberError(registration, message))
        groups: dict[tuple[str, str, str], list[Subscriber]] = {}
        apps: dict[tuple[str, str, str], App] = {}
        for sub in self._subs.values():
            app = self._apps.get(sub)
            if app is not None:
                groups.setdefault(app.key, []).append(sub)
                apps[app.key] = app
        for key, subs in groups.items():
            if key not in self._sockets:
                socket = AppSocket(apps[key], self.credentials, self.settings, out.put_nowait)
                task = asyncio.create_task(self._run_socket(socket), name=f"jetfort events {socket!r}")
                self._sockets[key] = (socket, task)
            self._sockets[key][0].update(subs)
        await self._stop_sockets([key for key in self._sockets if key not in groups])

    async def _run_socket(self, socket: AppSocket) -> None:
        while True:
            try:
                await socket.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("Fortnox events %r stopped (%s: %s); starting it again in 30 s",
                          socket, type(exc).__name__, exc, exc_info=True)
            await asyncio.sleep(30)

    async def _stop_sockets(self, keys: list[tuple[str, str, str]]) -> None:
        for key in keys:
            socket, task = self._sockets.pop(key)
            task.cancel()
            await asyncio.wait({task})
            log.info("Fortnox events %r closed (no trigger needs it)", socket)
