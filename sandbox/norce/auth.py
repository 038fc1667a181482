"""OAuth2 client credentials as Norce's IdentityServer serves them, and the checks every API route shares.

* ``POST /identity/1.0/connect/token`` (form body) issues 3600 s bearer tokens; it is rate limited per
  client IP (3 a minute plus a burst of 20, a token bucket on the sandbox clock) → 429.
* :func:`require_bearer`, :func:`require_application_id` and :func:`apply_faults` are FastAPI
  dependencies used by the Query, Connect Order and Connect Product/Job routes alike.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandbox.faults import Fault
from sandbox.server import abort_connection

if TYPE_CHECKING:
    from sandbox.norce.state import NorceSandbox

TOKEN_PATH = "/identity/1.0/connect/token"
TOKEN_LIFETIME = 3600
APPLICATION_HEADERS = ("applicationid", "application-id")


@dataclass
class Client:
    """An OAuth integration user: its secret and the environments (scopes) it is bound to."""

    client_id: str
    secret: str
    scopes: frozenset[str]

    def __repr__(self) -> str:  # never show the secret
        return f"Client({self.client_id!r}, scopes={sorted(self.scopes)})"


@dataclass
class IssuedToken:
    client_id: str
    scopes: tuple[str, ...]
    expires_at: datetime

    def __repr__(self) -> str:
        return f"IssuedToken({self.client_id!r}, expires_at={self.expires_at.isoformat()})"


class TokenBucket:
    """``rate_per_minute`` refills, ``burst`` capacity; one bucket per client IP, on the sandbox clock."""

    def __init__(self, rate_per_minute: float, burst: int) -> None:
        self.rate_per_minute = rate_per_minute
        self.burst = burst
        self._buckets: dict[str, tuple[float, datetime]] = {}

    def take(self, key: str, now: datetime) -> float | None:
        """Take one token; ``None`` when allowed, else the seconds until the next token."""
        level, at = self._buckets.get(key, (float(self.burst), now))
        elapsed = max(0.0, (now - at).total_seconds())
        level = min(float(self.burst), level + elapsed * self.rate_per_minute / 60.0)
        if level >= 1.0:
            self._buckets[key] = (level - 1.0, now)
            return None
        self._buckets[key] = (level, now)
        return (1.0 - level) * 60.0 / self.rate_per_minute if self.rate_per_minute > 0 else 60.0

    def clear(self) -> None:
        self._buckets.clear()


class SandboxFault(Exception):
    """Raised by a dependency to answer at once with ``response`` (or to drop the connection)."""

    def __init__(self, response: Response | None) -> None:
        super().__init__("sandbox fault")
        self.response = response


def _sandbox(request: Request) -> NorceSandbox:
    return request.app.state.norce  # type: ignore[no-any-return]


def _jwt_like(client_id: str, issued: datetime, expires: datetime, scopes: tuple[str, ...]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    head = part({"alg": "RS256", "typ": "at+jwt"})
    body = part({"client_id": client_id, "scope": list(scopes), "iat": int(issued.timestamp()),
                 "exp": int(expires.timestamp()), "jti": secrets.token_hex(8)})
    return f"{head}.{body}.{secrets.token_urlsafe(32)}"


def _token_error(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status, headers={"Cache-Control": "no-store"})


def issue_token(sb: NorceSandbox, form: dict[str, str]) -> JSONResponse:
    """IdentityServer's client-credentials grant: errors are 400 ``{"error": ...}``."""
    grant = form.get("grant_type")
    if not grant:
        return _token_error("invalid_request")
    client = sb.clients.get(form.get("client_id", ""))
    if client is None or not secrets.compare_digest(client.secret, form.get("client_secret", "")):
        return _token_error("invalid_client")
    if grant != "client_credentials":
        return _token_error("unsupported_grant_type")
    asked = tuple(form.get("scope", "").split()) or tuple(sorted(client.scopes))
    if not set(asked) <= client.scopes:
        return _token_error("invalid_scope")
    now = sb.clock()
    expires = now + timedelta(seconds=TOKEN_LIFETIME)
    token = _jwt_like(client.client_id, now, expires, asked)
    with sb.lock:
        sb.tokens[token] = IssuedToken(client.client_id, asked, expires)
        sb.tokens_issued += 1
    return JSONResponse({"access_token": token, "expires_in": TOKEN_LIFETIME, "token_type": "Bearer",
                         "scope": " ".join(asked)}, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def register(app: FastAPI, sb: NorceSandbox) -> None:
    """The token endpoint; rate limited before anything else is looked at."""

    @app.post(TOKEN_PATH)
    async def token(request: Request) -> Response:
        await apply_faults(request)
        ip = request.client.host if request.client else "unknown"
        with sb.lock:
            sb.token_requests += 1
            wait = sb.token_bucket.take(ip, sb.clock())
        if wait is not None:
            sb.token_throttled += 1
            headers = {"Retry-After": str(int(wait) + 1)} if sb.knobs.token_retry_after_header else {}
            return Response("Too Many Requests", status_code=429, media_type="text/plain", headers=headers)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return _token_error("invalid_request")
        raw = (await request.body()).decode("utf-8", "replace")
        return issue_token(sb, dict(parse_qsl(raw, keep_blank_values=True)))


def require_bearer(request: Request) -> None:
    """401 unless ``Authorization: Bearer`` carries an unexpired token from the token endpoint."""
    sb = _sandbox(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    with sb.lock:
        issued = sb.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
    expired_by_fault = getattr(request.state, "fault", None) is Fault.EXPIRE_TOKEN
    if issued is None or issued.expires_at <= sb.clock() or expired_by_fault:
        detail = 'Bearer error="invalid_token"' if value else "Bearer"
        if issued is not None:
            detail += ', error_description="The token expired"'
        raise SandboxFault(Response(status_code=401, headers={"WWW-Authenticate": detail}))


def require_application_id(request: Request) -> int:
    """The application-id header (any of its spellings) as an int; 400 when missing or not an int."""
    raw = next((v for k, v in request.headers.items() if k.lower() in APPLICATION_HEADERS), None)
    if raw is None or not raw.strip().lstrip("-").isdigit():
        message = ("The 'applicationId' header is required." if raw is None
                   else f"The 'applicationId' header value '{raw}' is not a valid integer.")
        raise SandboxFault(JSONResponse({"error": {"code": "", "message": message}}, status_code=400))
    return int(raw)


def connect_application_id(request: Request) -> int | None:
    """Connect does not require the header (UNCONFIRMED); when sent it must still be an int."""
    if any(k.lower() in APPLICATION_HEADERS for k in request.headers):
        return require_application_id(request)
    return None


async def apply_faults(request: Request) -> None:
    """Consult the fault plan once per request: latency, then 429 / 503 / reset before the work.

    ``drop_after_commit`` and ``expire_token`` are remembered on ``request.state.fault``; the route
    calls :func:`finish` after doing the work so the answer is lost.
    """
    sb = _sandbox(request)
    if getattr(request.state, "fault_checked", False):
        return
    request.state.fault_checked = True
    fault = sb.faults.decide(request.method)
    request.state.fault = fault
    if sb.faults.plan.latency:
        await asyncio.sleep(sb.faults.plan.latency)
    if fault is Fault.RESET:
        await abort_connection(request)
        raise SandboxFault(None)
    if fault is Fault.SERVER_ERROR:
        raise SandboxFault(Response("Service Unavailable", status_code=503, media_type="text/plain"))
    if fault is Fault.RATE_LIMIT:
        raise SandboxFault(Response("Too Many Requests", status_code=429, media_type="text/plain",
                                    headers={"Retry-After": "1"}))


async def finish(request: Request, response: Response) -> Response:
    """Return ``response``, unless the plan said to drop the answer after the work was committed."""
    if getattr(request.state, "fault", None) is Fault.DROP_AFTER_COMMIT:
        await abort_connection(request)
    return response


def install_fault_handler(app: FastAPI) -> None:
    """Turn :class:`SandboxFault` into its response (204 placeholder when the connection is gone)."""

    @app.exception_handler(SandboxFault)
    async def on_fault(request: Request, exc: SandboxFault) -> Response:
        return exc.response if exc.response is not None else Response(status_code=204)
