"""``/topics-v1``: the Fortnox WebSocket events endpoint, and its ``/_sandbox/events/...`` control routes.

Protocol (reference §1, choices for unconfirmed details in FIDELITY.md): the client sends JSON commands
and the server answers each with ``{"response": <command>, "result": "ok"|"error", ...}``.

- ``add-tenants-v1`` {clientSecret, accessTokens: ["Bearer <jwt>", ...], includeChildTenants?} — the
  secret must be the integration's OAuth client secret and each token a live access token the sandbox
  issued to that client; answer ``tenantIds`` {<token as sent>: <tenant id>} and ``invalidTokens``.
  Every other command before a tenant was added is answered with an error.
- ``add-topics-v1`` {topics: [{topic, offset?}]} — unknown names in ``invalidTopics``; with an offset
  the stream resumes after it (14 days back at most, older or unknown offsets start at the earliest
  retained event); without one it starts at the end (new events only).
- ``subscribe-v1`` starts the stream; ``list-tenants-v1`` → ``tenantIds`` [ids];
  ``remove-tenants-v1`` {accessTokens: [...]} or {tenants: [ids]}.

Events: ``{"topic", "offset", "type", "tenantId", "entityId", "timestamp"}``, only the connection's
tenants', in order per topic. Control (no auth): ``GET|POST /_sandbox/events/knobs``,
``POST /_sandbox/events/disconnect``, ``GET /_sandbox/events/log?topic=&tenant=``,
``GET /_sandbox/events/connections``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import random
import re
import time
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect

from .events import TOPICS, Entry, EventHub
from .web import dumps

COMMANDS = ("add-tenants-v1", "add-topics-v1", "subscribe-v1", "list-tenants-v1", "remove-tenants-v1")
CLOSE_CODE = 1001  # "going away": the server drops the connection (disconnect knob / admin route)
_ids = itertools.count(1)

router = APIRouter()


def _bare(token: str) -> str:
    return token[7:].strip() if token[:7].lower() == "bearer " else token.strip()


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class Connection:
    """One client socket: its integration, tenants (with their tokens), topic cursors and counters."""

    def __init__(self, hub: EventHub, websocket: WebSocket) -> None:
        self.id = next(_ids)
        self.hub = hub
        self.ws = websocket
        self.loop = asyncio.get_running_loop()
        self.client_id: str | None = None
        self.tenants: dict[int, set[str]] = {}
        self.cursors: dict[str, int] = {}
        self.subscribed = False
        self.sent = 0  # event frames sent, duplicates included
        self.duplicates = 0
        self.opened = time.time()
        self.client_left = False
        self._counted = 0  # events sent (duplicates not counted), for duplicate_every
        self._since = 0  # events sent since the knobs last changed, for disconnect_after
        self._generation = hub.knob_generation
        self._wake = asyncio.Event()
        self._killed = asyncio.Event()
        self._send_lock = asyncio.Lock()

    # --- called from any thread --------------------------------------------------------------------
    def _soon(self, callback: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: the socket is gone too
            self.loop.call_soon_threadsafe(callback)

    def wake(self) -> None:
        self._soon(self._wake.set)

    def kill(self) -> None:
        self._soon(self._killed.set)

    async def killed(self) -> None:
        await self._killed.wait()

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "clientId": self.client_id, "tenantIds": sorted(self.tenants),
                "topics": sorted(self.cursors), "subscribed": self.subscribed, "sent": self.sent,
                "duplicates": self.duplicates, "openedAt": self.opened}

    # --- commands ----------------------------------------------------------------------------------
    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.ws.send_text(json.dumps(message))

    async def handle(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            await self.send({"response": None, "result": "error", "message": "a command must be a JSON object"})
            return
        command = message.get("command")
        if command not in COMMANDS:
            await self.send({"response": command, "result": "error",
                             "message": f"unknown command {command!r}; known {list(COMMANDS)}"})
            return
        if command != "add-tenants-v1" and not self.tenants:
            await self.send({"response": command, "result": "error",
                             "message": "no tenants on this connection: send add-tenants-v1 first"})
            return
        handler = {"add-tenants-v1": self.add_tenants, "add-topics-v1": self.add_topics,
                   "subscribe-v1": self.subscribe, "list-tenants-v1": self.list_tenants,
                   "remove-tenants-v1": self.remove_tenants}[command]
        answer = handler(message)
        await self.send({"response": command, **answer})
        if command == "subscribe-v1" and answer["result"] == "ok":
            self.subscribed = True
            self._wake.set()

    def _client(self, secret: Any) -> str | None:
        if not isinstance(secret, str):
            return None
        for client in list(self.hub.sandbox.oauth.clients.values()):
            if hmac.compare_digest(client.client_secret.encode(), secret.encode()):
                return client.client_id
        return None

    def add_tenants(self, message: dict[str, Any]) -> dict[str, Any]:
        tokens = message.get("accessTokens")
        if not _strings(tokens) or not tokens:
            return {"result": "error", "message": "accessTokens must be a non-empty list of strings",
                    "tenantIds": {}, "invalidTokens": tokens if _strings(tokens) else []}
        client_id = self._client(message.get("clientSecret"))
        if client_id is None:
            return {"result": "error", "message": "invalid client secret", "tenantIds": {}, "invalidTokens": tokens}
        if self.client_id is not None and client_id != self.client_id:
            return {"result": "error", "message": "this connection belongs to another integration (client secret)",
                    "tenantIds": {}, "invalidTokens": tokens}
        tenant_ids: dict[str, int] = {}
        invalid: list[str] = []
        for token in tokens:
            access = self.hub.sandbox.oauth.authenticate(_bare(token))
            if access is None or access.client_id != client_id:
                invalid.append(token)
                continue
            tenant_ids[token] = access.tenant_id
            self.tenants.setdefault(access.tenant_id, set()).add(_bare(token))
        if tenant_ids:
            self.client_id = client_id
        return {"result": "ok" if tenant_ids else "error", "tenantIds": tenant_ids, "invalidTokens": invalid}

    def add_topics(self, message: dict[str, Any]) -> dict[str, Any]:
        topics = message.get("topics")
        if not isinstance(topics, list) or not topics or not all(
                isinstance(t, dict) and isinstance(t.get("topic"), str)
                and isinstance(t.get("offset", ""), str) for t in topics):
            return {"result": "error", "message": "topics must be a non-empty list of {topic, offset?} objects",
                    "invalidTopics": []}
        invalid = [t["topic"] for t in topics if t["topic"] not in TOPICS]
        for item in topics:
            if item["topic"] in TOPICS:
                self.cursors[item["topic"]] = self.hub.start_index(item["topic"], item.get("offset"))
        self._wake.set()
        valid = len(invalid) < len(topics)
        return {"result": "ok" if valid else "error", "invalidTopics": invalid}

    def subscribe(self, message: dict[str, Any]) -> dict[str, Any]:
        if not self.cursors:
            return {"result": "error", "message": "no topics on this connection: send add-topics-v1 first"}
        return {"result": "ok"}

    def list_tenants(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"result": "ok", "tenantIds": sorted(self.tenants)}

    def remove_tenants(self, message: dict[str, Any]) -> dict[str, Any]:
        if _strings(message.get("accessTokens")):
            unknown = []
            for token in message["accessTokens"]:
                holder = next((t for t, held in self.tenants.items() if _bare(token) in held), None)
                if holder is None:
                    unknown.append(token)
                    continue
                self.tenants[holder].discard(_bare(token))
                if not self.tenants[holder]:
                    del self.tenants[holder]
            return {"result": "ok", "invalidTokens": unknown}
        tenants = message.get("tenants")
        if isinstance(tenants, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in tenants):
            unknown_ids = [t for t in tenants if t not in self.tenants]
            for tenant in tenants:
                self.tenants.pop(tenant, None)
            return {"result": "ok", "invalidTenants": unknown_ids}
        return {"result": "error", "message": "give accessTokens (list of strings) or tenants (list of ids)"}

    # --- the stream --------------------------------------------------------------------------------
    def wanted(self, event: dict[str, Any]) -> bool:
        held = self.tenants.get(event["tenantId"])
        if not held:
            return False
        if not self.hub.knobs.drop_expired_tokens:
            return True
        oauth = self.hub.sandbox.oauth
        return any(oauth.authenticate(token) is not None for token in list(held))

    def _order(self, entries: list[Entry]) -> list[Entry]:
        if not self.hub.knobs.shuffle_topics:
            return entries
        queues: dict[str, list[Entry]] = {}
        for entry in entries:
            queues.setdefault(entry.event["topic"], []).append(entry)
        out = []
        while queues:
            topic = random.choice(sorted(queues))
            out.append(queues[topic].pop(0))
            if not queues[topic]:
                del queues[topic]
        return out

    async def _send_event(self, event: dict[str, Any]) -> bool:
        """Send one event (twice by the duplicate knob); True when the disconnect knob says stop."""
        knobs = self.hub.knobs
        if self._generation != self.hub.knob_generation:
            self._generation, self._since = self.hub.knob_generation, 0
        await self.send(event)
        self.sent += 1
        self._counted += 1
        self._since += 1
        if knobs.duplicate_every and self._counted % knobs.duplicate_every == 0:
            await self.send(event)
            self.sent += 1
            self.duplicates += 1
        return bool(knobs.disconnect_after) and self._since >= knobs.disconnect_after

    async def pump(self) -> None:
        """Send ready events until the disconnect knob ends the connection."""
        while True:
            self._wake.clear()
            next_ready = None
            if self.subscribed:
                entries, next_ready = self.hub.pending(self.cursors, self.wanted)
                for entry in self._order(entries):
                    if await self._send_event(entry.event):
                        return
                if entries:
                    continue
            timeout = 0.5 if next_ready is None else min(max(next_ready - time.monotonic(), 0.005), 0.5)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                if self.subscribed:
                    self.hub.sync()  # pick up changes made outside the app (tests poking the state)

    async def read(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            await self.handle(text if text is not None else (message.get("bytes") or b"").decode("utf-8", "replace"))
        self.client_left = True


@router.websocket("/topics-v1")
async def topics(websocket: WebSocket) -> None:
    hub: EventHub = websocket.app.state.sandbox.events
    await websocket.accept()
    connection = Connection(hub, websocket)
    hub.register(connection)
    try:
        async with anyio.create_task_group() as group:  # the first of the three to end ends the others

            async def first(part: Any) -> None:
                with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):  # the client is gone
                    await part()
                group.cancel_scope.cancel()

            for part in (connection.read, connection.pump, connection.killed):
                group.start_soon(first, part)
        if not connection.client_left:  # we end it (knob / admin route)
            with contextlib.suppress(Exception):
                await websocket.close(code=CLOSE_CODE)
    finally:
        hub.unregister(connection)


# --- feeding the hub: after writes; the REST lag knob on reads ---------------------------------------
_DOCUMENT = re.compile(r"^/3/(orders|invoices)/([^/]+)$")


class EventsMiddleware:
    """After each HTTP request that may write, the hub looks for changes (and emits their events);
    under the ``rest_lag_ms`` knob a GET of a just-changed order/invoice answers its previous version."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hub: EventHub = scope["app"].state.sandbox.events
        found = _DOCUMENT.match(scope["path"]) if scope["method"] == "GET" else None
        tenant = (scope.get("state") or {}).get("tenant_id")
        old = hub.stale_body(tenant, found[1], found[2]) if found and tenant is not None else None
        try:
            if old is None:
                await self.app(scope, receive, send)
            else:
                await self.app(scope, receive, _stale_sender(send, old))
        finally:
            if scope["method"] != "GET" or scope["path"].endswith("/email"):
                hub.sync()


def _stale_sender(send: Any, old: str) -> Any:
    """Wrap ``send`` so a 200 answer carries ``old`` (the previous stored version) in its envelope."""
    held: dict[str, Any] = {}

    async def sender(message: Any) -> None:
        if message["type"] == "http.response.start":
            held["start"], held["chunks"] = message, []
            return
        if message["type"] != "http.response.body" or "start" not in held:
            await send(message)
            return
        held["chunks"].append(message.get("body", b""))
        if message.get("more_body"):
            return
        start, body = held.pop("start"), b"".join(held["chunks"])
        if start["status"] == 200:
            answer = json.loads(body)
            envelope = next(iter(answer))
            links = {k: v for k, v in answer[envelope].items() if k.startswith("@")}
            body = dumps({envelope: {**links, **json.loads(old)}})
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            start = {**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return sender


# --- control routes --------------------------------------------------------------------------------
def _hub(request: Request) -> EventHub:
    return request.app.state.sandbox.events  # type: ignore[no-any-return]


@router.get("/_sandbox/events/knobs")
async def get_knobs(request: Request) -> dict[str, Any]:
    return _hub(request).knobs.as_dict()


@router.post("/_sandbox/events/knobs")
async def set_knobs(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise HTTPException(422, "body must be JSON") from exc
    if not isinstance(body, dict):
        raise HTTPException(422, "body must be a JSON object of knobs")
    try:
        return _hub(request).set_knobs(**body).as_dict()
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.post("/_sandbox/events/disconnect")
async def disconnect(request: Request) -> dict[str, int]:
    return {"closed": _hub(request).disconnect_all()}


@router.get("/_sandbox/events/log")
async def event_log(request: Request, topic: str | None = None, tenant: int | None = None) -> dict[str, Any]:
    if topic is not None and topic not in TOPICS:
        raise HTTPException(422, f"unknown topic {topic!r}; known {list(TOPICS)}")
    events = _hub(request).log(topic, tenant)
    return {"count": len(events), "events": events}


@router.get("/_sandbox/events/connections")
async def connections(request: Request) -> dict[str, Any]:
    open_now = _hub(request).connections()
    return {"count": len(open_now), "connections": open_now}
