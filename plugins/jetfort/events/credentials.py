"""What a socket needs from jetfort's Fortnox connections: the app (events URL, client id and secret),
each tenant's current access token, and the ledger. Read from the triggerer through the same code the
tasks use (:class:`jetfort.fortnox.hook.FortnoxHook`, the ledger's token store), off the event loop
in one worker thread of its own (Airflow's sync SDK calls are safe from a worker thread in the
triggerer; first reads build hooks and ledgers, one at a time). Secrets never reach a log line or a ``repr``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from jetfort.events.protocol import DEFAULT_EVENTS_URL
from jetfort.fortnox.auth import mask
from jetfort.fortnox.hook import FortnoxHook
from jetfort.ledger import Ledger
from jetfort.ledger.engine import DEFAULT_CONN_ID


@dataclass(frozen=True)
class Subscriber:
    """One watcher trigger: a tenant's events of one purpose."""

    tenant: str
    purpose: str
    fortnox_conn_id: str
    ledger_conn_id: str | None = None
    events_url: str | None = None

    @property
    def need(self) -> tuple[str, str]:
        return (self.tenant, self.purpose)

    @property
    def ledger_id(self) -> str:
        return self.ledger_conn_id or DEFAULT_CONN_ID


@dataclass(frozen=True)
class App:
    """One Fortnox integration on one events URL with one ledger: one socket."""

    events_url: str
    client_id: str
    client_secret: str = field(repr=False, compare=False)
    ledger_conn_id: str = DEFAULT_CONN_ID

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.events_url, self.client_id, self.ledger_conn_id)


@dataclass(frozen=True)
class TenantToken:
    access_token: str = field(repr=False)
    expires_at: dt.datetime | None = None


class Credentials(Protocol):
    async def app(self, sub: Subscriber) -> App: ...

    async def token(self, sub: Subscriber, *, rejected: str | None = None) -> TenantToken: ...

    async def ledger(self, ledger_conn_id: str) -> Ledger: ...


class AirflowCredentials:
    """:class:`Credentials` from Airflow connections (Fortnox connection per tenant, ledger connection)."""

    def __init__(self) -> None:
        self._hooks: dict[tuple[str, str], FortnoxHook] = {}
        self._ledgers: dict[str, Ledger] = {}
        self._lock = threading.Lock()
        # one reader thread: first reads import and build hooks and ledgers, which is not safe in parallel
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jetfort-events-credentials")

    def _hook(self, sub: Subscriber) -> FortnoxHook:
        key = (sub.fortnox_conn_id, sub.ledger_id)
        with self._lock:
            hook = self._hooks.get(key)
            if hook is None:
                hook = FortnoxHook(sub.fortnox_conn_id, ledger_conn_id=sub.ledger_id)
                self._hooks[key] = hook
        return hook

    def _app(self, sub: Subscriber) -> App:
        hook = self._hook(sub)
        settings = hook.settings
        if not settings.client_id or not settings.client_secret:
            raise ValueError(f"tenant {sub.tenant!r}: Fortnox connection {sub.fortnox_conn_id!r} has no client id "
                             f"(login) or client secret (password), which the events socket needs")
        mask(settings.client_secret)
        url = sub.events_url or str(hook.get_connection(sub.fortnox_conn_id).extra_dejson.get("events_url")
                                    or DEFAULT_EVENTS_URL)
        return App(url, settings.client_id, settings.client_secret, sub.ledger_id)

    def _token(self, sub: Subscriber, rejected: str | None) -> TenantToken:
        auth = self._hook(sub).auth
        if rejected:
            auth.invalidate(rejected)
        stored = auth.store.get(auth.key)
        # a newer token another process stored is taken as is; else the auth's own (refreshed if due)
        if stored is not None and stored.access_token and stored.access_token != rejected \
                and stored.valid_for(auth.refresh_margin):
            token, expires = stored.access_token, stored.expires_at
        else:
            token = auth.access_token()
            stored = auth.store.get(auth.key)
            expires = stored.expires_at if stored is not None and stored.access_token == token else None
        mask(token)
        return TenantToken(token, expires)

    def _ledger(self, ledger_conn_id: str) -> Ledger:
        with self._lock:
            ledger = self._ledgers.get(ledger_conn_id)
        if ledger is None:
            ledger = Ledger.from_conn_id(ledger_conn_id)
            with self._lock:
                self._ledgers[ledger_conn_id] = ledger
        return ledger

    async def app(self, sub: Subscriber) -> App:
        return await asyncio.get_running_loop().run_in_executor(self._reader, self._app, sub)

    async def token(self, sub: Subscriber, *, rejected: str | None = None) -> TenantToken:
        return await asyncio.get_running_loop().run_in_executor(self._reader, self._token, sub, rejected)

    async def ledger(self, ledger_conn_id: str) -> Ledger:
        return await asyncio.get_running_loop().run_in_executor(self._reader, self._ledger, ledger_conn_id)
