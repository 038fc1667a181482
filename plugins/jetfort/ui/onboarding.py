"""Connect Fortnox from the jetfort page: ``/connect?tenant=`` shows what the consent will ask for,
``POST /api/connect`` starts it (the state bound to the logged-in user), ``/oauth/callback`` is where
Fortnox sends the user back (register it as the integration's redirect URI in Fortnox's developer
portal: ``<Airflow base URL>/jetfort/oauth/callback``).

Who may connect is the auth manager's answer for editing the tenant's Fortnox connection. The refresh
token goes from Fortnox's answer straight into the ledger, encrypted (:mod:`jetfort.onboard.consent`);
no page shows it and no URL carries it (the callback's URL holds only the single-use code and the state).

Right after the consent, and on demand (``POST /api/prerequisites``), the page runs the pre-flight's
checks and lists what Fortnox or the shops lack (:func:`jetfort.tasks.preflight.findings`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from airflow.configuration import conf
from fastapi import FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from jetfort.factory import load_tenants
from jetfort.ledger.store import Ledger
from jetfort.onboard.consent import ConsentRefused, FortnoxConsent
from jetfort.onboard.scopes import fortnox_scopes, scopes_for
from jetfort.rules import TenantRules
from jetfort.tasks.preflight import findings
from jetfort.tasks.runtime import TenantRuntime
from jetfort.ui import data
from jetfort.ui.auth import User, Writer, access, may_connect, may_onboard, user_name

CALLBACK = "/oauth/callback"
Page = Callable[[Request, Any, str, dict[str, Any]], Response]


class ConnectBody(BaseModel):
    """Connect a tenant with rules, or a new one from the wizard (its connection, flow and document)."""

    tenant: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]{1,40}$")
    service_account: bool = False
    fortnox_conn_id: str | None = Field(default=None, max_length=250)
    flow: Literal["ecom", "erp", "combo"] | None = None
    document: Literal["order", "invoice"] | None = None


class TenantBody(BaseModel):
    tenant: str = Field(min_length=1, max_length=40)


def prerequisites(rules: TenantRules, ledger: Ledger) -> dict[str, Any]:
    """The pre-flight's findings, checked now: what Fortnox (modules, scopes, accounts, currencies, price
    lists) and each shop (statuses, channels) lack that the rules use."""
    try:
        gaps, warnings = findings(TenantRuntime(rules, ledger=ledger))
    except Exception as exc:  # e.g. no token yet: shown as the one finding
        return {"gaps": [f"the check could not run: {exc}"], "warnings": []}
    return {"gaps": gaps, "warnings": warnings}


def _no_rules(tenant: str, errors: Mapping[str, Exception]) -> HTTPException:
    """Why the tenant has no usable rules: its Variable does not validate (422), or there is none (404)."""
    if tenant in errors:
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"tenant {tenant}'s rules do not validate: "
                                                                    f"{errors[tenant]}")
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no tenant {tenant} (no jetfort_tenant_{tenant} Variable)")


def _rules(tenant: str) -> TenantRules:
    rules, errors = load_tenants()
    if tenant not in rules:
        raise _no_rules(tenant, errors)
    return rules[tenant]


def callback_url(request: Request) -> str:
    """Where Fortnox sends the user back: this app's callback (under the path it is mounted at), on
    ``[api] base_url``'s origin when set, else on this request's."""
    origin = urlsplit(str(request.base_url))
    base = conf.get("api", "base_url", fallback="") or ""
    if base.startswith(("http://", "https://")):
        origin = urlsplit(base)
    return urlunsplit((origin.scheme, origin.netloc, f"{request.scope.get('root_path') or ''}{CALLBACK}", "", ""))


def routes(app: FastAPI, get_ledger: Callable[[], Ledger], page: Page) -> None:
    @app.get("/connect", response_class=HTMLResponse)
    def connect_page(request: Request, user: User, tenant: str = Query(min_length=1)) -> Response:
        if not access(user, tenant).read:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not read tenant {tenant}'s DAGs")
        rules = _rules(tenant)
        ledger = get_ledger()
        flow = FortnoxConsent(ledger)
        try:
            company = flow.hook(rules.fortnox_conn_id).settings.company
            problem = None
        except Exception as exc:  # a connection that cannot be read is shown, not a 500
            company, problem = rules.fortnox_conn_id, f"connection {rules.fortnox_conn_id!r} cannot be read " \
                                                      f"({type(exc).__name__})"
        return page(request, user, "connect.html", {
            "tenant": tenant, "conn_id": rules.fortnox_conn_id, "company": company, "problem": problem,
            "scopes": fortnox_scopes(rules), "may_connect": may_connect(user, tenant, rules.fortnox_conn_id),
            "tokens": data.token_health(ledger, company), "consents": flow.recent(tenant),
            "callback": callback_url(request)})

    @app.post("/api/connect")
    def start(request: Request, user: Writer, body: ConnectBody) -> dict[str, Any]:
        known, errors = load_tenants()
        if body.tenant in known:
            rules = known[body.tenant]
            conn_id, scopes = rules.fortnox_conn_id, fortnox_scopes(rules)
        elif body.fortnox_conn_id and body.flow and body.document:
            if not may_onboard(user, body.tenant):
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not create the Variable of a new tenant "
                                                               f"({body.tenant})")
            conn_id, scopes = body.fortnox_conn_id, scopes_for(body.flow, body.document)
        else:
            raise _no_rules(body.tenant, errors)
        if not may_connect(user, body.tenant, conn_id):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not edit connection {conn_id} "
                                                           f"(tenant {body.tenant})")
        try:
            started = FortnoxConsent(get_ledger()).begin_for(body.tenant, conn_id, scopes, user_id=str(user.get_id()),
                                                             redirect_uri=callback_url(request),
                                                             service_account=body.service_account)
        except ConsentRefused as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
        return {"url": started.url, "scopes": list(started.scopes), "expires_at": started.expires_at.isoformat()}

    @app.post("/api/prerequisites")
    def check(user: Writer, body: TenantBody) -> dict[str, Any]:
        if not access(user, body.tenant).read:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not read tenant {body.tenant}'s DAGs")
        return prerequisites(_rules(body.tenant), get_ledger())

    @app.get(CALLBACK, response_class=HTMLResponse)
    def fortnox_callback(request: Request, user: User, state: str = "", code: str | None = None,
                         error: str | None = None, error_description: str | None = None) -> Response:
        flow = FortnoxConsent(get_ledger())
        try:
            connected = flow.complete(user_id=str(user.get_id()), state=state, code=code, error=error,
                                      error_description=error_description,
                                      allowed=lambda tenant, conn_id: may_connect(user, tenant, conn_id))
        except ConsentRefused as exc:
            answer = page(request, user, "connected.html", {"refused": str(exc), "reason": exc.reason})
            answer.status_code = status.HTTP_403_FORBIDDEN if exc.reason in ("foreign_user", "forbidden") else 400
            return answer
        known, _errors = load_tenants()
        found = prerequisites(known[connected.tenant], get_ledger()) if connected.tenant in known else None
        return page(request, user, "connected.html", {"connected": connected, "by": user_name(user),
                                                      "prerequisites": found})
