"""The Airflow plugin that mounts Norce's order receiver in the api-server under ``/jetfort-norce``.

Airflow finds it through the ``airflow.plugins`` entry point of the jetfort distribution
(pyproject.toml), in every process that loads plugins: the api-server (which mounts
``fastapi_apps``), ``airflow plugins``, and also each task process (Airflow loads plugins there for
macros). So this module must cost nothing to import: the receiver app (FastAPI, the ledger, SQLAlchemy)
is imported and built on the first request only, by :class:`LazyReceiverApp`. It imports no
``airflow.sdk`` DAG machinery and is never needed to parse a DAG.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow.plugins_manager import AirflowPlugin

#: The receiver's mount point in the api-server (keep in step with ``jetfort.norce.receiver.URL_PREFIX``).
URL_PREFIX = "/jetfort-norce"
#: ``module:function`` building the receiver app.
APP_FACTORY = "jetfort.norce.receiver:create_receiver_app"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class LazyReceiverApp:
    """An ASGI app that builds the receiver on its first call and hands every call to it."""

    def __init__(self, factory: str = APP_FACTORY) -> None:
        self.factory = factory
        self._app: Any = None
        self._lock = threading.Lock()

    def app(self) -> Any:
        """The receiver app, built once (importing it here, not at the top, keeps task processes light)."""
        with self._lock:
            if self._app is None:
                module, _, name = self.factory.partition(":")
                self._app = getattr(importlib.import_module(module), name)()
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app()(scope, receive, send)


class NorceReceiverPlugin(AirflowPlugin):
    """Registers the receiver as a FastAPI sub-application of the api-server."""

    name = "jetfort_norce_receiver"
    fastapi_apps = [{"app": LazyReceiverApp(), "url_prefix": URL_PREFIX, "name": "jetfort Norce order receiver"}]
