"""What happens to every API request before a handler sees it, at the raw ASGI level.

Order: trailing-slash tolerance → bearer token (401 ``{"message":"unauthorized"}``) → fault
decision → request budget (429) → scope check → latency → handler. Working at the ASGI level lets
the sandbox really drop a connection without an HTTP answer (faults ``reset`` and
``drop_after_commit``), which a FastAPI middleware cannot do.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from sandbox.faults import Fault

from . import errors
from .web import dumps

if TYPE_CHECKING:
    from .emulator import FortnoxSandbox

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_BY_SEGMENT = {
    "customers": "customer", "articles": "article", "orders": "order", "invoices": "invoice",
    "invoicepayments": "payment", "pricelists": "price", "prices": "price", "currencies": "currency",
    "companyinformation": "companyinformation", "settings": "settings", "termsofpayments": "settings",
    "wayofdeliveries": "settings", "units": "settings", "accounts": "bookkeeping", "projects": "project",
    "warehouse": "warehouse",
}


def is_api(path: str) -> bool:
    return path.startswith("/3/") or path.startswith("/api/")


def needed_scope(path: str) -> str | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2:
        return SCOPE_BY_SEGMENT.get(parts[1])
    return None


async def send_json(send: Send, status: int, body: Any, content_type: str = "application/json") -> None:
    payload = dumps(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(payload)).encode()),
                            (b"server", b"Fortnox")]})
    await send({"type": "http.response.body", "body": payload})


async def abort_connection(send: Send) -> None:
    """Close the TCP connection without any HTTP answer (the client sees a connection error)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("sandbox fault: cannot reach the transport to drop the connection")
    transport.abort()
    for _ in range(3):  # let uvicorn notice the lost connection so it sends nothing more
        await asyncio.sleep(0)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text = value.decode("latin-1")
            if text.lower().startswith("bearer "):
                return text[7:].strip()
    return None


async def _oauth(sandbox: FortnoxSandbox, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """The token endpoints with their own (opt-in) fault knobs; never rate limited here."""
    fault = sandbox.oauth_faults.decide(scope["method"])
    latency = float(sandbox.oauth_faults.plan.latency)
    if latency > 0:
        await asyncio.sleep(latency)
    if fault is Fault.RATE_LIMIT:
        await send_json(send, 429, errors.RATE_LIMITED_BODY)
    elif fault is Fault.SERVER_ERROR:
        await send_json(send, 500, {"error": "server_error", "error_description": "Internal server error"})
    elif fault is Fault.RESET:
        await abort_connection(send)
    elif fault is Fault.DROP_AFTER_COMMIT:
        async def swallow(message: Message) -> None:
            return None

        await app(scope, receive, swallow)  # e.g. the refresh token rotates, the client never hears
        await abort_connection(send)
    else:
        await app(scope, receive, send)


async def handle(sandbox: FortnoxSandbox, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    path = scope["path"]
    if len(path) > 1 and path.endswith("/"):  # Fortnox accepts /3/orders/ (recorded)
        path = path.rstrip("/")
        scope = dict(scope, path=path, raw_path=path.encode())
    if path.startswith("/oauth-v1/"):
        await _oauth(sandbox, app, scope, receive, send)
        return
    if not is_api(path):
        await app(scope, receive, send)
        return
    entry: dict[str, Any] = {"t": time.time(), "method": scope["method"], "path": path,
                             "query": scope.get("query_string", b"").decode("latin-1")}
    sandbox.log(entry)
    token = _bearer(scope)
    access = sandbox.oauth.authenticate(token) if token else None
    if access is None:
        entry["status"] = 401
        await send_json(send, 401, errors.UNAUTHORIZED_BODY)
        return
    entry.update(tenant=access.tenant_id, client=access.client_id)
    fault = sandbox.faults.decide(scope["method"])
    entry["fault"] = fault.value if fault else None
    if fault is Fault.EXPIRE_TOKEN:
        sandbox.oauth.expire(access.token)
        entry["status"] = 401
        await send_json(send, 401, errors.UNAUTHORIZED_BODY)
        return
    if fault is Fault.RATE_LIMIT:
        entry["status"] = 429
        await send_json(send, 429, errors.RATE_LIMITED_BODY)
        return
    if not sandbox.limiter.try_acquire((access.tenant_id, access.client_id)):
        entry["status"] = 429
        await send_json(send, 429, errors.RATE_LIMITED_BODY)
        return
    needed = needed_scope(path)
    if needed is not None and needed not in access.scopes:
        entry["status"] = 400
        error = errors.bad_request(errors.NO_SCOPE)
        await send_json(send, 400, error.body())
        return
    latency = float(sandbox.faults.plan.latency)
    if latency > 0:
        await asyncio.sleep(latency)
    if fault is Fault.SERVER_ERROR:
        entry["status"] = 500
        await send_json(send, 500, errors.SERVER_ERROR_BODY)
        return
    if fault is Fault.RESET:
        entry["status"] = None
        await abort_connection(send)
        return
    state = dict(scope.get("state") or {})
    state["tenant_id"] = access.tenant_id
    scope = dict(scope, state=state)
    if fault is Fault.DROP_AFTER_COMMIT:
        async def swallow(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status_committed"] = message["status"]

        await app(scope, receive, swallow)
        entry["status"] = None
        await abort_connection(send)
        return

    async def record(message: Message) -> None:
        if message["type"] == "http.response.start":
            entry["status"] = message["status"]
        await send(message)

    await app(scope, receive, record)
