"""Fakes for the Norce client tests: a scripted ``requests`` adapter (HTTP mocked at the transport) and a
tiny FastAPI token + Query server for the tests that need real sockets (several processes)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from requests.structures import CaseInsensitiveDict

from jetfort.norce.settings import NorceSettings

SECRET = "norce-very-secret-0123456789"


def make_settings(base_url: str = "https://demoshop.api-se.stage.norce.tech", **overrides: Any) -> NorceSettings:
    params: dict[str, Any] = dict(conn_id="norce_demo", slug="demoshop", environment="stage", client_id="jetfort-demo",
                                  client_secret=SECRET, application_id=1244, account_id=17, base_url=base_url)
    params.update(overrides)
    return NorceSettings.from_params(**params)


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raise_: Exception | None = None


class Scripted(requests.adapters.BaseAdapter):
    """Answers token calls and API calls from two queues; records every request it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.token_answers: deque[Answer] = deque()
        self.api_answers: deque[Answer] = deque()
        self.sent: list[requests.PreparedRequest] = []
        self.tokens_issued = 0
        self.on_api: Callable[[requests.PreparedRequest], Answer] | None = None

    def token(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.token_answers.append(Answer(status, body, headers or {}))

    def api(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None,
            raise_: Exception | None = None) -> None:
        self.api_answers.append(Answer(status, body, headers or {}, raise_))

    @property
    def api_sent(self) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if "/connect/token" not in str(r.url)]

    @property
    def token_sent(self) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if "/connect/token" in str(r.url)]

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        if "/connect/token" in str(request.url):
            answer = self.token_answers.popleft() if self.token_answers else None
            if answer is None:
                self.tokens_issued += 1
                answer = Answer(200, {"access_token": f"token-{self.tokens_issued}", "expires_in": 3600,
                                      "token_type": "Bearer"})
        elif self.api_answers:
            answer = self.api_answers.popleft()
        else:
            answer = self.on_api(request) if self.on_api else Answer(200, {})
        if answer.raise_ is not None:
            raise answer.raise_
        resp = requests.Response()
        resp.status_code = answer.status
        resp.reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
                       429: "Too Many Requests"}.get(answer.status, "Status")
        body = answer.body
        resp._content = (body if isinstance(body, bytes) else body.encode() if isinstance(body, str)
                         else b"" if body is None else json.dumps(body).encode())
        resp.headers = CaseInsensitiveDict(answer.headers)
        resp.url = str(request.url)
        resp.request = request
        return resp

    def close(self) -> None:
        pass


@pytest.fixture
def scripted() -> Scripted:
    return Scripted()


@pytest.fixture
def session(scripted: Scripted) -> requests.Session:
    s = requests.Session()
    s.mount("https://", scripted)
    s.mount("http://", scripted)
    return s


class TokenServer:
    """Counts token requests (a real server: processes in other address spaces call it)."""

    def __init__(self, delay: float = 0.5) -> None:
        self.requests = 0
        self.forms: list[dict[str, str]] = []
        self.delay = delay
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def app(self) -> FastAPI:
        app = FastAPI()
        app.add_api_route("/identity/1.0/connect/token", self.token, methods=["POST"])
        return app

    async def token(self, request: Request) -> JSONResponse:
        """A slow token endpoint: the other processes pile up behind the ledger lock meanwhile."""
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        with self._lock:
            self.requests += 1
            self.forms.append(form)
            number = next(self._ids)
        await asyncio.sleep(self.delay)
        return JSONResponse({"access_token": f"shared-{number}", "expires_in": 3600, "token_type": "Bearer"})


@pytest.fixture
def token_server() -> Iterator[tuple[str, TokenServer]]:
    from sandbox.server import serve_in_thread

    server = TokenServer()
    with serve_in_thread(server.app()) as base:
        yield base, server
