"""Connect a tenant's Fortnox company: Fortnox's authorization-code flow, its token into the ledger.

:meth:`FortnoxConsent.begin` builds the consent URL (the tenant's scopes, a fresh ``state``) and
remembers the state, as a hash, bound to the user who asked, for as long as Fortnox's code lives
(10 minutes). :meth:`FortnoxConsent.complete` takes Fortnox's redirect back: the state must be known,
the same user's, unused and unexpired, else the consent is refused (a replayed or foreign callback
changes nothing). The code is then exchanged once and the tokens are stored encrypted in the ledger
under the key the Fortnox hook reads (``fortnox:<company>:<client id>``); the hook takes them from
there, so no refresh token is ever written to a Variable, a connection or XCom. Each consent's
outcome (connected, denied, refused, failed) stays in ``oauth_consents`` with who started it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
import sqlalchemy as sa

from jetfort.fortnox.auth import OAuthSettings, TokenEndpoint, authorize_url, mask, save_answer
from jetfort.fortnox.errors import FortnoxError
from jetfort.fortnox.hook import FortnoxHook
from jetfort.ledger.schema import oauth_consents
from jetfort.ledger.store import as_utc, utcnow
from jetfort.ledger.tokens import StoredToken, TokenStore
from jetfort.onboard.scopes import fortnox_scopes

if TYPE_CHECKING:
    from jetfort.ledger import Ledger
    from jetfort.rules import TenantRules

log = logging.getLogger(__name__)

STATE_TTL = dt.timedelta(minutes=10)  # Fortnox's authorization code lives as long


class ConsentRefused(Exception):
    """A consent that cannot go on; ``reason`` is a short code, the message says what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Started:
    url: str = field(repr=False)  # carries the state
    state: str = field(repr=False)
    scopes: tuple[str, ...]
    expires_at: dt.datetime


@dataclass(frozen=True)
class Connected:
    tenant: str
    conn_id: str
    company: str
    scopes: tuple[str, ...]
    missing_scopes: tuple[str, ...]
    fortnox_tenant_id: int | None
    service_account: bool
    token_version: int


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def jwt_tenant_id(access_token: str) -> int | None:
    """The ``tenantId`` claim of Fortnox's access token (read, not verified: Fortnox keeps its key)."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        value = claims.get("tenantId") if isinstance(claims, dict) else None
        return int(value) if value is not None else None
    except (IndexError, ValueError, TypeError, binascii.Error):
        return None


class FortnoxConsent:
    """The consent flow for the tenants of one ledger."""

    def __init__(self, ledger: Ledger, *, session: requests.Session | None = None,
                 now: Callable[[], dt.datetime] = utcnow) -> None:
        self.ledger = ledger
        self._session = session or requests.Session()
        self._now = now

    def hook(self, conn_id: str) -> FortnoxHook:
        return FortnoxHook(conn_id, ledger=self.ledger)

    def begin(self, tenant: str, rules: TenantRules, *, user_id: str, redirect_uri: str | None = None,
              service_account: bool = False) -> Started:
        """Fortnox's consent URL for the tenant, with the scopes its rules need (see :meth:`begin_for`)."""
        return self.begin_for(tenant, rules.fortnox_conn_id, fortnox_scopes(rules), user_id=user_id,
                              redirect_uri=redirect_uri, service_account=service_account)

    def begin_for(self, tenant: str, conn_id: str, scopes: tuple[str, ...], *, user_id: str,
                  redirect_uri: str | None = None, service_account: bool = False) -> Started:
        """Fortnox's consent URL for ``conn_id`` (a tenant whose rules may not exist yet), its state bound to
        ``user_id``. ``redirect_uri`` is where Fortnox sends the user back; the connection's ``redirect_uri``
        extra (the one registered for the integration) is used when none is given."""
        try:
            settings = self.hook(conn_id).settings
        except Exception as exc:
            raise ConsentRefused("no_connection", f"connection {conn_id!r} cannot be read: {exc}") from None
        target = redirect_uri or settings.redirect_uri
        if not target:
            raise ConsentRefused("no_redirect_uri", f"connection {conn_id!r}: no redirect URI to send "
                                 "Fortnox's answer to; give one or set the connection's extra redirect_uri to the URI "
                                 "registered for the integration")
        if not settings.client_id or not settings.client_secret:
            raise ConsentRefused("no_client", f"connection {conn_id!r} has no client id (login) or "
                                 "client secret (password) of the Fortnox integration")
        state = secrets.token_urlsafe(32)
        now = self._now()
        expires = now + STATE_TTL
        with self.ledger.transaction() as conn:
            conn.execute(sa.insert(oauth_consents).values(
                state_hash=state_hash(state), tenant=tenant, conn_id=conn_id, user_id=user_id,
                redirect_uri=target, scopes=" ".join(scopes), service_account=service_account, created_at=now,
                expires_at=expires))
        query = {"client_id": settings.client_id, "redirect_uri": target, "scope": " ".join(scopes), "state": state,
                 "access_type": "offline", "response_type": "code"}
        if service_account:
            query["account_type"] = "service"
        log.info("Fortnox consent for tenant %s started by %s (scopes: %s)", tenant, user_id, " ".join(scopes))
        return Started(f"{authorize_url(settings.auth_url)}?{urlencode(query)}", state, scopes, expires)

    def complete(self, *, user_id: str, state: str, code: str | None = None, error: str | None = None,
                 error_description: str | None = None, allowed: Callable[[str, str], bool] | None = None) -> Connected:
        """Fortnox's redirect back (``code`` or ``error``, and ``state``): check, exchange once, store the
        tokens for the connection the consent began with.

        ``allowed(tenant, conn_id)`` asks whether the user may still connect that tenant (the auth manager's
        answer may have changed since the consent began)."""
        row = self._claim(user_id, state)
        tenant = row.tenant
        if allowed is not None and not allowed(tenant, row.conn_id):
            self._finish(row.state_hash, "refused", "the user may not edit the connection")
            raise ConsentRefused("forbidden", f"you may not edit connection {row.conn_id} (tenant {tenant})")
        if error:
            self._finish(row.state_hash, "denied", f"{error}: {error_description or ''}".strip(": "))
            raise ConsentRefused("denied", f"Fortnox did not grant the consent for tenant {tenant}: {error}"
                                 + (f" ({error_description})" if error_description else ""))
        if not code:
            self._finish(row.state_hash, "failed", "no code in Fortnox's answer")
            raise ConsentRefused("no_code", "Fortnox's answer carries no authorization code; start again")
        try:
            hook = self.hook(row.conn_id)
            s = hook.settings
        except Exception as exc:
            self._finish(row.state_hash, "failed", f"connection {row.conn_id} cannot be read: {exc}")
            raise ConsentRefused("no_connection", f"connection {row.conn_id!r} cannot be read: {exc}") from None
        endpoint = TokenEndpoint(OAuthSettings(auth_url=s.auth_url, client_id=s.client_id, client_secret=s.client_secret),
                                 self._session)
        try:
            body = endpoint.exchange_code(code, row.redirect_uri)
        except FortnoxError as exc:
            self._finish(row.state_hash, "failed", str(exc))
            raise ConsentRefused("exchange_failed", f"Fortnox refused the authorization code for tenant {tenant}: "
                                 f"{exc}; start again") from None
        try:
            stored = self._store(hook, body)
        except ConsentRefused as exc:
            self._finish(row.state_hash, "failed", str(exc))
            raise
        granted = tuple(str(body.get("scope") or "").split())
        asked = tuple(row.scopes.split())
        missing = tuple(s for s in asked if s not in granted)
        fortnox_tenant = jwt_tenant_id(stored.access_token or "")
        self._finish(row.state_hash, "connected",
                     f"scopes: {' '.join(granted)}" + (f"; missing: {' '.join(missing)}" if missing else "")
                     + (f"; Fortnox tenant id {fortnox_tenant}" if fortnox_tenant is not None else ""))
        log.info("Fortnox connected for tenant %s by %s (company %s, token version %s)", tenant, user_id,
                 s.company, stored.version)
        return Connected(tenant, row.conn_id, s.company, granted, missing, fortnox_tenant, bool(row.service_account),
                         stored.version)

    def recent(self, tenant: str, limit: int = 5) -> list[dict[str, Any]]:
        """The tenant's latest consents: who, when, how it ended (no state, no token)."""
        c = oauth_consents.c
        with self.ledger.engine.connect() as conn:
            rows = conn.execute(sa.select(c.user_id, c.created_at, c.used_at, c.outcome, c.detail, c.service_account)
                                .where(c.tenant == tenant).order_by(c.created_at.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    # ------------------------------------------------------------------------------------ internals
    def _claim(self, user_id: str, state: str) -> Any:
        """The consent row of ``state``, marked used; refused when unknown, foreign, used or expired."""
        c = oauth_consents.c
        hashed = state_hash(state or "")
        now = self._now()
        with self.ledger.transaction() as conn:
            row = conn.execute(sa.select(oauth_consents).where(c.state_hash == hashed)).first()
            if row is None:
                raise ConsentRefused("unknown_state", "this consent was not started here (unknown state); start "
                                     "again from the jetfort page")
            if row.user_id != user_id:
                log.warning("Fortnox consent of tenant %s started by %s was answered by %s: refused", row.tenant,
                            row.user_id, user_id)
                raise ConsentRefused("foreign_user", "this consent was started by another user; start your own")
            claimed = conn.execute(sa.update(oauth_consents).where(c.state_hash == hashed, c.used_at.is_(None))
                                   .values(used_at=now))
            if claimed.rowcount != 1:
                raise ConsentRefused("used", "this consent was already answered (a replayed callback); start again")
        expires = as_utc(row.expires_at)
        if expires is None or expires <= now:
            self._finish(hashed, "refused", "expired")
            raise ConsentRefused("expired", f"this consent expired after {int(STATE_TTL.total_seconds() // 60)} "
                                 "minutes; start again")
        return row

    def _finish(self, hashed: str, outcome: str, detail: str) -> None:
        with self.ledger.transaction() as conn:
            conn.execute(sa.update(oauth_consents).where(oauth_consents.c.state_hash == hashed)
                         .values(outcome=outcome, detail=detail[:2000]))

    def _store(self, hook: FortnoxHook, body: dict[str, Any]) -> StoredToken:
        refresh = str(body.get("refresh_token") or "") or None
        mask(refresh)
        if not body.get("access_token") or not refresh:
            raise ConsentRefused("exchange_failed", "Fortnox answered the code without an access and a refresh "
                                 "token; start again")
        with TokenStore(self.ledger).locked(hook.token_key) as slot:
            return save_answer(slot, body, refresh_token=refresh)
