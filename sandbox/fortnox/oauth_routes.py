"""HTTP side of :mod:`.oauth`: ``/oauth-v1/auth``, ``/oauth-v1/token``, ``/oauth-v1/revoke``.

Fortnox serves these from apps.fortnox.se; the sandbox serves them from the same host as the API,
so a client's token URL is ``<sandbox>/oauth-v1/token``. The consent screen is skipped: ``/auth``
approves at once for the company named by the sandbox-only ``tenant_id`` parameter (default: the
default company) and redirects with ``code`` and ``state``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from .oauth import OAuthError
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


@router.get("/auth")
async def authorize(request: Request) -> Response:
    sandbox = request.app.state.sandbox
    params = request.query_params
    client = sandbox.oauth.clients.get(params.get("client_id", ""))
    if client is None or params.get("response_type") != "code":
        return Response(dumps({"error": "invalid_request", "error_description": "Unknown client or response type"}),
                        status_code=400, media_type="application/json")
    tenant_id = int(params.get("tenant_id", sandbox.default.tenant_id))
    if tenant_id not in sandbox.companies:
        return Response(dumps({"error": "invalid_request", "error_description": "Unknown tenant"}),
                        status_code=400, media_type="application/json")
    redirect_uri = params.get("redirect_uri") or client.redirect_uri
    if not redirect_uri:
        return Response(dumps({"error": "invalid_request", "error_description": "Missing redirect_uri"}),
                        status_code=400, media_type="application/json")
    if params.get("account_type") == "service":
        sandbox.oauth.consent(client.client_id, tenant_id, service_account=True)
    code = sandbox.oauth.mint_code(client.client_id, tenant_id, params.get("redirect_uri"))
    query = urlencode({"code": code, "state": params.get("state", "")})
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)
