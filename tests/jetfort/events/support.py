"""Integration support: A's Fortnox sandbox (its /topics-v1 WebSocket is the oracle), credentials that
mint the sandbox's real access tokens, and a driver that runs triggers the way Airflow's TriggerRunner
does (SharedStreamManager.subscribe + filter_shared_stream)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from airflow.triggers.shared_stream import SharedStreamManager

from jetfort.events import hub as hubs
from jetfort.events.credentials import App, Subscriber, TenantToken
from jetfort.events.stream import StreamSettings
from jetfort.events.trigger import FortnoxEventTrigger
from jetfort.ledger import Ledger
from sandbox.fortnox import FortnoxSandbox, create_app
from sandbox.fortnox.emulator import Credentials as Company
from sandbox.fortnox.events import Knobs
from sandbox.server import serve_in_thread

FAST = dict(coalesce=0.05, poll_interval=0.1, maintain_interval=0.2, invalid_retry=0.5, redeliver_after=60.0,
            orphan_grace=60.0, command_timeout=5.0, open_timeout=5.0, backoff_initial=0.1, backoff_max=0.5,
            settle=0.2)


@dataclass
class SandboxCredentials:
    """Credentials from the sandbox: its real client secret and freshly minted access tokens."""

    sandbox: FortnoxSandbox
    ws_url: str
    ledger_obj: Ledger
    companies: dict[str, Company] = field(default_factory=dict)  # fortnox_conn_id -> company
    tokens: dict[str, str] = field(default_factory=dict, repr=False)  # current token per connection
    calls: list[str] = field(default_factory=list)

    def company(self, conn_id: str) -> Company:
        company = self.sandbox.create_company(client_id=self.sandbox.default.client_id)
        self.companies[conn_id] = company
        return company

    def rotate(self, conn_id: str) -> str:
        company = self.companies[conn_id]
        self.tokens[conn_id] = self.sandbox.mint_access_token(company.tenant_id, company.client_id)
        return self.tokens[conn_id]

    async def app(self, sub: Subscriber) -> App:
        self.calls.append(f"app:{sub.fortnox_conn_id}")
        if sub.fortnox_conn_id not in self.companies:
            raise KeyError(f"The conn_id `{sub.fortnox_conn_id}` isn't defined")
        company = self.companies[sub.fortnox_conn_id]
        return App(sub.events_url or self.ws_url, company.client_id, company.client_secret, sub.ledger_id)

    async def token(self, sub: Subscriber, *, rejected: str | None = None) -> TenantToken:
        if sub.fortnox_conn_id not in self.tokens:
            self.rotate(sub.fortnox_conn_id)
        return TenantToken(self.tokens[sub.fortnox_conn_id], dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))

    async def ledger(self, ledger_conn_id: str) -> Ledger:
        return self.ledger_obj


@dataclass
class Env:
    base: str
    sandbox: FortnoxSandbox
    ledger: Ledger
    creds: SandboxCredentials

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/topics-v1"

    def connections(self) -> list[dict[str, Any]]:
        return self.sandbox.events.connections()


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[tuple[str, FortnoxSandbox]]:
    app = create_app(seed=5, rate_limit=100_000)
    with serve_in_thread(app) as base:
        yield base, app.sandbox


@pytest.fixture
def env(sandbox_server: tuple[str, FortnoxSandbox], tmp_path: Any) -> Iterator[Env]:
    base, sandbox = sandbox_server
    ledger = Ledger.from_url(f"sqlite:///{tmp_path}/ledger.db")
    creds = SandboxCredentials(sandbox, base.replace("http://", "ws://") + "/topics-v1", ledger)
    hubs.reset()
    hubs.configure(credentials=lambda: creds, settings=lambda: StreamSettings(**FAST))
    yield Env(base, sandbox, ledger, creds)
    hubs.reset()
    sandbox.events.set_knobs(**Knobs().as_dict())
    sandbox.events.disconnect_all()


class Runner:
    """Runs triggers as airflow.jobs.triggerer_job_runner.TriggerRunner.run_trigger does for shared streams."""

    def __init__(self) -> None:
        self.manager = SharedStreamManager(ack_timeout=30)
        self.events: dict[int, list[dict[str, Any]]] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.errors: dict[int, BaseException] = {}

    def start(self, trigger_id: int, trigger: FortnoxEventTrigger) -> None:
        # the triggerer rebuilds the trigger from its serialized kwargs
        classpath, kwargs = trigger.serialize()
        assert classpath == "jetfort.events.trigger.FortnoxEventTrigger"
        rebuilt = FortnoxEventTrigger(**kwargs)
        self.events[trigger_id] = []
        self.tasks[trigger_id] = asyncio.create_task(self._run(trigger_id, rebuilt))

    async def _run(self, trigger_id: int, trigger: FortnoxEventTrigger) -> None:
        key = trigger.shared_stream_key()
        try:
            stream = self.manager.subscribe(trigger_id=trigger_id, trigger=trigger, key=key)
            async for event in trigger.filter_shared_stream(stream):
                self.events[trigger_id].append(event.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.errors[trigger_id] = exc
        finally:
            await self.manager.unsubscribe(trigger_id, key)

    async def stop(self, trigger_id: int) -> None:
        task = self.tasks.pop(trigger_id)
        task.cancel()
        await asyncio.wait({task})

    async def stop_all(self) -> None:
        async def stop() -> None:
            for trigger_id in list(self.tasks):
                await self.stop(trigger_id)
            await self.manager.stop_all()

        try:
            await asyncio.wait_for(stop(), 10)
        except TimeoutError:
            for task in asyncio.all_tasks():
                task.print_stack(limit=6)
            raise AssertionError("the triggers did not stop within 10 s") from None


@asynccontextmanager
async def running() -> AsyncIterator[Runner]:
    runner = Runner()
    try:
        yield runner
    finally:
        await runner.stop_all()


async def until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def events_of(payloads: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["topic"], e["offset"], e["entityId"]) for p in payloads for e in p["events"]]
