"""A small, independent WebSocket client for the sandbox's ``/topics-v1`` (tests only).

It speaks the protocol as the reference describes it (send a command, read its response; anything
with a ``tenantId`` is an event) with the ``websockets`` library, so the tests check the wire, not
the sandbox's own classes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from sandbox.fortnox import FortnoxSandbox, create_app
from sandbox.fortnox.emulator import Credentials
from sandbox.fortnox.events import Knobs
from sandbox.server import serve_in_thread


@dataclass
class Socket:
    ws: ClientConnection
    events: list[dict[str, Any]] = field(default_factory=list)  # received, not yet taken
    closed: ConnectionClosed | None = None

    def _next(self, timeout: float) -> dict[str, Any] | None:
        try:
            raw = self.ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        message = json.loads(raw)
        assert isinstance(message, dict), raw
        return message

    def command(self, name: str, **fields: Any) -> dict[str, Any]:
        """Send one command and return its response (events arriving meanwhile are kept)."""
        self.ws.send(json.dumps({"command": name, **fields}))
        return self.response(name)

    def response(self, name: str | None, timeout: float = 5) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._next(deadline - time.monotonic())
            if message is None:
                break
            if "tenantId" in message:
                self.events.append(message)
                continue
            assert message.get("response") == name, message
            return message
        raise AssertionError(f"no response to {name} within {timeout} s")

    def take(self, count: int, timeout: float = 5) -> list[dict[str, Any]]:
        """Exactly the next ``count`` events (fails if fewer come in time)."""
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            message = self._receive(deadline - time.monotonic())
            if message is None:
                break
        if len(self.events) < count:
            raise AssertionError(f"expected {count} events within {timeout} s, got {self.events}")
        out, self.events = self.events[:count], self.events[count:]
        return out

    def drain(self, quiet: float = 0.6) -> list[dict[str, Any]]:
        """Every event until none came for ``quiet`` seconds (or the server closed the socket)."""
        while self.closed is None and self._receive(quiet) is not None:
            pass
        out, self.events = self.events, []
        return out

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        try:
            message = self._next(timeout)
        except ConnectionClosed as exc:
            self.closed = exc
            return None
        if message is not None:
            assert "tenantId" in message, f"unexpected non-event {message}"
            self.events.append(message)
        return message

    def subscribe(self, secret: str, tokens: list[str], topics: list[dict[str, str]]) -> dict[str, Any]:
        added = self.command("add-tenants-v1", clientSecret=secret, accessTokens=[f"Bearer {t}" for t in tokens])
        assert added["result"] == "ok" and not added["invalidTokens"], added
        assert self.command("add-topics-v1", topics=topics) == {"response": "add-topics-v1", "result": "ok",
                                                                   "invalidTopics": []}
        assert self.command("subscribe-v1") == {"response": "subscribe-v1", "result": "ok"}
        return added


@dataclass
class Env:
    base: str
    sandbox: FortnoxSandbox
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/topics-v1"

    @contextmanager
    def socket(self) -> Iterator[Socket]:
        with connect(self.ws_url, open_timeout=5) as ws:
            yield Socket(ws)

    def company(self, *, shared_client: bool = True) -> Credentials:
        """A fresh company; with ``shared_client`` it is consented to the default integration."""
        return self.sandbox.create_company(client_id=self.sandbox.default.client_id if shared_client else None)

    def token(self, credentials: Credentials) -> str:
        return self.sandbox.mint_access_token(credentials.tenant_id, credentials.client_id)

    def call(self, credentials: Credentials, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, self.base + path, json=body, timeout=30,
                                     headers={"Authorization": f"Bearer {self.token(credentials)}",
                                              "Content-Type": "application/json"})
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def log(self, topic: str | None = None, tenant: int | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {}
        if topic is not None:
            params["topic"] = topic
        if tenant is not None:
            params["tenant"] = tenant
        return list(self.http.get(f"{self.base}/_sandbox/events/log", params=params, timeout=10).json()["events"])

    def knobs(self, **knobs: Any) -> dict[str, Any]:
        response = self.http.post(f"{self.base}/_sandbox/events/knobs", json=knobs, timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture(scope="module", name="env")
def env_fixture() -> Iterator[Env]:
    app = create_app(seed=5, rate_limit=100_000)
    with serve_in_thread(app) as base:
        yield Env(base, app.sandbox)


@pytest.fixture(autouse=True, name="knobs_off")
def knobs_off_fixture(env: Env) -> Iterator[None]:
    yield
    env.sandbox.events.set_knobs(**Knobs().as_dict())
    env.sandbox.events.disconnect_all()
    deadline = time.monotonic() + 5
    while env.sandbox.events.connections():  # the server lets go of closed sockets a moment later
        assert time.monotonic() < deadline, env.sandbox.events.connections()
        time.sleep(0.02)


def order_body(customer: str = "1", article: str = "1001", qty: int = 2) -> dict[str, Any]:
    return {"Order": {"CustomerNumber": customer,
                      "OrderRows": [{"ArticleNumber": article, "OrderedQuantity": qty, "DeliveredQuantity": qty}]}}


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["topic"], e["type"], e["entityId"]) for e in events]
