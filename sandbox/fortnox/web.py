"""HTTP helpers shared by the resource modules: Fortnox-style JSON, body parsing, request context."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import Response

from . import errors
from .errors import bad_request

if TYPE_CHECKING:
    from .emulator import FortnoxSandbox
    from .state import Company


def _plain(value: Any) -> Any:
    """Whole floats print as integers (``95`` not ``95.0``), as Fortnox's JSON does."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dumps(body: Any) -> bytes:
    """JSON like Fortnox writes it: ASCII with ``\\uXXXX`` escapes and ``\\/`` for slashes."""
    return json.dumps(_plain(body), ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def reply(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def sandbox_of(request: Request) -> FortnoxSandbox:
    return request.app.state.sandbox


def company_of(request: Request) -> Company:
    """The company selected by the access token (set by the gateway)."""
    return sandbox_of(request).company(request.scope["state"]["tenant_id"])


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def params_of(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    multi: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        multi.setdefault(key, []).append(value)
    return {k: v[-1] for k, v in multi.items()}, multi


async def read_json(request: Request, *, required: bool = True) -> Any:
    """Parse a JSON body; Fortnox wants ``Content-Type: application/json`` on writes (1000031)."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type.lower():
        raise bad_request(errors.INVALID_CONTENT_TYPE)
    if not raw.strip():
        if required:
            raise bad_request(errors.EMPTY_BODY)
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(errors.JSON_SYNTAX) from exc


def with_url(entity: dict[str, Any], url: str, **extra: str) -> dict[str, Any]:
    """``@url`` first, like Fortnox renders it."""
    return {"@url": url, **extra, **entity}
