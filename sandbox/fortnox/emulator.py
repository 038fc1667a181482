"""The Python-level handle on a running Fortnox sandbox: companies, OAuth, budget, faults, log.

Tests in the same process use it directly (``app.state.sandbox`` or the return value of
:func:`sandbox.fortnox.app.create_app`); other processes use the same operations through the
``/_sandbox/...`` admin endpoints (see :mod:`.admin`).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from sandbox.faults import FaultInjector, FaultPlan

from . import seed as seeding
from .events import EventHub
from .oauth import ALL_SCOPES, OAuthServer
from .ratelimit import SlidingWindowLimiter
from .state import Clock, Company

DEFAULT_CLIENT_ID = "jetfort-sandbox"
DEFAULT_CLIENT_SECRET = "jetfort-sandbox-secret"


@dataclass
class Credentials:
    """What a client needs to talk to one company (returned by company creation)."""

    tenant_id: int
    client_id: str
    client_secret: str
    refresh_token: str
    authorization_code: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class FortnoxSandbox:
    """All state of one sandbox instance; thread-safe for tests that poke it from outside."""

    def __init__(self, seed: int = 1, *, rate_limit: int = 25, rate_window: float = 5.0,
                 access_ttl: float = 3600.0) -> None:
        self.seed = seed
        self.clock = Clock()
        self.oauth = OAuthServer(self.clock, access_ttl)
        self.limiter = SlidingWindowLimiter(rate_limit, rate_window)
        self.faults = FaultInjector(FaultPlan(seed=seed))
        # separate knobs for the OAuth endpoints (off by default), e.g. a refresh whose answer is lost
        self.oauth_faults = FaultInjector(FaultPlan(seed=seed))
        self.companies: dict[int, Company] = {}
        self.request_log: deque[dict[str, Any]] = deque(maxlen=200_000)
        self._lock = threading.RLock()
        self._next_tenant = 1000 + seed * 100
        self.events = EventHub(self)  # the WebSocket events' logs and knobs (see .events)
        self.default = self._default_company()

    # --- companies and clients ---------------------------------------------------------------------
    def _default_company(self) -> Credentials:
        self.oauth.add_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        return self.create_company(client_id=DEFAULT_CLIENT_ID)

    def create_company(self, name: str | None = None, *, seed: int | None = None, empty: bool = False,
                       client_id: str | None = None, client_secret: str | None = None,
                       redirect_uri: str | None = None, scopes: tuple[str, ...] = ALL_SCOPES) -> Credentials:
        """New tenant with seeded data (unless ``empty``), a client consented to it, and grants."""
        with self._lock:
            self._next_tenant += 1
            tenant_id = self._next_tenant
            company = Company(tenant_id, name or f"Sandbox AB {tenant_id}",
                              seeding.organisation_number(tenant_id), self.clock)
            seeding.populate(company, self.seed if seed is None else seed, empty=empty)
            self.companies[tenant_id] = company
            self.events.baseline(company)  # seeded data is there already: no events for it
            if client_id is None or client_id not in self.oauth.clients:
                client = self.oauth.add_client(client_id, client_secret, redirect_uri, scopes)
            else:
                client = self.oauth.clients[client_id]
            self.oauth.consent(client.client_id, tenant_id, service_account=True)
            return Credentials(tenant_id, client.client_id, client.client_secret,
                               self.oauth.mint_refresh_token(client.client_id, tenant_id),
                               self.oauth.mint_code(client.client_id, tenant_id, redirect_uri))

    def add_client(self, tenant_id: int, client_id: str | None = None, client_secret: str | None = None,
                   redirect_uri: str | None = None, scopes: tuple[str, ...] = ALL_SCOPES) -> Credentials:
        """Another integration (client) consented to an existing company; it gets its own budget."""
        with self._lock:
            self.company(tenant_id)
            client = self.oauth.add_client(client_id, client_secret, redirect_uri, scopes)
            self.oauth.consent(client.client_id, tenant_id, service_account=True)
            return Credentials(tenant_id, client.client_id, client.client_secret,
                               self.oauth.mint_refresh_token(client.client_id, tenant_id),
                               self.oauth.mint_code(client.client_id, tenant_id, redirect_uri))

    def company(self, tenant_id: int | None = None) -> Company:
        return self.companies[self.default.tenant_id if tenant_id is None else tenant_id]

    def mint_refresh_token(self, tenant_id: int, client_id: str = DEFAULT_CLIENT_ID) -> str:
        return self.oauth.mint_refresh_token(client_id, tenant_id)

    def mint_access_token(self, tenant_id: int | None = None, client_id: str = DEFAULT_CLIENT_ID,
                          ttl: float | None = None) -> str:
        tenant = self.default.tenant_id if tenant_id is None else tenant_id
        return self.oauth.mint_access_token(client_id, tenant, ttl)

    # --- inspection --------------------------------------------------------------------------------
    def counts(self, tenant_id: int | None = None) -> dict[str, int]:
        return self.company(tenant_id).counts()

    def stats(self, tenant_id: int | None = None) -> dict[str, Any]:
        tenant = self.default.tenant_id if tenant_id is None else tenant_id
        out = self.limiter.stats(tenant)
        out["faults_fired"] = dict(self.faults.counts)
        out["refresh_rotations"] = self.oauth.rotations
        return out

    def max_in_window(self, tenant_id: int | None = None, client_id: str = DEFAULT_CLIENT_ID,
                      window: float | None = None) -> int:
        tenant = self.default.tenant_id if tenant_id is None else tenant_id
        return self.limiter.max_in_window((tenant, client_id), window)

    def log(self, entry: dict[str, Any]) -> None:
        self.request_log.append(entry)

    # --- knobs -------------------------------------------------------------------------------------
    def set_faults(self, **knobs: Any) -> FaultPlan:
        return self.faults.update(**knobs)

    def clear_faults(self) -> None:
        self.faults.configure(FaultPlan(seed=self.seed))
        self.oauth_faults.configure(FaultPlan(seed=self.seed))

    def reset(self) -> None:
        """Back to the state right after start: reseeded companies, fresh counters, no faults."""
        with self._lock:
            for company in self.companies.values():
                with company.lock:
                    fresh = Company(company.tenant_id, company.name, company.organisation_number, self.clock)
                    seeding.populate(fresh, company.info.get("seed", self.seed),
                                     empty=company.info.get("empty", False))
                    company.data, company.modified, company.stock = fresh.data, fresh.modified, fresh.stock
                    company.counters, company.deleted_customer_numbers = fresh.counters, set()
            self.limiter.reset()
            self.clear_faults()
            self.request_log.clear()
            self.events.reset()
