"""HTTP side of the catalog: Connect Product Service imports, the Job service, admin routes, Query entity sets.

Connect (``/commerce/connect/4.0/``): ``Product/ImportProducts|ImportSkuPriceLists|ImportPriceLists|
ImportOnhands`` (Bearer, ``X-StormConnect-Header``, JSON rows → ``JobResponse``), ``Job/Get``,
``Job/GetLog`` (also under ``api/``) and ``Job/Ping``. Admin: ``GET /_sandbox/catalog``,
``POST|DELETE /_sandbox/catalog/faults``, ``POST /_sandbox/catalog/jobs/advance|process``.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandbox.norce.auth import apply_faults, connect_application_id, finish, require_bearer
from sandbox.norce.catalog import NorceCatalog
from sandbox.norce.catalog_wire import OPERATIONS, BodyError, HeaderError, parse_body, parse_header
from sandbox.norce.jobs import Job
from sandbox.norce.orders import ConnectError

CONNECT = "/commerce/connect/4.0"
INT32_MAX = 2**31 - 1


def _json(value: Any) -> Any:
    """Decimals as JSON numbers without float rounding, datetimes as ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "E" not in str(value) else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json(v) for v in value]
    return value


def _admin_json(value: Any) -> Any:
    """Admin routes: Decimals as text so a test reads exactly what is stored."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _admin_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_admin_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _error(status: int, message: str, field_name: str | None = None) -> JSONResponse:
    """Connect errors in the sandbox's one (UNCONFIRMED) error shape, shared with the Order service."""
    return JSONResponse(ConnectError(message, field_name, status).body(), status_code=status)


def register(app: FastAPI, sandbox: Any) -> None:
    """Add the catalog routes and Query entity sets to the Norce sandbox ``app``."""
    catalog: NorceCatalog = sandbox.catalog
    sandbox.entity_sets.update(catalog.entity_sets())
    keys = getattr(sandbox, "entity_keys", None)  # the sandbox's key table for Set('key') GETs, default "Id"
    if isinstance(keys, dict):
        keys.update(catalog.entity_keys())
    _import_routes(app, catalog)
    _job_routes(app, catalog)
    _admin_routes(app, catalog)


def _import_routes(app: FastAPI, catalog: NorceCatalog) -> None:
    for operation in OPERATIONS:
        _import_route(app, catalog, operation)


def _import_route(app: FastAPI, catalog: NorceCatalog, operation: str) -> None:
    async def handler(request: Request) -> Response:
        await apply_faults(request)
        require_bearer(request)
        connect_application_id(request)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in ("application/json", "text/json", "application/*+json"):  # as the Order service
            return JSONResponse({"title": "Unsupported Media Type", "status": 415}, status_code=415)
        try:
            header = parse_header(operation, request.headers.get("x-stormconnect-header"), catalog.account_ids)
        except HeaderError as exc:
            return _error(400, str(exc), "X-StormConnect-Header")
        try:
            items = parse_body(await request.body())
        except BodyError as exc:
            return _error(400, str(exc))
        response = catalog.submit(operation, header, items)
        return await finish(request, JSONResponse(_json(response)))

    handler.__name__ = f"connect_{operation}"
    app.add_api_route(f"{CONNECT}/Product/{operation}", handler, methods=["POST"], include_in_schema=True)


def _job_id(request: Request) -> int | Response:
    raw = next((v for k, v in request.query_params.items() if k.lower() == "id"), None)
    if raw is None:
        return _error(400, "The request is invalid: the parameter 'id' is required.", "id")
    text = raw.strip()
    if not text.lstrip("-").isdigit() or not -INT32_MAX - 1 <= int(text) <= INT32_MAX:
        return _error(400, f"The request is invalid: the value '{raw}' is not valid for id (Int32).", "id")
    return int(text)


def _job_routes(app: FastAPI, catalog: NorceCatalog) -> None:
    async def find(request: Request) -> Job | Response:
        """The job the ``id`` parameter names, or the error answer (after faults and the bearer check)."""
        await apply_faults(request)
        require_bearer(request)
        job_id = _job_id(request)
        if isinstance(job_id, Response):
            return job_id
        job = catalog.job(job_id)
        return _error(404, f"Job {job_id} was not found.") if job is None else job

    async def job_get(request: Request) -> Response:
        job = await find(request)
        return job if isinstance(job, Response) else await finish(request, JSONResponse(job.dto()))

    async def job_log(request: Request) -> Response:
        job = await find(request)
        if isinstance(job, Response):
            return job
        return await finish(request, JSONResponse([entry.dto() for entry in job.logs]))

    async def ping(request: Request) -> Response:
        await apply_faults(request)
        require_bearer(request)
        return JSONResponse("Pong")

    for prefix in (f"{CONNECT}/Job", f"{CONNECT}/api/Job"):
        app.add_api_route(f"{prefix}/Get", job_get, methods=["GET"])
        app.add_api_route(f"{prefix}/GetLog", job_log, methods=["GET"])
    app.add_api_route(f"{CONNECT}/Job/Ping", ping, methods=["GET"])


def _admin_routes(app: FastAPI, catalog: NorceCatalog) -> None:
    @app.get("/_sandbox/catalog")
    async def catalog_state() -> Response:
        return JSONResponse(_admin_json(catalog.snapshot()))

    @app.get("/_sandbox/catalog/faults")
    async def catalog_faults() -> Response:
        return JSONResponse(catalog.faults.as_dict())

    @app.post("/_sandbox/catalog/faults")
    async def set_catalog_faults(request: Request) -> Response:
        try:
            knobs = json.loads(await request.body() or b"{}")
            if not isinstance(knobs, dict):
                raise ValueError("send a JSON object of knobs")
            return JSONResponse(catalog.set_faults(**knobs))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    @app.delete("/_sandbox/catalog/faults")
    async def clear_catalog_faults() -> Response:
        catalog.clear_faults()
        return JSONResponse(catalog.faults.as_dict())

    @app.post("/_sandbox/catalog/jobs/advance")
    async def advance_jobs(steps: int = 1) -> Response:
        catalog.jobs.advance(steps)
        return JSONResponse([job.dto() for job in catalog.jobs.jobs.values()])

    @app.post("/_sandbox/catalog/jobs/process")
    async def process_jobs() -> Response:
        catalog.jobs.process_all()
        return JSONResponse([job.dto() for job in catalog.jobs.jobs.values()])
