"""Fixtures: the Fortnox sandbox in a thread (one per module), a fresh company per test, and hooks
whose every API request is checked against Fortnox's official OpenAPI contract.

The contract check runs as a ``requests`` response hook on the hook's own session, so it sees the
exact bytes the FortnoxHook sent (method, path, query, JSON body). Violations are collected and
fail the test at teardown. The OAuth token endpoint is not part of the OpenAPI file and is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from jetfort.fortnox.hook import FortnoxHook
from jetfort.ledger import Ledger
from sandbox.fortnox import FortnoxSandbox, create_app
from sandbox.fortnox.emulator import Credentials
from sandbox.server import serve_in_thread
from tests.contract.openapi import ContractError, validate_request


@dataclass
class Server:
    base: str
    sandbox: FortnoxSandbox

    @property
    def auth_url(self) -> str:
        return f"{self.base}/oauth-v1/token"

    def log_for(self, tenant_id: int) -> list[dict[str, Any]]:
        return [e for e in list(self.sandbox.request_log) if e.get("tenant") == tenant_id]


@dataclass
class ContractChecker:
    """Validates every API request a hook sends; remembers what it checked."""

    checked: int = 0
    violations: list[str] = field(default_factory=list)

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        path = urlparse(request.url or "").path
        if not (path.startswith("/3/") or path.startswith("/api/")):
            return
        body = request.body
        if isinstance(body, bytes):
            body = body.decode()
        try:
            validate_request(str(request.method), str(request.url), body or None)
        except ContractError as exc:
            self.violations.append(str(exc))
        self.checked += 1

    def install(self, hook: FortnoxHook) -> FortnoxHook:
        hook.get_conn().hooks["response"].append(self)
        return hook


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    app = create_app(seed=7, rate_limit=25, rate_window=1.0)
    with serve_in_thread(app) as base:
        yield Server(base, app.sandbox)


@pytest.fixture
def company(server: Server) -> Iterator[Credentials]:
    """A fresh tenant with seeded data and its own client; faults cleared afterwards."""
    credentials = server.sandbox.create_company()
    yield credentials
    server.sandbox.clear_faults()


@pytest.fixture
def contract() -> Iterator[ContractChecker]:
    checker = ContractChecker()
    yield checker
    assert checker.violations == [], "requests outside the Fortnox contract:\n" + "\n".join(checker.violations)


@pytest.fixture
def ledger(sqlite_url: str) -> Ledger:
    return Ledger.from_url(sqlite_url)


HookFactory = Callable[..., FortnoxHook]


@pytest.fixture
def make_hook(server: Server, company: Credentials, contract: ContractChecker) -> Iterator[HookFactory]:
    """Build hooks for the test's company; every one is contract-checked and closed afterwards."""
    hooks: list[FortnoxHook] = []

    def build(**overrides: Any) -> FortnoxHook:
        params: dict[str, Any] = dict(base_url=server.base, auth_url=server.auth_url,
                                      client_id=company.client_id, client_secret=company.client_secret,
                                      refresh_token=company.refresh_token, company=str(company.tenant_id),
                                      max_backoff=0.2)
        params.update(overrides)
        hook = contract.install(FortnoxHook.from_params(**params))
        hooks.append(hook)
        return hook

    yield build
    for hook in hooks:
        hook.close()
