"""A Jetshop sandbox on a loopback port per test module, and hooks pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from jetfort.jetshop.hook import JetshopHook
from sandbox.jetshop.app import create_app
from sandbox.jetshop.state import JetshopSandbox
from sandbox.server import serve_in_thread

LOGINS = {"demoshop": ("jetfort-demo", "demo-secret"), "nordicshop": ("jetfort-nordic", "nordic-secret")}


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
def make_hook(base_url: str) -> Iterator[Callable[..., JetshopHook]]:
    hooks: list[JetshopHook] = []

    def make(shop_id: str = "demoshop", **kwargs: object) -> JetshopHook:
        login, password = LOGINS.get(shop_id, ("jetfort-demo", "demo-secret"))
        params: dict[str, object] = {"endpoint": base_url, "login": login, "password": password,
                                     "shop_id": shop_id, "retries": 3, "retry_wait": 0.01, "timeout": 10}
        params.update(kwargs)
        hook = JetshopHook.from_params(**params)  # type: ignore[arg-type]
        hooks.append(hook)
        return hook

    yield make
    for hook in hooks:
        hook.close()


@pytest.fixture
def hook(make_hook: Callable[..., JetshopHook]) -> JetshopHook:
    return make_hook()
