"""Fixtures: one Fortnox sandbox server per test module, a fresh company per test.

Every response that goes through :class:`Api` is validated against the official OpenAPI contract
(:mod:`tests.contract.openapi`) unless a test passes ``contract=False``; and whenever the sandbox
accepts a write (2xx), the request itself must fit the contract too — a sandbox must never accept
what the real API would refuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from sandbox.fortnox import FortnoxSandbox, create_app
from sandbox.fortnox.emulator import Credentials
from sandbox.server import serve_in_thread
from tests.contract.openapi import validate_request, validate_response


@dataclass
class Server:
    base: str
    sandbox: FortnoxSandbox
    session: requests.Session = field(default_factory=requests.Session)

    def token(self, credentials: Credentials) -> str:
        """Exchange the company's refresh token like a client would (rotates it)."""
        response = self.session.post(f"{self.base}/oauth-v1/token", auth=(credentials.client_id, credentials.client_secret),
                                     data={"grant_type": "refresh_token", "refresh_token": credentials.refresh_token})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


class Api:
    """A thin client for one company; validates each API response against the contract."""

    def __init__(self, server: Server, credentials: Credentials, token: str) -> None:
        self.server = server
        self.credentials = credentials
        self.token = token
        self.validated = 0

    @property
    def company(self) -> Any:
        return self.server.sandbox.company(self.credentials.tenant_id)

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}", "Content-Type": "application/json",
                "Accept": "application/json"}

    def call(self, method: str, path: str, body: Any = None, *, contract: bool = True,
             token: str | None = None, **kwargs: Any) -> requests.Response:
        response = self.server.session.request(method, self.server.base + path, json=body,
                                               headers=self.headers(token), timeout=30, **kwargs)
        if contract and response.content:
            validate_response(method, path, response.status_code, response.json(), request_body=body)
            self.validated += 1
        if body is not None and response.ok:
            validate_request(method, path, body)
        return response

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.call("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.call("DELETE", path, **kw)


REPORT: list[str] = []  # lines for the end-of-run summary (e.g. the VCR replay figure)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in REPORT:
        terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    app = create_app(seed=7)
    with serve_in_thread(app) as base:
        yield Server(base, app.sandbox)


@pytest.fixture
def company(server: Server) -> Iterator[Credentials]:
    """A fresh seeded company (own data, own request budget); faults are cleared afterwards."""
    credentials = server.sandbox.create_company()
    yield credentials
    server.sandbox.clear_faults()


@pytest.fixture
def api(server: Server, company: Credentials) -> Api:
    return Api(server, company, server.token(company))
