"""The rules wizard: a new tenant's rules built on a form, checked by ``TenantRules`` as the user types,
shown as the JSON that will be saved, and saved as the tenant's Variable through Airflow's REST API as
the logged-in user (so Airflow's auth manager decides, and its audit log names the user). The tenant's
DAGs then appear at the DAG processor's next parse; no other command is needed.

Live reads fill the form's choices: the shop's order statuses, channels and price lists
(``POST /api/wizard/shop``) and Fortnox's active sales accounts and price lists (``POST /api/wizard/fortnox``,
after Fortnox is connected). Each read is the backend's or the Fortnox hook's own call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from jetfort.factory import dag_id, load_tenants
from jetfort.fortnox.errors import FortnoxError
from jetfort.fortnox.hook import FortnoxHook
from jetfort.ledger.store import Ledger
from jetfort.rules import RulesError, parse_tenant
from jetfort.rules.files import TENANT_ID_PATTERN, VARIABLE_PREFIX
from jetfort.shop import backend_class
from jetfort.ui.airflow_api import AirflowApi, AirflowApiError
from jetfort.ui.auth import User, Writer, may_onboard, user_name

Page = Callable[[Request, Any, str, dict[str, Any]], Response]
SALES_ACCOUNTS = range(3000, 4000)  # BAS: revenue accounts


class RulesBody(BaseModel):
    tenant: str = Field(min_length=1, max_length=40)
    rules: dict[str, Any]


class ShopBody(BaseModel):
    backend: Literal["jetshop", "norce"]
    conn_id: str = Field(min_length=1, max_length=250)


class FortnoxBody(BaseModel):
    conn_id: str = Field(min_length=1, max_length=250)


def check(tenant: str, rules: dict[str, Any]) -> list[dict[str, str]]:
    """Every problem of the rules, each with its field path (``shops[0].channels[0].currency``)."""
    try:
        parse_tenant(tenant, rules)
    except RulesError as exc:
        return [{"path": path, "message": message} for path, message in exc.problems]
    return []


def _onboarder(user: Any, tenant: str) -> None:
    if not may_onboard(user, tenant):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not create Variable {VARIABLE_PREFIX}{tenant}")


def routes(app: FastAPI, get_ledger: Callable[[], Ledger], page: Page, api_for: Callable[[Request], AirflowApi]) -> None:
    @app.get("/wizard", response_class=HTMLResponse)
    def wizard_page(request: Request, user: User, tenant: str = "") -> Response:
        return page(request, user, "wizard.html", {"tenant": tenant, "pattern": TENANT_ID_PATTERN,
                                                   "may_save": may_onboard(user, tenant or "new")})

    @app.post("/api/wizard/validate")
    def validate(user: User, body: RulesBody) -> dict[str, Any]:
        errors = check(body.tenant, body.rules)
        return {"ok": not errors, "errors": errors, "exists": body.tenant in _all_tenants()}

    @app.post("/api/wizard/shop")
    def read_shop(user: Writer, body: ShopBody) -> dict[str, Any]:
        _onboarder(user, "new")
        backend = backend_class(body.backend)(body.conn_id, ledger=get_ledger())  # type: ignore[call-arg]
        try:
            connected, message = backend.test_connection()
            if not connected:
                raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{body.backend} connection {body.conn_id!r}: "
                                                                 f"{message}")
            statuses = backend.get_statuses()
            channels = backend.get_channels()
            price_lists = backend.known_price_lists()
        finally:
            backend.close()
        return {"statuses": [{"id": s.status_id, "name": s.name} for s in statuses],
                "channels": [{"channel_id": c.channel_id, "name": c.name, "culture": c.culture,
                              "currency": c.currency, "price_list": c.price_list_id} for c in channels],
                "price_lists": sorted(price_lists) if price_lists is not None else None}

    @app.post("/api/wizard/fortnox")
    def read_fortnox(user: Writer, body: FortnoxBody) -> dict[str, Any]:
        _onboarder(user, "new")
        hook = FortnoxHook(body.conn_id, ledger=get_ledger())
        try:
            accounts = [a for a in hook.list_accounts() if a.active is not False and a.number in SALES_ACCOUNTS]
            price_lists = hook.list_price_lists()
        except FortnoxError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Fortnox connection {body.conn_id!r}: {exc} (connect "
                                                             "Fortnox first)") from None
        except Exception as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Fortnox connection {body.conn_id!r}: {exc}") from None
        finally:
            hook.close()
        return {"accounts": [{"number": a.number, "description": a.description} for a in accounts],
                "price_lists": [{"code": p.code, "description": p.description} for p in price_lists]}

    @app.post("/api/wizard/save")
    async def save(request: Request, user: Writer, body: RulesBody) -> dict[str, Any]:
        _onboarder(user, body.tenant)
        errors = check(body.tenant, body.rules)
        if errors:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, errors)
        if body.tenant in _all_tenants():
            raise HTTPException(status.HTTP_409_CONFLICT, f"tenant {body.tenant} exists already; the wizard adds new "
                                                          "tenants only (edit the Variable to change its rules)")
        key = f"{VARIABLE_PREFIX}{body.tenant}"
        try:
            await api_for(request).create_variable(key, json.dumps(body.rules, indent=2, ensure_ascii=False),
                                                   f"jetfort tenant rules, from the wizard by {user_name(user)}")
        except AirflowApiError as exc:
            raise HTTPException(exc.status_code if exc.status_code in (401, 403, 409) else 502, str(exc)) from None
        return {"variable": key, "orders_dag": dag_id(body.tenant, "orders"), "connect": f"connect?tenant={body.tenant}"}


def _all_tenants() -> set[str]:
    rules, errors = load_tenants()
    return set(rules) | set(errors)

