"""Warehouse stock balance: ``/api/warehouse/status-v1/stockbalance`` (camelCase, a bare JSON array).

The official file declares a single object, but its description says "A list of StockBalances" and
the clients that use it (Fortnox's C# SDK) read an array; the sandbox returns the array.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import stock
from ..web import company_of, reply

router = APIRouter()


def _split(raw: str | None) -> set[str] | None:
    if not raw:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


@router.get("/api/warehouse/status-v1/stockbalance")
async def stock_balance(request: Request) -> Response:
    company = company_of(request)
    items = _split(request.query_params.get("itemIds"))
    points = _split(request.query_params.get("stockPointCodes"))
    with company.lock:
        return reply(stock.balances(company, items, points))
