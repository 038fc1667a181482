"""The Airflow plugin that adds the jetfort page to the Airflow UI.

Registered through the ``airflow.plugins`` entry point ``jetfort_ui`` of the jetfort distribution
(pyproject.toml). The api-server mounts the app under ``/jetfort`` and shows a "jetfort" entry in its
navigation (an external view embedding the page). Airflow loads plugins in every task process too, so
this module imports nothing heavy: the app (FastAPI, Jinja2, the ledger) is built on its first request
by :class:`jetfort.lazyasgi.LazyAsgiApp`.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from jetfort.lazyasgi import LazyAsgiApp

#: The page's mount point in the api-server.
URL_PREFIX = "/jetfort"
#: ``module:function`` building the app.
APP_FACTORY = "jetfort.ui.app:create_app"


class JetfortUiPlugin(AirflowPlugin):
    """Mounts the jetfort page and adds it to Airflow's navigation."""

    name = "jetfort_ui"
    fastapi_apps = [{"app": LazyAsgiApp(APP_FACTORY), "url_prefix": URL_PREFIX, "name": "jetfort page"}]
    external_views = [{"name": "jetfort", "href": f"{URL_PREFIX}/", "destination": "nav", "url_route": "jetfort",
                       "nav_top_level": True}]
