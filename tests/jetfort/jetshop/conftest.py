"""Hooks pointed at a Jetshop sandbox on a loopback port (one per test module)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from jetfort.jetshop.hook import JetshopHook

# the same sandbox fixtures as the sandbox's own tests (server per module, state reset per test)
from tests.sandbox.jetshop.conftest import base_url, sb, server  # noqa: F401

LOGINS = {"demoshop": ("jetfort-demo", "demo-secret"), "nordicshop": ("jetfort-nordic", "nordic-secret")}


@pytest.fixture
def make_hook(base_url: str) -> Iterator[Callable[..., JetshopHook]]:  # noqa: F811
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
