"""``/_sandbox/...``: the control panel for tests, benchmarks and the demo (no auth, no budget).

- ``POST /_sandbox/companies`` {name?, seed?, empty?, client_id?, client_secret?, redirect_uri?}
  → {tenant_id, client_id, client_secret, refresh_token, authorization_code}
- ``POST /_sandbox/companies/{tenant}/clients`` {client_id?, client_secret?, redirect_uri?} → a second
  integration on an existing company (own credentials, own request budget)
- ``GET /_sandbox/companies`` → every company with its document counts
- ``POST /_sandbox/tokens`` {tenant_id, client_id?, kind: refresh|access|code, ttl?} → {token}
- ``POST /_sandbox/tokens/expire`` {tenant_id?} → expire every live access token (of a company)
- ``GET|PUT|DELETE /_sandbox/faults`` → read / change (partial) / clear the fault plan (API routes)
- ``GET|PUT /_sandbox/oauth-faults`` → the same knobs for ``/oauth-v1/*`` (cleared by DELETE faults)
- ``GET|PUT /_sandbox/ratelimit`` {limit?, window?}
- ``GET /_sandbox/companies/{tenant}/counts`` · ``/stats`` · ``/state/{collection}`` ·
  ``PUT /_sandbox/companies/{tenant}/stock`` {itemId, stockPointCode?, inStock, reserved?}
- ``GET /_sandbox/secrets`` → every client secret, code and token ever issued (leak searches)
- ``GET /_sandbox/requests?limit=`` → the request log; ``POST /_sandbox/reset``; ``POST /_sandbox/clock`` {advance}
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from .stock import refresh_article_stock

router = APIRouter(prefix="/_sandbox")


def _sb(request: Request) -> Any:
    return request.app.state.sandbox


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise HTTPException(422, "body must be JSON") from exc
    if not isinstance(data, dict):
        raise HTTPException(422, "body must be a JSON object")
    return data


def _tenant(request: Request, tenant_id: int) -> Any:
    sandbox = _sb(request)
    if tenant_id not in sandbox.companies:
        raise HTTPException(404, f"no company {tenant_id}")
    return sandbox


@router.post("/companies")
async def create_company(request: Request) -> JSONResponse:
    body = await _body(request)
    allowed = {"name", "seed", "empty", "client_id", "client_secret", "redirect_uri"}
    unknown = set(body) - allowed
    if unknown:
        raise HTTPException(422, f"unknown fields {sorted(unknown)}; allowed {sorted(allowed)}")
    credentials = _sb(request).create_company(**body)
    return JSONResponse(credentials.as_dict(), status_code=201)


@router.post("/companies/{tenant_id}/clients")
async def add_client(request: Request, tenant_id: int) -> JSONResponse:
    body = await _body(request)
    allowed = {"client_id", "client_secret", "redirect_uri"}
    if set(body) - allowed:
        raise HTTPException(422, f"unknown fields {sorted(set(body) - allowed)}; allowed {sorted(allowed)}")
    credentials = _tenant(request, tenant_id).add_client(tenant_id, **body)
    return JSONResponse(credentials.as_dict(), status_code=201)


@router.get("/companies")
async def list_companies(request: Request) -> dict[str, Any]:
    sandbox = _sb(request)
    return {"default_tenant_id": sandbox.default.tenant_id,
            "companies": [{"tenant_id": c.tenant_id, "name": c.name, "counts": c.counts()}
                          for c in sandbox.companies.values()]}


@router.post("/tokens")
async def mint_token(request: Request) -> dict[str, Any]:
    body = await _body(request)
    sandbox = _sb(request)
    tenant_id = int(body.get("tenant_id", sandbox.default.tenant_id))
    _tenant(request, tenant_id)
    client_id = body.get("client_id", sandbox.default.client_id)
    if client_id not in sandbox.oauth.clients:
        raise HTTPException(404, f"no client {client_id}")
    kind = body.get("kind", "refresh")
    if kind == "refresh":
        token = sandbox.oauth.mint_refresh_token(client_id, tenant_id)
    elif kind == "access":
        token = sandbox.oauth.mint_access_token(client_id, tenant_id, body.get("ttl"))
    elif kind == "code":
        token = sandbox.oauth.mint_code(client_id, tenant_id, body.get("redirect_uri"))
    else:
        raise HTTPException(422, "kind must be refresh, access or code")
    return {"token": token, "kind": kind, "tenant_id": tenant_id, "client_id": client_id}


@router.post("/tokens/expire")
async def expire_tokens(request: Request) -> dict[str, int]:
    body = await _body(request)
    tenant = body.get("tenant_id")
    return {"expired": _sb(request).oauth.expire_all(None if tenant is None else int(tenant))}


@router.get("/faults")
async def get_faults(request: Request) -> dict[str, Any]:
    sandbox = _sb(request)
    return {"plan": sandbox.faults.plan.as_dict(), "fired": dict(sandbox.faults.counts)}


@router.put("/faults")
async def set_faults(request: Request) -> dict[str, Any]:
    body = await _body(request)
    try:
        plan = _sb(request).set_faults(**body)
    except TypeError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"plan": plan.as_dict()}


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    _sb(request).clear_faults()
    return {"plan": _sb(request).faults.plan.as_dict()}


@router.get("/oauth-faults")
async def get_oauth_faults(request: Request) -> dict[str, Any]:
    sandbox = _sb(request)
    return {"plan": sandbox.oauth_faults.plan.as_dict(), "fired": dict(sandbox.oauth_faults.counts)}


@router.put("/oauth-faults")
async def set_oauth_faults(request: Request) -> dict[str, Any]:
    body = await _body(request)
    try:
        plan = _sb(request).oauth_faults.update(**body)
    except TypeError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"plan": plan.as_dict()}


@router.get("/ratelimit")
async def get_ratelimit(request: Request) -> dict[str, Any]:
    limiter = _sb(request).limiter
    return {"limit": limiter.limit, "window": limiter.window}


@router.put("/ratelimit")
async def set_ratelimit(request: Request) -> dict[str, Any]:
    body = await _body(request)
    limiter = _sb(request).limiter
    limiter.configure(body.get("limit"), body.get("window"))
    return {"limit": limiter.limit, "window": limiter.window}


@router.get("/companies/{tenant_id}/counts")
async def counts(request: Request, tenant_id: int) -> dict[str, int]:
    return _tenant(request, tenant_id).counts(tenant_id)


@router.get("/companies/{tenant_id}/stats")
async def stats(request: Request, tenant_id: int, timestamps: bool = False) -> dict[str, Any]:
    sandbox = _tenant(request, tenant_id)
    out = sandbox.stats(tenant_id)
    if timestamps:
        out["accepted_timestamps"] = sandbox.limiter.timestamps(tenant_id)
    return out


@router.get("/companies/{tenant_id}/state/{collection}")
async def state(request: Request, tenant_id: int, collection: str) -> dict[str, Any]:
    company = _tenant(request, tenant_id).company(tenant_id)
    if collection == "stock":
        return {"stock": [{"itemId": i, "stockPointCode": p, "inStock": v[0], "reserved": v[1]}
                          for (i, p), v in sorted(company.stock.items())]}
    if collection not in company.data:
        raise HTTPException(404, f"no collection {collection}; known {sorted(company.data)}")
    with company.lock:
        return {collection: company.snapshot(collection)}


@router.put("/companies/{tenant_id}/stock")
async def set_stock(request: Request, tenant_id: int) -> dict[str, Any]:
    body = await _body(request)
    company = _tenant(request, tenant_id).company(tenant_id)
    item = str(body["itemId"])
    with company.lock:
        article = company.get("articles", item)
        if article is None:
            raise HTTPException(404, f"no article {item}")
        company.stock[(item, str(body.get("stockPointCode", "LAGER1")))] = [float(body["inStock"]),
                                                                            float(body.get("reserved", 0))]
        article["StockGoods"] = True
        refresh_article_stock(company, only=item)
        company.put("articles", item, article)
    return {"ok": True}


@router.get("/secrets")
async def issued_secrets(request: Request) -> dict[str, Any]:
    """Every client secret, code and token the sandbox ever issued (a leak search looks for them)."""
    issued = _sb(request).oauth.issued()
    return {"kinds": [kind for kind, _ in issued], "secrets": [value for _, value in issued]}


@router.get("/requests")
async def requests_log(request: Request, limit: int = 200) -> dict[str, Any]:
    log = list(_sb(request).request_log)
    return {"total": len(log), "requests": log[-limit:]}


@router.post("/reset")
async def reset(request: Request) -> dict[str, bool]:
    _sb(request).reset()
    return {"ok": True}


@router.post("/clock")
async def clock(request: Request) -> dict[str, float]:
    body = await _body(request)
    sandbox = _sb(request)
    sandbox.clock.advance(float(body.get("advance", 0)))
    return {"offset": sandbox.clock.offset}
