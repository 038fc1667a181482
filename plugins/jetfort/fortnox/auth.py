"""Fortnox OAuth: access tokens from a rotating refresh token or from client credentials.

Refresh tokens are single-use: the first refresh kills the old token. So the rotated token is
stored (encrypted, in the ledger) *under an exclusive lock* before it is used, and every worker
re-reads the store after taking the lock - if another worker already refreshed, its token is used
instead of spending a dead one. Access tokens (1 h) are cached per process and refreshed a few
minutes before expiry, or at once when the API answers 401.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
import tenacity

from jetfort.fortnox.errors import (
    FortnoxAuthError,
    FortnoxConnectionError,
    FortnoxServerError,
    FortnoxTokenError,
    FortnoxTransientError,
)
from jetfort.ledger.tokens import StoredToken

log = logging.getLogger(__name__)

DEFAULT_AUTH_URL = "https://apps.fortnox.se/oauth-v1/token"
DEFAULT_REFRESH_MARGIN = 300.0


def mask(value: str | None) -> None:
    """Register a secret with Airflow's masker so it never shows up in task logs."""
    if not value:
        return
    try:
        from airflow.sdk.log import mask_secret
    except Exception:  # Airflow not importable: nothing to mask for
        return
    try:
        mask_secret(value)
    except Exception:  # masking must never break a request
        log.debug("could not register a secret with the masker")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TokenSlotLike(Protocol):
    current: StoredToken | None

    def save(self, *, access_token: str, refresh_token: str | None, expires_at: dt.datetime,
             scope: str | None = None) -> StoredToken: ...


class TokenBackend(Protocol):
    """What :class:`jetfort.ledger.tokens.TokenStore` offers (and :class:`MemoryTokenStore`)."""

    def get(self, key: str) -> StoredToken | None: ...

    def locked(self, key: str) -> AbstractContextManager[Any]: ...


class _MemorySlot:
    def __init__(self, store: MemoryTokenStore, key: str) -> None:
        self._store = store
        self._key = key
        self.current = store._tokens.get(key)

    def save(self, *, access_token: str, refresh_token: str | None, expires_at: dt.datetime,
             scope: str | None = None) -> StoredToken:
        version = (self.current.version if self.current else 0) + 1
        self.current = StoredToken(access_token, refresh_token, expires_at, scope, version)
        self._store._tokens[self._key] = self.current
        return self.current


class MemoryTokenStore:
    """Token store for one process (tests, demo, single worker); same interface as the ledger's."""

    def __init__(self) -> None:
        self._tokens: dict[str, StoredToken] = {}
        self._lock = threading.RLock()

    def get(self, key: str) -> StoredToken | None:
        return self._tokens.get(key)

    @contextmanager
    def locked(self, key: str) -> Iterator[_MemorySlot]:
        with self._lock:
            yield _MemorySlot(self, key)

    def seed(self, key: str, *, refresh_token: str) -> StoredToken:
        with self.locked(key) as slot:
            return slot.save(access_token="", refresh_token=refresh_token, expires_at=_utcnow())


def authorize_url(token_url: str) -> str:
    """Fortnox's consent page beside its token endpoint (``…/oauth-v1/token`` → ``…/oauth-v1/auth``)."""
    base, _, last = token_url.rstrip("/").rpartition("/")
    if last != "token" or not base:
        raise FortnoxAuthError(f"cannot tell the consent page from the token URL {token_url!r}: it should end "
                               "in /oauth-v1/token")
    return f"{base}/auth"


def save_answer(slot: TokenSlotLike, body: dict[str, Any], *, refresh_token: str | None) -> StoredToken:
    """Store the token endpoint's answer in the locked ``slot``: its access token, expiring after its
    ``expires_in`` (default 1 h), its scope and ``refresh_token``."""
    access = str(body.get("access_token") or "")
    if not access:
        raise FortnoxServerError("token endpoint answered without an access_token")
    mask(access)
    mask(refresh_token)
    raw_ttl = body.get("expires_in")
    expires_in = float(raw_ttl) if raw_ttl is not None else 3600.0
    return slot.save(access_token=access, refresh_token=refresh_token,
                     expires_at=_utcnow() + dt.timedelta(seconds=expires_in), scope=body.get("scope"))


@dataclass
class OAuthSettings:
    auth_url: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    tenant_id: str | None = None
    timeout: float = 30.0


class TokenEndpoint:
    """Fortnox's token endpoint for one integration: Basic auth, bounded retries of 429/5xx/lost answers."""

    def __init__(self, settings: OAuthSettings, session: requests.Session, *, max_attempts: int = 4) -> None:
        self.settings = settings
        self.max_attempts = max_attempts
        self._session = session

    def call(self, form: dict[str, str], headers: dict[str, str] | None = None) -> dict[str, Any]:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=tenacity.wait_exponential_jitter(initial=0.5, max=10),
            retry=tenacity.retry_if_exception_type(FortnoxTransientError),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._post(form, headers)
        raise AssertionError("unreachable")  # pragma: no cover

    def exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any]:
        """The authorization-code grant, sent once: a code is single-use, so a lost answer is not retried."""
        body = self._post({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}, None)
        mask(str(body.get("access_token") or ""))
        mask(str(body.get("refresh_token") or ""))
        return body

    def _post(self, form: dict[str, str], headers: dict[str, str] | None) -> dict[str, Any]:
        try:
            resp = self._session.post(
                self.settings.auth_url, data=form,
                headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded",
                         **(headers or {})},
                auth=(self.settings.client_id, self.settings.client_secret), timeout=self.settings.timeout)
        except requests.RequestException as exc:
            raise FortnoxConnectionError(f"token endpoint unreachable ({type(exc).__name__})") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise FortnoxServerError(f"token endpoint answered {resp.status_code}", status=resp.status_code)
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if resp.status_code != 200:
            error = str(body.get("error") or "")
            description = str(body.get("error_description") or body.get("message") or resp.reason)
            raise FortnoxTokenError(f"Fortnox refused the token request: {error or resp.status_code} "
                                    f"({description})", oauth_error=error or None, status=resp.status_code)
        return body


class FortnoxAuth:
    """Hands out a live access token; refreshes under the store's lock when needed."""

    def __init__(self, settings: OAuthSettings, store: TokenBackend, key: str, *,
                 session: requests.Session | None = None,
                 refresh_margin: float = DEFAULT_REFRESH_MARGIN, max_attempts: int = 4) -> None:
        if not settings.refresh_token and not settings.tenant_id and not store.get(key):
            raise FortnoxAuthError(
                "Fortnox connection has neither a refresh token (authorization-code flow) nor a "
                "tenant id (client credentials), and the ledger holds no token for it")
        self.settings = settings
        self.store = store
        self.key = key
        self.refresh_margin = refresh_margin
        self.max_attempts = max_attempts
        self._endpoint = TokenEndpoint(settings, session or requests.Session(), max_attempts=max_attempts)
        self._cached: StoredToken | None = None
        self._rejected: str | None = None
        self._lock = threading.Lock()
        self.refreshes = 0  # token-endpoint calls made by this instance (tests, bench)
        mask(settings.client_secret)
        mask(settings.refresh_token)

    @property
    def client_credentials(self) -> bool:
        return bool(self.settings.tenant_id) and not self.settings.refresh_token

    def _usable(self, token: StoredToken | None) -> bool:
        return (token is not None and bool(token.access_token) and token.access_token != self._rejected
                and token.valid_for(self.refresh_margin))

    def access_token(self) -> str:
        """A live access token: cached, else from the store, else refreshed under the lock."""
        with self._lock:
            if self._usable(self._cached):
                assert self._cached is not None and self._cached.access_token
                return self._cached.access_token
            stored = self.store.get(self.key)
            if not self._usable(stored):
                with self.store.locked(self.key) as slot:
                    stored = slot.current  # another worker may have refreshed while we waited
                    if not self._usable(stored):
                        stored = self._refresh(slot)
            assert stored is not None and stored.access_token
            mask(stored.access_token)
            mask(stored.refresh_token)
            self._cached = stored
            self._rejected = None
            return stored.access_token

    def still_fresh(self, token: str) -> bool:
        """Cheap, in-memory: is ``token`` still the cached one with a quarter of the margin left?"""
        cached = self._cached
        return (cached is not None and cached.access_token == token
                and cached.valid_for(self.refresh_margin / 4))

    def invalidate(self, rejected: str) -> None:
        """The API refused ``rejected`` (401): refresh on the next call unless someone already did."""
        with self._lock:
            self._rejected = rejected
            if self._cached is not None and self._cached.access_token == rejected:
                self._cached = None

    # ------------------------------------------------------------------ token endpoint
    def _refresh(self, slot: TokenSlotLike) -> StoredToken:
        if self.client_credentials:
            body = self._call({"grant_type": "client_credentials"},
                              headers={"TenantId": str(self.settings.tenant_id)})
            return self._save(slot, body, refresh_token=None)
        current = slot.current.refresh_token if slot.current and slot.current.refresh_token else None
        seed = self.settings.refresh_token
        candidates = [t for t in (current, seed) if t]
        candidates = list(dict.fromkeys(candidates))  # ledger's token first, then the connection seed
        if not candidates:
            raise FortnoxTokenError("no refresh token stored for this Fortnox connection; re-authorize",
                                    oauth_error="invalid_grant")
        last: FortnoxTokenError | None = None
        for refresh_token in candidates:
            try:
                body = self._call({"grant_type": "refresh_token", "refresh_token": refresh_token})
            except FortnoxTokenError as exc:
                if exc.oauth_error != "invalid_grant":
                    raise
                last = exc  # spent or expired: a newer seed in the connection may still work
                continue
            # the old token is dead now: store the rotated one before anything else
            return self._save(slot, body, refresh_token=str(body.get("refresh_token") or "") or None)
        assert last is not None
        raise last

    def _save(self, slot: TokenSlotLike, body: dict[str, Any], *, refresh_token: str | None) -> StoredToken:
        saved = save_answer(slot, body, refresh_token=refresh_token)
        self.refreshes += 1
        log.info("Fortnox access token renewed for %s (version %s)", self.key, saved.version)
        return saved

    def _call(self, form: dict[str, str], headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self._endpoint.call(form, headers)


__all__ = ["DEFAULT_AUTH_URL", "FortnoxAuth", "MemoryTokenStore", "OAuthSettings", "TokenBackend", "TokenEndpoint",
           "authorize_url", "mask", "save_answer"]
