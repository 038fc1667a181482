"""HTTP side of :mod:`.oauth`: ``/oauth-v1/auth``, ``/oauth-v1/token``, ``/oauth-v1/revoke``.

Fortnox serves these from apps.fortnox.se; the sandbox serves them from the same host as the API,
so a client's token URL is ``<sandbox>/oauth-v1/token``. ``/auth`` shows a consent page, as Fortnox
does after its login, with a company picker (Fortnox asks a user of several companies which one; the
sandbox lists all its companies, preselecting the sandbox-only ``tenant_id`` parameter, else the
default company); its form posts to ``/consent``, which redirects with ``code`` and ``state``, or
with ``error=access_denied``. There is no login: whoever opens the page is the company's administrator.
[I] Fortnox's answers to a bad ``scope`` or a missing ``state`` are not recorded: the sandbox redirects
with ``error=invalid_scope`` (OAuth 2's code) and refuses a missing ``state`` with 400.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .oauth import ConsentRequest, OAuthError
from .web import dumps

router = APIRouter(prefix="/oauth-v1")


def _error(exc: OAuthError) -> Response:
    # Fortnox answered the recorded invalid_client 401 as text/plain with a JSON body
    media = "text/plain;charset=UTF-8" if exc.status == 401 else "application/json"
    return Response(dumps(exc.body()), status_code=exc.status, media_type=media)


async def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


@router.post("/token")
async def token(request: Request) -> Response:
    sandbox = request.app.state.sandbox
    try:
        body = sandbox.oauth.token(request.headers.get("authorization"), await _form(request),
                                   request.headers.get("tenantid"))
    except OAuthError as exc:
        return _error(exc)
    return Response(dumps(body), media_type="application/json",
                    headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.post("/revoke")
async def revoke(request: Request) -> Response:
    sandbox = request.app.state.sandbox
    try:
        body = sandbox.oauth.revoke(request.headers.get("authorization"), await _form(request))
    except OAuthError as exc:
        return _error(exc)
    return Response(dumps(body), media_type="application/json")


def _bad_request(description: str) -> Response:
    return Response(dumps({"error": "invalid_request", "error_description": description}), status_code=400,
                    media_type="application/json")


def _redirect(target: str, query: dict[str, str]) -> RedirectResponse:
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}{urlencode(query)}", status_code=302)


@router.get("/auth")
async def authorize(request: Request) -> Response:
    """Fortnox's consent screen: which company, which integration, which scopes; approve or deny."""
    sandbox = request.app.state.sandbox
    params = request.query_params
    client = sandbox.oauth.clients.get(params.get("client_id", ""))
    if client is None or params.get("response_type") != "code":
        return _bad_request("Unknown client or response type")
    raw_tenant = params.get("tenant_id", str(sandbox.default.tenant_id))
    if not raw_tenant.isdigit() or int(raw_tenant) not in sandbox.companies:
        return _bad_request("Unknown tenant")
    tenant_id = int(raw_tenant)
    given = params.get("redirect_uri") or None
    if given and client.redirect_uri and given != client.redirect_uri:
        return _bad_request("redirect_uri does not match the one registered for the client")
    redirect_to = given or client.redirect_uri
    if not redirect_to:
        return _bad_request("Missing redirect_uri")
    state = params.get("state", "")
    if not state:
        return _bad_request("Missing state")
    scopes = tuple(dict.fromkeys(params.get("scope", "").split()))
    unknown = [s for s in scopes if s not in client.scopes]
    if not scopes or unknown:
        return _redirect(redirect_to, {"error": "invalid_scope", "state": state, "error_description":
                                       f"Scopes not available to the integration: {' '.join(unknown) or '(none asked)'}"})
    asked = sandbox.oauth.ask_consent(client.client_id, tenant_id, scopes, redirect_uri=given, redirect_to=redirect_to,
                                      state=state, service_account=params.get("account_type") == "service")
    companies = {t: c.name for t, c in sandbox.companies.items()}
    return HTMLResponse(_consent_page(asked, companies),
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


@router.post("/consent")
async def answer(request: Request) -> Response:
    """The consent form's answer: redirect to the integration with a code, or with ``access_denied``."""
    form = await _form(request)
    sandbox = request.app.state.sandbox
    chosen = form.get("tenant_id", "")
    if chosen and (not chosen.isdigit() or int(chosen) not in sandbox.companies):
        return _bad_request("Unknown tenant")
    try:
        asked, query = sandbox.oauth.answer_consent(form.get("request", ""), approve=form.get("decision") == "approve",
                                                    tenant_id=int(chosen) if chosen else None)
    except OAuthError as exc:
        return _error(exc)
    return _redirect(asked.redirect_to, query)


def _consent_page(asked: ConsentRequest, companies: dict[int, str]) -> str:
    """The page: the company (Fortnox asks a user with several which one; the sandbox lists them all)."""
    scopes = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in asked.scopes)
    options = "".join(f'<option value="{t}"{" selected" if t == asked.tenant_id else ""}>{html.escape(name)} '
                      f"(tenant {t})</option>" for t, name in sorted(companies.items()))
    kind = ("a service account (the integration acts without a user)" if asked.service_account
            else "your user")
    return f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Fortnox - Godkänn integration</title></head>
<body>
<h1>Godkänn integration</h1>
<p>The integration <strong id="client">{html.escape(asked.client_id)}</strong> asks for access to
the company below as {kind}, with these scopes:</p>
<ul id="scopes">{scopes}</ul>
<form method="post" action="consent">
<label>Company <select name="tenant_id" id="company">{options}</select></label>
<input type="hidden" name="request" value="{html.escape(asked.request_id)}">
<button type="submit" name="decision" value="approve">Godkänn</button>
<button type="submit" name="decision" value="deny">Avbryt</button>
</form>
</body></html>
"""
