"""The jetfort page: a FastAPI app the api-server mounts under ``/jetfort`` (see :mod:`jetfort.ui.plugin`).

Pages (server-rendered, Jinja2): ``/`` overview per tenant, ``/quarantine`` (filters tenant, shop,
reason; retry and dismiss), ``/trail?tenant=&key=<shop>:<order id>`` (one shop order across the
flows, with links to the DAG runs and task logs), ``/drift`` (the latest drift plots). JSON:
``GET /api/overview``, ``GET /api/quarantine``, ``POST /api/quarantine/retry`` ``{tenant, keys}``,
``POST /api/quarantine/dismiss`` ``{tenant, kind, key, note}``. Onboarding: ``/connect?tenant=`` and
``/oauth/callback`` (Fortnox's consent, :mod:`jetfort.ui.onboarding`) and ``/wizard`` (a new tenant's rules,
:mod:`jetfort.ui.wizard`), each with its JSON API under ``/api/``.

Every route needs an Airflow user; Airflow's auth manager decides what they see and may do
(:mod:`jetfort.ui.auth`). A retry is a run of the tenant's orders DAG with ``order_numbers`` in its
conf, created through Airflow's REST API with the user's own JWT (:mod:`jetfort.ui.airflow_api`).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import FastAPI, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from jetfort.ledger.store import Ledger
from jetfort.ui import data, onboarding, views, wizard
from jetfort.ui.airflow_api import AirflowApi, AirflowApiError
from jetfort.ui.auth import (
    CSRF_COOKIE,
    NotLoggedIn,
    User,
    Writer,
    access,
    csrf_key,
    csrf_token_valid,
    new_csrf_token,
    orders_dag,
    user_name,
    user_token,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
URL_PREFIX = "/jetfort"
SCRIPTS = frozenset({"jetfort.js", "wizard.js"})


class RetryBody(BaseModel):
    tenant: str = Field(min_length=1, max_length=40)
    keys: list[str] = Field(min_length=1, max_length=200)


class DismissBody(BaseModel):
    tenant: str = Field(min_length=1, max_length=40)
    kind: str = Field(min_length=1, max_length=32)
    key: str = Field(min_length=1, max_length=200)
    note: str = Field(min_length=1, max_length=2000)


class _Ledger:
    """The ledger, opened on first use (``jetfort_ledger`` connection, as tasks read it)."""

    def __init__(self, ledger: Ledger | None) -> None:
        self._ledger, self._lock = ledger, threading.Lock()

    def __call__(self) -> Ledger:
        with self._lock:
            if self._ledger is None:
                self._ledger = Ledger.from_conn_id()
            return self._ledger


@dataclass
class _Context:
    """What the routes share: the ledger, the templates, the CSRF key, where Airflow's API is."""

    ledger: _Ledger
    templates: Jinja2Templates
    key: bytes
    airflow_api_url: str

    def api_for(self, request: Request) -> AirflowApi:
        return AirflowApi(user_token(request), self.airflow_api_url)

    def page(self, request: Request, user: BaseUser, name: str, context: dict[str, Any]) -> Response:
        """A page, with this user's CSRF token in a meta tag and in its cookie (double submit)."""
        token = request.cookies.get(CSRF_COOKIE) or ""
        if not csrf_token_valid(self.key, str(user.get_id()), token):
            token = new_csrf_token(self.key, str(user.get_id()))
        response = self.templates.TemplateResponse(request, name, {
            **context, "user": user_name(user), "csrf": token, "root": request.scope.get("root_path", "")})
        response.set_cookie(CSRF_COOKIE, token, path=str(request.scope.get("root_path") or "/"), httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        response.headers["Cache-Control"] = "no-store"
        return response


def create_app(ledger: Ledger | None = None, airflow_api_url: str = "") -> FastAPI:
    """The app; ``ledger``/``airflow_api_url`` default to the deployment's (tests pass their own)."""
    app = FastAPI(title="jetfort", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False,
                                                               default=str)  # autoescaped like any text
    ctx = _Context(_Ledger(ledger), templates, csrf_key(), airflow_api_url)
    app.state.csrf_key = ctx.key

    @app.exception_handler(NotLoggedIn)
    async def _not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        if "/api/" in request.url.path:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=303)

    @app.get("/static/{name}")
    def script(name: str) -> Response:
        if name not in SCRIPTS:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no script {name}")
        return FileResponse(HERE / "static" / name, media_type="text/javascript")

    _pages(app, ctx)
    _actions(app, ctx)
    onboarding.routes(app, ctx.ledger, ctx.page)
    wizard.routes(app, ctx.ledger, ctx.page, ctx.api_for)
    return app


def _pages(app: FastAPI, ctx: _Context) -> None:
    """The pages and the read API."""
    get_ledger = ctx.ledger

    @app.get("/", response_class=HTMLResponse)
    async def overview_page(request: Request, user: User) -> Response:
        tenants = await views.overview(user, ctx.api_for(request), get_ledger())
        return ctx.page(request, user, "overview.html", {"tenants": tenants, "dag_link": views.ui_root() + "dags/"})

    @app.get("/api/overview")
    async def overview_api(request: Request, user: User) -> list[dict[str, Any]]:
        return views.overview_json(await views.overview(user, ctx.api_for(request), get_ledger()))

    @app.get("/quarantine", response_class=HTMLResponse)
    def quarantine_page(request: Request, user: User, tenant: str = "", shop: str = "", reason: str = "") -> Response:
        found = views.quarantine(user, get_ledger(), {"tenant": tenant, "shop": shop, "reason": reason})
        return ctx.page(request, user, "quarantine.html", found)

    @app.get("/api/quarantine")
    def quarantine_api(user: User, tenant: str = "", shop: str = "", reason: str = "") -> list[dict[str, Any]]:
        found = views.quarantine(user, get_ledger(), {"tenant": tenant, "shop": shop, "reason": reason})
        return [{**e.as_json(), "may_retry": found["access"][e.tenant].retry and e.kind == data.ORDER_KIND,
                 "may_dismiss": found["access"][e.tenant].dismiss} for e in found["entries"]]

    @app.get("/trail", response_class=HTMLResponse)
    def trail_page(request: Request, user: User, tenant: Annotated[str, Query(min_length=1)],
                   key: Annotated[str, Query(min_length=1)]) -> Response:
        if not access(user, tenant).read:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not read tenant {tenant}'s DAGs")
        return ctx.page(request, user, "trail.html", views.trail(get_ledger(), tenant, key))

    @app.get("/drift", response_class=HTMLResponse)
    def drift_page(request: Request, user: User) -> Response:
        return ctx.page(request, user, "drift.html", {"plots": views.drift(user, get_ledger())})

    @app.get("/drift/{tenant}.png")
    def drift_plot(user: User, tenant: str) -> Response:
        if not access(user, tenant).read:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not read tenant {tenant}'s DAGs")
        plot = views.latest_plot(tenant)
        if plot is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"tenant {tenant} has no drift report yet")
        return FileResponse(plot, media_type="image/png")


def _actions(app: FastAPI, ctx: _Context) -> None:
    """Retry and dismiss (writes: same origin and the user's CSRF token, then the auth manager's permission)."""
    get_ledger = ctx.ledger

    @app.post("/api/quarantine/retry")
    async def retry(request: Request, user: Writer, body: RetryBody) -> dict[str, Any]:
        if not access(user, body.tenant).retry:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"you may not trigger runs of {orders_dag(body.tenant)} (tenant {body.tenant})")
        ledger = get_ledger()
        numbers = []
        for source_key in dict.fromkeys(body.keys):
            entries = data.open_entries(ledger, [body.tenant], kind=data.ORDER_KIND, source_key=source_key)
            if not entries or not entries[0].order_number:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"tenant {body.tenant}: {source_key!r} is no open "
                                    "quarantined shop order with an order number (only orders can be retried)")
            numbers.append(entries[0].order_number)
        dag = orders_dag(body.tenant)
        try:
            run = await ctx.api_for(request).trigger(dag, {"order_numbers": numbers},
                                                 f"retry of {', '.join(numbers)} from the jetfort page by "
                                                 f"{user_name(user)}")
        except AirflowApiError as exc:
            raise HTTPException(exc.status_code if exc.status_code in (401, 403, 404, 409) else 502, str(exc)) from None
        for source_key in dict.fromkeys(body.keys):
            data.note_retry(ledger, body.tenant, source_key, by=user_name(user), dag_run_id=str(run["dag_run_id"]))
        return {"dag_id": dag, "dag_run_id": run["dag_run_id"], "state": run.get("state"), "order_numbers": numbers,
                "run_link": views.run_link(dag, str(run["dag_run_id"]))}

    @app.post("/api/quarantine/dismiss")
    def dismiss(user: Writer, body: DismissBody) -> dict[str, Any]:
        if not body.note.strip():
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "a dismissal needs a note saying why")
        if not access(user, body.tenant).dismiss:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"you may not edit {orders_dag(body.tenant)} (tenant {body.tenant})")
        try:
            return data.dismiss(get_ledger(), body.tenant, body.kind, body.key, note=body.note.strip(),
                                by=user_name(user))
        except data.NotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
