"""The Airflow plugin that mounts Norce's order receiver in the api-server under ``/jetfort-norce``.

Airflow finds it through the ``airflow.plugins`` entry point of the jetfort distribution
(pyproject.toml), in every process that loads plugins: the api-server (which mounts
``fastapi_apps``), ``airflow plugins``, and also each task process (Airflow loads plugins there for
macros). So this module must cost nothing to import: the receiver app (FastAPI, the ledger, SQLAlchemy)
is imported and built on the first request only, by :class:`LazyReceiverApp`
(:class:`jetfort.lazyasgi.LazyAsgiApp`, shared with the jetfort UI plugin). It imports no
``airflow.sdk`` DAG machinery and is never needed to parse a DAG.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from jetfort.lazyasgi import LazyAsgiApp

#: The receiver's mount point in the api-server (keep in step with ``jetfort.norce.receiver.URL_PREFIX``).
URL_PREFIX = "/jetfort-norce"
#: ``module:function`` building the receiver app.
APP_FACTORY = "jetfort.norce.receiver:create_receiver_app"


class LazyReceiverApp(LazyAsgiApp):
    """The receiver app, built on its first request (see :class:`jetfort.lazyasgi.LazyAsgiApp`)."""

    def __init__(self, factory: str = APP_FACTORY) -> None:
        super().__init__(factory)


class NorceReceiverPlugin(AirflowPlugin):
    """Registers the receiver as a FastAPI sub-application of the api-server."""

    name = "jetfort_norce_receiver"
    fastapi_apps = [{"app": LazyReceiverApp(), "url_prefix": URL_PREFIX, "name": "jetfort Norce order receiver"}]
