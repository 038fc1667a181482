"""One Jetshop sandbox per test module, state reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.jetshop.app import create_app
from sandbox.jetshop.state import JetshopSandbox
from sandbox.server import serve_in_thread

ENDPOINT = "/Webservice20/v3.0/webservice.asmx"
DEMO_AUTH = ("jetfort-demo", "demo-secret")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[JetshopSandbox, str]]:
    app = create_app(seed=1)
    with serve_in_thread(app) as base:
        yield app.state.jetshop, base


@pytest.fixture
def sb(server: tuple[JetshopSandbox, str]) -> JetshopSandbox:
    sandbox = server[0]
    sandbox.reset(1)
    sandbox.clear_faults()
    return sandbox


@pytest.fixture
def base_url(server: tuple[JetshopSandbox, str], sb: JetshopSandbox) -> str:
    return server[1]


@pytest.fixture
def url(base_url: str) -> str:
    return base_url + ENDPOINT


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.auth = DEMO_AUTH
    yield session
    session.close()
