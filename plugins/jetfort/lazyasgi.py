"""An ASGI app built on its first request: what jetfort's Airflow plugins mount in the api-server.

Airflow loads every plugin in every process that loads plugins (the api-server, ``airflow plugins``
and each task process, for macros), so a plugin module must cost nothing to import. The plugins
hand Airflow a :class:`LazyAsgiApp` naming a ``module:function`` that builds the real app (FastAPI,
the ledger, SQLAlchemy): it is imported and called on the first request only. Standard library only.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class LazyAsgiApp:
    """An ASGI app that builds the app ``factory`` (``module:function``) on its first call and hands every
    call to it."""

    def __init__(self, factory: str) -> None:
        self.factory = factory
        self._app: Any = None
        self._lock = threading.Lock()

    def app(self) -> Any:
        """The app, built once (importing it here, not at the top, keeps task processes light)."""
        with self._lock:
            if self._app is None:
                module, _, name = self.factory.partition(":")
                self._app = getattr(importlib.import_module(module), name)()
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app()(scope, receive, send)
