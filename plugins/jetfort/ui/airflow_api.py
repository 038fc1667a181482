"""Airflow's own REST API (``/api/v2``), called as the logged-in user: the page forwards the user's JWT,
so Airflow's auth manager checks every read and every triggered run again, and the run's audit log
names that user.

Where the API is: ``$JETFORT_UI_AIRFLOW_API_URL``, else Airflow's ``[api] base_url``, else the
api-server's own ``[api] host``/``port`` (how Airflow itself finds its API when no base URL is set).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from airflow.configuration import conf

URL_ENV = "JETFORT_UI_AIRFLOW_API_URL"
TIMEOUT = 20.0


class AirflowApiError(RuntimeError):
    """Airflow's API refused or failed a call; carries its status code and its reason (never the token)."""

    def __init__(self, what: str, status_code: int, detail: str) -> None:
        super().__init__(f"{what}: Airflow API answered {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


def api_url() -> str:
    """The base URL of Airflow's API server (ends with ``/``)."""
    url = os.environ.get(URL_ENV) or conf.get("api", "base_url", fallback="") or ""
    if not url.startswith(("http://", "https://")):
        host = conf.get("api", "host", fallback="localhost")
        host = "localhost" if host in ("0.0.0.0", "::", "") else host
        url = f"http://{host}:{conf.get('api', 'port', fallback='8080')}/"
    return url if url.endswith("/") else url + "/"


@dataclass
class AirflowApi:
    """Calls on behalf of one user (their JWT as ``Bearer``)."""

    token: str
    base: str = ""
    transport: httpx.AsyncBaseTransport | None = None

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base or api_url(), timeout=TIMEOUT, transport=self.transport,
                                 headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"})

    @staticmethod
    def _check(what: str, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise AirflowApiError(what, response.status_code, str(detail)[:500])
        return response.json()

    async def tenant_dags(self, tenant: str) -> list[dict[str, Any]]:
        """The tenant's DAGs the user may read (tag ``tenant:<id>``), each with its latest run."""
        async with self._client() as client:
            found = self._check(f"DAGs of tenant {tenant}", await client.get(
                "api/v2/dags", params={"tags": f"tenant:{tenant}", "limit": 100, "order_by": "dag_id"}))
            dags = list(found.get("dags") or [])
            runs = await asyncio.gather(*(self._last_run(client, d["dag_id"]) for d in dags))
        for dag, run in zip(dags, runs, strict=True):
            dag["last_run"] = run
        return dags

    async def _last_run(self, client: httpx.AsyncClient, dag: str) -> dict[str, Any] | None:
        found = self._check(f"runs of {dag}", await client.get(
            f"api/v2/dags/{quote(dag, safe='')}/dagRuns", params={"order_by": "-run_after", "limit": 1}))
        runs = found.get("dag_runs") or []
        return runs[0] if runs else None

    async def trigger(self, dag: str, conf_: dict[str, Any], note: str) -> dict[str, Any]:
        """A manual run of ``dag`` with ``conf_`` (``POST /api/v2/dags/{dag}/dagRuns``)."""
        async with self._client() as client:
            try:
                answer = await client.post(f"api/v2/dags/{quote(dag, safe='')}/dagRuns",
                                           json={"logical_date": None, "conf": conf_, "note": note})
            except httpx.HTTPError as exc:
                raise AirflowApiError(f"trigger {dag}", 502, f"not reachable at {client.base_url} "
                                                             f"({type(exc).__name__})") from None
            return dict(self._check(f"trigger {dag}", answer))

    async def create_variable(self, key: str, value: str, description: str) -> dict[str, Any]:
        """A new Variable (``POST /api/v2/variables``); Airflow answers 409 when the key exists."""
        async with self._client() as client:
            try:
                answer = await client.post("api/v2/variables",
                                           json={"key": key, "value": value, "description": description})
            except httpx.HTTPError as exc:
                raise AirflowApiError(f"create Variable {key}", 502, f"not reachable at {client.base_url} "
                                                                     f"({type(exc).__name__})") from None
            return dict(self._check(f"create Variable {key}", answer))
