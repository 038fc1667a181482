"""OAuth 2 the way Fortnox runs it (``/oauth-v1/auth``, ``/oauth-v1/token``, ``/oauth-v1/revoke``).

- Clients authenticate to the token endpoint with HTTP Basic ``client_id:client_secret``; a bad
  client gets 401 ``invalid_client`` (recorded: authentication/invalid_authorization.yml, which
  Fortnox serves as ``text/plain;charset=UTF-8``).
- ``/oauth-v1/auth`` shows a consent page naming the company and the requested scopes; approving
  it redirects with a code for exactly those scopes, denying with ``error=access_denied``. A consent
  request is single-use and lives as long as a code.
- ``authorization_code`` codes live 10 minutes and are single-use.
- ``refresh_token`` grants rotate: every refresh returns a new refresh token and the old one is dead
  at once; reusing it gives 400 ``invalid_grant`` / "Invalid refresh token" (recorded). Refresh
  tokens live 45 days. Access tokens live 1 h (configurable) and cannot be revoked.
- ``client_credentials`` needs a ``TenantId`` header and a service-account consent for that tenant;
  it returns no refresh token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from .state import Clock

ALL_SCOPES = (
    "article", "customer", "order", "invoice", "payment", "price", "currency", "companyinformation",
    "settings", "bookkeeping", "project", "warehouse", "profile",
)
AUTH_CODE_TTL = 600.0
REFRESH_TTL = 45 * 24 * 3600.0


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uri: str | None = None
    scopes: tuple[str, ...] = ALL_SCOPES
    # tenants that granted consent (auth-code flow) / a service account (client credentials)
    tenants: set[int] = field(default_factory=set)
    service_tenants: set[int] = field(default_factory=set)


@dataclass
class AccessToken:
    token: str
    client_id: str
    tenant_id: int
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class Grant:
    """An authorization code or a refresh token; both are single-use."""

    token: str
    client_id: str
    tenant_id: int
    scopes: tuple[str, ...]
    expires_at: float
    redirect_uri: str | None = None
    used: bool = False


@dataclass
class ConsentRequest:
    """A consent page shown and not yet answered (single-use, lives as long as a code)."""

    request_id: str
    client_id: str
    tenant_id: int
    scopes: tuple[str, ...]
    redirect_uri: str | None  # as given in the request (the code is bound to it)
    redirect_to: str  # given, else the client's registered one
    state: str
    service_account: bool
    expires_at: float


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


INVALID_CLIENT = (401, "invalid_client", "The client credentials are invalid")
INVALID_REFRESH = (400, "invalid_grant", "Invalid refresh token")
INVALID_CODE = (400, "invalid_grant", "Authorization code doesn't exist or is invalid for the client")


class OAuthServer:
    """Clients, grants and access tokens of every company in the sandbox."""

    def __init__(self, clock: Clock, access_ttl: float = 3600.0) -> None:
        self.clock = clock
        self.access_ttl = access_ttl
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.consents: dict[str, ConsentRequest] = {}
        self.rotations = 0
        self._signing_key = secrets.token_bytes(32)
        self._lock = threading.RLock()

    # --- administration (tests, demo) --------------------------------------------------------------
    def add_client(self, client_id: str | None = None, client_secret: str | None = None,
                   redirect_uri: str | None = None, scopes: tuple[str, ...] = ALL_SCOPES) -> Client:
        with self._lock:
            client = Client(client_id or f"client-{secrets.token_hex(6)}",
                            client_secret or secrets.token_urlsafe(18), redirect_uri, tuple(scopes))
            self.clients[client.client_id] = client
            return client

    def consent(self, client_id: str, tenant_id: int, *, service_account: bool = True) -> None:
        with self._lock:
            client = self.clients[client_id]
            client.tenants.add(tenant_id)
            if service_account:
                client.service_tenants.add(tenant_id)

    def mint_code(self, client_id: str, tenant_id: int, redirect_uri: str | None = None,
                  scopes: tuple[str, ...] | None = None) -> str:
        """A code as if the user had consented (to ``scopes``, default: all the client's)."""
        with self._lock:
            self.consent(self.clients[client_id].client_id, tenant_id, service_account=False)
            code = secrets.token_urlsafe(24)
            granted = self.clients[client_id].scopes if scopes is None else tuple(scopes)
            self.codes[code] = Grant(code, client_id, tenant_id, granted, self.clock.time() + AUTH_CODE_TTL,
                                     redirect_uri)
            return code

    # --- consent page ------------------------------------------------------------------------------
    def ask_consent(self, client_id: str, tenant_id: int, scopes: tuple[str, ...], *, redirect_uri: str | None,
                    redirect_to: str, state: str, service_account: bool) -> ConsentRequest:
        with self._lock:
            request = ConsentRequest(secrets.token_urlsafe(18), client_id, tenant_id, tuple(scopes), redirect_uri,
                                     redirect_to, state, service_account, self.clock.time() + AUTH_CODE_TTL)
            self.consents[request.request_id] = request
            return request

    def answer_consent(self, request_id: str, *, approve: bool,
                       tenant_id: int | None = None) -> tuple[ConsentRequest, dict[str, str]]:
        """The user's answer (for ``tenant_id``, the company they picked, else the one asked for): the
        redirect target and its query (``code`` or ``error``, and ``state``)."""
        with self._lock:
            request = self.consents.pop(request_id, None)
            if request is None or request.expires_at <= self.clock.time():
                raise OAuthError(400, "invalid_request", "The consent request is unknown, answered or expired")
            if tenant_id is not None:
                request.tenant_id = tenant_id
            if not approve:
                return request, {"error": "access_denied", "error_description": "The user denied the request",
                                 "state": request.state}
            if request.service_account:
                self.consent(request.client_id, request.tenant_id, service_account=True)
            code = self.mint_code(request.client_id, request.tenant_id, request.redirect_uri, request.scopes)
            return request, {"code": code, "state": request.state}

    def mint_refresh_token(self, client_id: str, tenant_id: int) -> str:
        with self._lock:
            self.consent(client_id, tenant_id, service_account=False)
            return self._new_refresh(client_id, tenant_id, self.clients[client_id].scopes)

    def mint_access_token(self, client_id: str, tenant_id: int, ttl: float | None = None) -> str:
        with self._lock:
            return self._new_access(client_id, tenant_id, self.clients[client_id].scopes, ttl).token

    def expire(self, token: str) -> None:
        """Make an access token expired now (fault knob and tests)."""
        with self._lock:
            found = self.access_tokens.get(token)
            if found:
                found.expires_at = min(found.expires_at, self.clock.time() - 1)

    def expire_all(self, tenant_id: int | None = None) -> int:
        with self._lock:
            hit = [t for t in self.access_tokens.values() if tenant_id in (None, t.tenant_id)]
            for token in hit:
                token.expires_at = min(token.expires_at, self.clock.time() - 1)
            return len(hit)

    def issued(self) -> list[tuple[str, str]]:
        """Every secret this server ever handed out, as (kind, value): client secrets, authorization
        codes, refresh tokens (used ones too) and access tokens (expired ones too), for tests that
        search a system for leaked secrets."""
        with self._lock:
            return ([("client_secret", c.client_secret) for c in self.clients.values()]
                    + [("authorization_code", code) for code in self.codes]
                    + [("refresh_token", token) for token in self.refresh_tokens]
                    + [("access_token", token) for token in self.access_tokens])

    # --- resource server side ----------------------------------------------------------------------
    def authenticate(self, token: str) -> AccessToken | None:
        """The live access token, or None if unknown or expired (→ 401 unauthorized)."""
        with self._lock:
            found = self.access_tokens.get(token)
            if found is None or found.expires_at <= self.clock.time():
                return None
            return found

    # --- token endpoint ----------------------------------------------------------------------------
    def client_from_basic(self, authorization: str | None) -> Client:
        if not authorization or not authorization.lower().startswith("basic "):
            raise OAuthError(*INVALID_CLIENT)
        try:
            raw = base64.b64decode(authorization.split(" ", 1)[1].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError(*INVALID_CLIENT) from exc
        client_id, _, secret = raw.partition(":")
        client = self.clients.get(client_id)
        if client is None or not hmac.compare_digest(client.client_secret, secret):
            raise OAuthError(*INVALID_CLIENT)
        return client

    def token(self, authorization: str | None, form: dict[str, str], tenant_header: str | None) -> dict[str, Any]:
        """Handle one token request; raises :class:`OAuthError` with the Fortnox error body."""
        with self._lock:
            client = self.client_from_basic(authorization)
            grant_type = form.get("grant_type", "")
            if grant_type == "refresh_token":
                grant = self.refresh_tokens.get(form.get("refresh_token", ""))
                if (grant is None or grant.used or grant.client_id != client.client_id
                        or grant.expires_at <= self.clock.time()):
                    raise OAuthError(*INVALID_REFRESH)
                grant.used = True  # single use: the old token dies as the new one is issued
                self.rotations += 1
                return self._issue(client, grant.tenant_id, grant.scopes, with_refresh=True)
            if grant_type == "authorization_code":
                grant = self.codes.get(form.get("code", ""))
                if (grant is None or grant.used or grant.client_id != client.client_id
                        or grant.expires_at <= self.clock.time()):
                    raise OAuthError(*INVALID_CODE)
                if grant.redirect_uri and form.get("redirect_uri") != grant.redirect_uri:
                    raise OAuthError(400, "invalid_grant", "Redirect URI mismatch")
                grant.used = True
                return self._issue(client, grant.tenant_id, grant.scopes, with_refresh=True)
            if grant_type == "client_credentials":
                if not tenant_header or not tenant_header.strip().isdigit():
                    raise OAuthError(400, "invalid_request", "Missing or invalid TenantId header")
                tenant_id = int(tenant_header)
                if tenant_id not in client.service_tenants:
                    raise OAuthError(400, "invalid_grant", "No service account consent for the tenant")
                return self._issue(client, tenant_id, client.scopes, with_refresh=False)
            raise OAuthError(400, "unsupported_grant_type", "Unsupported grant type")

    def revoke(self, authorization: str | None, form: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            client = self.client_from_basic(authorization)
            grant = self.refresh_tokens.get(form.get("token", ""))
            if grant is not None and grant.client_id == client.client_id:
                grant.used = True
            return {"revoked": True}

    # --- internals ---------------------------------------------------------------------------------
    def _issue(self, client: Client, tenant_id: int, scopes: tuple[str, ...], *, with_refresh: bool) -> dict[str, Any]:
        access = self._new_access(client.client_id, tenant_id, scopes, None)
        body: dict[str, Any] = {
            "access_token": access.token,
            "expires_in": int(self.access_ttl),
            "token_type": "bearer",
            "scope": " ".join(scopes),
        }
        if with_refresh:
            body["refresh_token"] = self._new_refresh(client.client_id, tenant_id, scopes)
        return body

    def _new_refresh(self, client_id: str, tenant_id: int, scopes: tuple[str, ...]) -> str:
        token = secrets.token_hex(20)
        self.refresh_tokens[token] = Grant(token, client_id, tenant_id, scopes, self.clock.time() + REFRESH_TTL)
        return token

    def _new_access(self, client_id: str, tenant_id: int, scopes: tuple[str, ...], ttl: float | None) -> AccessToken:
        """A JWT-shaped token carrying ``tenantId`` like Fortnox's (signed with a sandbox key)."""
        now = self.clock.time()
        expires = now + (self.access_ttl if ttl is None else ttl)
        payload = {"tenantId": tenant_id, "clientId": client_id, "iat": int(now), "exp": int(expires),
                   "jti": secrets.token_hex(8), "scope": " ".join(scopes)}
        parts = [_b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()), _b64(json.dumps(payload).encode())]
        signature = hmac.new(self._signing_key, ".".join(parts).encode(), hashlib.sha256).digest()
        token = ".".join([*parts, _b64(signature)])
        access = AccessToken(token, client_id, tenant_id, tuple(scopes), expires)
        self.access_tokens[token] = access
        return access


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
