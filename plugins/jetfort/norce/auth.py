"""Norce OAuth2 client credentials: one access token per connection, shared by every worker.

Norce's token endpoint allows 3 requests a minute per IP (plus a burst of 20) and tokens live an hour
(reference norce-api.md §1.1), so a token must not be fetched per task. It is kept encrypted in the
ledger's token store (key ``norce:<conn_id>``) and reused by every task, worker and process until 60 s
before it expires. A renewal happens under the store's cross-process lock, and the store is read again
inside the lock: of N processes needing a token at once, one asks Norce and the others use its token.

A 429 from the token endpoint is waited out *outside* the lock (the SQLite ledger's lock waiters give up
after 60 s) and retried a bounded number of times.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from jetfort.errors import retry_after_seconds
from jetfort.fortnox.auth import MemoryTokenStore, TokenBackend, TokenSlotLike, mask
from jetfort.ledger.tokens import StoredToken
from jetfort.norce.errors import NorceAuthError, NorceConnectionError, NorceServerError, NorceTransientError
from jetfort.norce.settings import NorceSettings

log = logging.getLogger(__name__)

REFRESH_MARGIN = 60.0
DEFAULT_TTL = 3600.0
MAX_WAIT = 50.0  # one wait on the token endpoint's limit; its window is a minute


class _Retry(Exception):
    """The token endpoint asked us to come back later (429/5xx/lost connection)."""

    def __init__(self, error: NorceTransientError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class NorceTokenProvider:
    """Hands out a live bearer token; fetches one (client credentials) only when none is usable.

    ``store`` is a :class:`jetfort.ledger.tokens.TokenStore` (shared, encrypted) or, for tests and a
    single process, a :class:`MemoryTokenStore`. ``requests`` counts token-endpoint calls made here.
    """

    def __init__(self, settings: NorceSettings, store: TokenBackend, key: str | None = None, *,
                 session: requests.Session | None = None, margin: float = REFRESH_MARGIN,
                 max_attempts: int = 4, backoff: float = 5.0, max_wait: float = MAX_WAIT,
                 timeout: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.store = store
        self.key = key or settings.token_key
        self.margin = margin
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self.timeout = timeout
        self._sleep = sleep
        self._session = session or requests.Session()
        self._own_session = session is None
        self._cached: StoredToken | None = None
        self._rejected: str | None = None
        self._lock = threading.Lock()
        self.requests = 0
        mask(settings.client_secret)

    def _usable(self, token: StoredToken | None) -> bool:
        return (token is not None and bool(token.access_token) and token.access_token != self._rejected
                and token.valid_for(self.margin))

    def access_token(self) -> str:
        """A token with more than ``margin`` seconds left: this process's, the store's, or a new one."""
        with self._lock:
            if self._usable(self._cached):
                assert self._cached is not None and self._cached.access_token
                return self._cached.access_token
            token = self._obtain()
            assert token.access_token
            mask(token.access_token)
            self._cached = token
            return token.access_token

    def invalidate(self, token: str) -> None:
        """The API answered 401 to ``token``: the next call gets another one (unless someone renewed already)."""
        with self._lock:
            self._rejected = token
            if self._cached is not None and self._cached.access_token == token:
                self._cached = None

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    # ------------------------------------------------------------------------------------------------
    def _obtain(self) -> StoredToken:
        last: _Retry | None = None
        for attempt in range(1, self.max_attempts + 1):
            stored = self.store.get(self.key)
            if self._usable(stored):
                assert stored is not None
                return stored
            try:
                with self.store.locked(self.key) as slot:
                    if self._usable(slot.current):  # another process renewed while we waited for the lock
                        assert slot.current is not None
                        return slot.current
                    return self._fetch_into(slot)
            except _Retry as retry:
                last = retry
            if attempt < self.max_attempts:
                wait = self._wait(attempt, last.retry_after)
                log.warning("Norce token endpoint: %s; trying again in %.1f s (attempt %s of %s)",
                            last.error.message, wait, attempt, self.max_attempts)
                self._sleep(wait)
        assert last is not None
        error = last.error
        if isinstance(error, NorceServerError) and error.status_code == 429:
            raise NorceServerError(
                f"the token endpoint's rate limit (3 requests a minute per IP, burst 20) was hit "
                f"{self.max_attempts} time(s) in a row; tokens are cached, so something else on this IP is "
                "asking for tokens too", status_code=429, operation="token")
        raise error

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_wait, retry_after)
        return min(self.max_wait, self.backoff * 2 ** (attempt - 1))

    def _fetch_into(self, slot: TokenSlotLike) -> StoredToken:
        body = self._post()
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise NorceServerError("token endpoint answered without an access_token", status_code=200,
                                   operation="token")
        mask(access)
        ttl = body.get("expires_in")
        if isinstance(ttl, bool) or not isinstance(ttl, int | float | str):
            ttl = DEFAULT_TTL
        try:
            seconds = float(ttl)
        except ValueError:
            seconds = DEFAULT_TTL
        saved = slot.save(access_token=access, refresh_token=None,
                          expires_at=_utcnow() + dt.timedelta(seconds=seconds),
                          scope=str(body.get("scope") or self.settings.scope))
        log.info("Norce access token renewed for %s (version %s, %d s)", self.key, saved.version, seconds)
        return saved

    def _post(self) -> dict[str, Any]:
        s = self.settings
        form = {"grant_type": "client_credentials", "client_id": s.client_id, "client_secret": s.client_secret,
                "scope": s.scope}
        self.requests += 1
        try:
            resp = self._session.post(s.token_url, data=form, timeout=self.timeout,
                                      headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise _Retry(NorceConnectionError(f"token endpoint unreachable ({type(exc).__name__})",
                                              operation="token"), None) from None
        if resp.status_code == 429 or resp.status_code >= 500:
            error = NorceServerError(f"token endpoint answered {resp.status_code}", status_code=resp.status_code,
                                     operation="token")
            raise _Retry(error, retry_after_seconds(resp.headers.get("Retry-After")))
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code == 200 and not isinstance(body, dict):
            raise NorceServerError("token endpoint answered 200 without a JSON object", status_code=200,
                                   operation="token")
        if resp.status_code != 200:
            raise self._refusal(resp.status_code, body)
        assert isinstance(body, dict)
        return body

    def _refusal(self, status: int, body: Any) -> NorceAuthError:
        """400/401 ``invalid_client`` and friends: the OAuth error code and description, never the secret."""
        data = body if isinstance(body, dict) else {}
        code = str(data.get("error") or status)
        text = str(data.get("error_description") or "").replace(self.settings.client_secret, "***")
        hint = {"invalid_client": "check the connection's client id and secret",
                "invalid_scope": f"the OAuth user may not use environment {self.settings.scope!r}",
                "unauthorized_client": "the OAuth user may not use client credentials"}.get(code, "")
        detail = "; ".join(part for part in (text[:200], hint) if part)
        return NorceAuthError(f"Norce refused the client credentials of connection {self.settings.conn_id!r}: "
                              f"{code}" + (f" ({detail})" if detail else ""), operation="token")


__all__ = ["REFRESH_MARGIN", "MemoryTokenStore", "NorceTokenProvider"]
