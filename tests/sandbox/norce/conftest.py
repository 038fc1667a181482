"""One Norce sandbox per test module (clock frozen at BASE, push delivery manual), reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from sandbox.norce.app import create_app
from sandbox.norce.state import NorceSandbox
from sandbox.server import serve_in_thread

BASE = datetime(2025, 6, 12, 12, 0, tzinfo=UTC)
CLIENT_ID = "jetfort-demo"
CLIENT_SECRET = "norce-demo-secret"
APP_ID = "1244"
TOKEN_PATH = "/identity/1.0/connect/token"
QUERY = "/commerce/query/2.0/"
CONNECT = "/commerce/connect/4.0/"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[NorceSandbox, str]]:
    app = create_app(seed=1, base_time=BASE, push_auto=False)
    with serve_in_thread(app) as base:
        yield app.state.norce, base
    app.state.norce.pusher.stop()


@pytest.fixture
def sb(server: tuple[NorceSandbox, str]) -> NorceSandbox:
    sandbox = server[0]
    sandbox.reset(1)
    sandbox.set_knobs(push_auto=False, duplicate_push_percent=0.0, push_speed=1.0, push_timeout=5.0,
                      push_schedule=(5, 10, 15, 30), token_rate_per_minute=3.0, token_burst=20)
    sandbox.set_push_target(None)
    return sandbox


@pytest.fixture
def base_url(server: tuple[NorceSandbox, str], sb: NorceSandbox) -> str:
    return server[1]


def fetch_token(base_url: str, **overrides: str) -> requests.Response:
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "scope": "stage", **overrides}
    return requests.post(base_url + TOKEN_PATH, data=form, timeout=10)


@pytest.fixture
def token(base_url: str) -> str:
    response = fetch_token(base_url)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def http(token: str) -> Iterator[requests.Session]:
    """A session with the bearer token and the application id header, as jetfort's client sends them."""
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "applicationId": APP_ID})
    yield session
    session.close()
