"""Shared set-up of the catalog tests: the Norce sandbox app (``create_app``) and small helpers.

Kept in a test module of its own (not ``conftest.py``, which the Norce sandbox's other suite owns); the
catalog tests import the ``env`` fixture from here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sandbox.norce.app import create_app
from sandbox.norce.auth import IssuedToken
from sandbox.norce.catalog import NorceCatalog

BASE = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # 09:00 in Stockholm (CET)
TOKEN = "catalog-test-token"
CONNECT = "/commerce/connect/4.0"


def _build() -> tuple[FastAPI, Any]:
    app = create_app(seed=1, base_time=BASE, push_auto=False)
    return app, app.state.norce


@dataclass
class Env:
    client: TestClient
    sb: Any

    @property
    def catalog(self) -> Any:
        """The sandbox's :class:`NorceCatalog` (typed Any: tests index its Optional inspection results)."""
        catalog: NorceCatalog = self.sb.catalog
        return catalog

    def move(self, seconds: float) -> None:
        self.sb.advance(seconds)

    def post(self, operation: str, rows: Any, header: dict[str, Any] | str | None,
             **headers: str) -> Any:
        sent = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", **headers}
        if header is not None:
            sent["X-StormConnect-Header"] = header if isinstance(header, str) else json.dumps(header)
        body = rows if isinstance(rows, (str, bytes)) else json.dumps(rows)
        return self.client.post(f"{CONNECT}/Product/{operation}", content=body, headers=sent)

    def submit(self, operation: str, rows: Any, header: dict[str, Any] | str) -> int:
        """Post an import that must be accepted; the job id as int."""
        response = self.post(operation, rows, header)
        assert response.status_code == 200, response.text
        return int(response.json()["JobId"])

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"{CONNECT}/{path}", params=params, headers={"Authorization": f"Bearer {TOKEN}"})

    def job(self, job_id: int) -> dict[str, Any]:
        response = self.get("Job/Get", id=job_id)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def log(self, job_id: int) -> list[dict[str, Any]]:
        response = self.get("Job/GetLog", id=job_id)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def query(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/commerce/query/2.0/{path}", params=params,
                               headers={"Authorization": f"Bearer {TOKEN}", "applicationId": "1244"})


@pytest.fixture
def env() -> Iterator[Env]:
    app, sb = _build()
    sb.tokens[TOKEN] = IssuedToken("jetfort-demo", ("stage",), BASE + timedelta(days=365))
    with TestClient(app) as client:
        yield Env(client, sb)
    sb.catalog.jobs.stop_background()
    sb.pusher.stop()  # create_app started the push thread


def onhand_header(*fields: Any, full_file: bool = False, **extra: Any) -> dict[str, Any]:
    return {"AccountId": 17, "FullFile": full_file, "SkuOnhandFieldsThatAreSet": list(fields), **extra}


def price_header(*fields: Any, full_file: bool = False, **extra: Any) -> dict[str, Any]:
    return {"AccountId": 17, "FullFile": full_file, "SkuPriceListFieldsThatAreSet": list(fields), **extra}


def onhand(part_no: str, value: Any, warehouse: str = "MAIN", location: str = "MAIN", **extra: Any) -> dict[str, Any]:
    return {"PartNo": part_no, "WarehouseCode": warehouse, "LocationCode": location, "OnhandValue": value, **extra}
