"""Fortnox's WebSocket ("Topics" API) protocol: commands, responses, events. Pure, no I/O.

The five control commands (``add-tenants-v1``, ``add-topics-v1``, ``subscribe-v1``,
``list-tenants-v1``, ``remove-tenants-v1``) are built here as plain dicts; messages from the server
are parsed into :class:`CommandResponse` or :class:`Event`. A message is an event when it carries a
``tenantId`` and no ``response`` (as the public clients tell them apart). Offsets are opaque strings:
they are stored and sent back, never compared or parsed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Default endpoint (reference §1.2).
DEFAULT_EVENTS_URL = "wss://ws.fortnox.se/topics-v1"

Purpose = Literal["status", "catalog"]

#: Which topics drive which DAG.
PURPOSE_TOPICS: dict[str, tuple[str, ...]] = {
    "status": ("orders", "invoices"),
    "catalog": ("articles", "warehouse-stockbalances"),
}
TOPIC_PURPOSE: dict[str, str] = {topic: purpose for purpose, topics in PURPOSE_TOPICS.items() for topic in topics}

ADD_TENANTS = "add-tenants-v1"
REMOVE_TENANTS = "remove-tenants-v1"
LIST_TENANTS = "list-tenants-v1"
ADD_TOPICS = "add-topics-v1"
SUBSCRIBE = "subscribe-v1"
COMMANDS = (ADD_TENANTS, REMOVE_TENANTS, LIST_TENANTS, ADD_TOPICS, SUBSCRIBE)


class ProtocolError(ValueError):
    """A message from the server that is not a command response nor an event."""


def bearer(access_token: str) -> str:
    """The form Fortnox wants in ``accessTokens``: ``"Bearer <jwt>"``."""
    return access_token if access_token.startswith("Bearer ") else f"Bearer {access_token}"


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSE_TOPICS:
        raise ValueError(f"purpose must be one of {sorted(PURPOSE_TOPICS)}, got {purpose!r}")
    return purpose


# ---------------------------------------------------------------------------------------------- commands
def add_tenants(client_secret: str, access_tokens: Iterable[str], *,
                include_child_tenants: bool = False) -> dict[str, Any]:
    tokens = [bearer(t) for t in access_tokens]
    if not tokens:
        raise ValueError("add-tenants-v1 needs at least one access token")
    return {"command": ADD_TENANTS, "includeChildTenants": include_child_tenants,
            "clientSecret": client_secret, "accessTokens": tokens}


def remove_tenants(access_tokens: Iterable[str]) -> dict[str, Any]:
    """``remove-tenants-v1`` by the bearer that added the tenant (the payload shape is unconfirmed:
    one public client sends ``accessTokens``, another ``tenants``; jetfort sends the former)."""
    tokens = [bearer(t) for t in access_tokens]
    if not tokens:
        raise ValueError("remove-tenants-v1 needs at least one access token")
    return {"command": REMOVE_TENANTS, "accessTokens": tokens}


def list_tenants() -> dict[str, Any]:
    return {"command": LIST_TENANTS}


def add_topics(topics: Mapping[str, str | None]) -> dict[str, Any]:
    """``add-topics-v1``; a topic with an offset replays from there (the events after it)."""
    if not topics:
        raise ValueError("add-topics-v1 needs at least one topic")
    items: list[dict[str, str]] = []
    for topic, offset in topics.items():
        item = {"topic": topic}
        if offset is not None:
            item["offset"] = offset
        items.append(item)
    return {"command": ADD_TOPICS, "topics": items}


def subscribe() -> dict[str, Any]:
    return {"command": SUBSCRIBE}


def encode(command: Mapping[str, Any]) -> str:
    return json.dumps(command, separators=(",", ":"))


def describe(command: Mapping[str, Any]) -> str:
    """A command for log lines: its name and the shape of its payload, never a secret or token."""
    name = str(command.get("command"))
    if name in (ADD_TENANTS, REMOVE_TENANTS):
        return f"{name} ({len(command.get('accessTokens') or [])} token(s))"
    if name == ADD_TOPICS:
        return f"{name} ({', '.join(t['topic'] for t in command.get('topics') or [])})"
    return name


# ---------------------------------------------------------------------------------------------- messages
class Event(BaseModel):
    """One event; unknown extra fields (vouchers' ``year``/``series``...) are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    topic: str
    offset: str
    type: str
    tenantId: int
    entityId: str | None = None
    timestamp: str

    def as_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class CommandResponse(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    response: str
    result: str
    tenantIds: dict[str, int] | list[int] | None = None
    invalidTokens: list[str] = Field(default_factory=list)
    invalidTopics: list[Any] = Field(default_factory=list)
    message: str | None = None
    error: Any = None

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    def reason(self) -> str:
        """Why the server said error, for a log line (server text only, no token)."""
        for key in ("message", "error"):
            value = getattr(self, key)
            if value:
                return str(value)
        return self.result

    def tenant_of(self, access_token: str) -> int | None:
        ids = self.tenantIds
        if isinstance(ids, dict):
            return ids.get(bearer(access_token))
        return None

    def invalid(self, access_token: str) -> bool:
        return bearer(access_token) in self.invalidTokens or access_token in self.invalidTokens


def _coerce_event(data: dict[str, Any]) -> dict[str, Any]:
    # Fortnox sends offset as a string and entityId as a string; keep them strings even if a server
    # (or an emulator) sends numbers, so nobody is tempted to compare them.
    fixed = dict(data)
    for key in ("offset", "entityId"):
        if key in fixed and fixed[key] is not None and not isinstance(fixed[key], str):
            fixed[key] = str(fixed[key])
    return fixed


def parse(message: str | bytes) -> Event | CommandResponse:
    """One server message; :class:`ProtocolError` names what is wrong with it."""
    try:
        data = json.loads(message)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"server message is not JSON ({exc.msg})") from None
    except ValueError:
        raise ProtocolError("server message is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"server message is a JSON {type(data).__name__}, not an object")
    try:
        if "response" in data:
            return CommandResponse.model_validate(data)
        if "tenantId" in data:
            return Event.model_validate(_coerce_event(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        kind = "response" if "response" in data else "event"
        raise ProtocolError(f"server {kind} field {field!r}: {first.get('msg')}") from None
    raise ProtocolError(f"server message has neither 'response' nor 'tenantId' (keys: {sorted(data)})")
