"""Prices: one row per (price list, article, from-quantity); FromQuantity 0 is the base price."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import errors
from ..errors import bad_request, not_found
from ..query import ListSpec, page, select
from ..state import Company
from ..stock import price_key, refresh_article_stock
from ..validation import validate
from ..web import base_url, company_of, params_of, read_json, reply, with_url

router = APIRouter()
SPEC = ListSpec(plural="Prices", search={"articlenumber": "ArticleNumber", "pricelist": "PriceList"},
                sort={"articlenumber": "ArticleNumber"}, default_sort="articlenumber")


def _url(request: Request, price: dict[str, Any]) -> str:
    quantity = float(price["FromQuantity"])
    text = str(int(quantity)) if quantity.is_integer() else str(quantity)
    return (f"{base_url(request)}/3/prices/{quote(price['PriceList'], safe='')}/"
            f"{quote(price['ArticleNumber'], safe='')}/{text}")


def _render(request: Request, price: dict[str, Any]) -> dict[str, Any]:
    return with_url(copy.deepcopy(price), _url(request, price))


def _item(request: Request, price: dict[str, Any]) -> dict[str, Any]:
    return with_url({k: price[k] for k in ("ArticleNumber", "FromQuantity", "Price", "PriceList")}, _url(request, price))


def _get(company: Company, price_list: str, article: str, from_quantity: str) -> dict[str, Any]:
    try:
        key = price_key(price_list, article, from_quantity)
    except ValueError as exc:
        raise bad_request(errors.NOT_NUMERIC, from_quantity) from exc
    price = company.get("prices", key)
    if price is None:
        raise not_found("prices")
    return price


def _touch_article(company: Company, article: str) -> None:
    refresh_article_stock(company, only=article)
    if company.get("articles", article) is not None:
        company.put("articles", article, company.data["articles"][article])


def _sorted(company: Company) -> list[tuple[dict[str, Any], Any]]:
    items = [(p, company.modified_at("prices", k)) for k, p in company.data["prices"].items()]
    return sorted(items, key=lambda t: (t[0]["PriceList"], t[0]["ArticleNumber"], float(t[0]["FromQuantity"])))


@router.get("/3/prices")
async def list_prices(request: Request) -> Response:
    company = company_of(request)
    params, multi = params_of(request)
    with company.lock:
        rows, meta = page(select(_sorted(company), params, multi, SPEC), params)
        return reply({"MetaInformation": meta, "Prices": [_item(request, p) for p in rows]})


@router.get("/3/prices/sublist/{price_list}/{article}")
async def sublist(request: Request, price_list: str, article: str) -> Response:
    company = company_of(request)
    params, _ = params_of(request)
    with company.lock:
        if company.get("pricelists", price_list) is None:
            raise not_found("pricelists")
        chosen = [p for p, _ in _sorted(company) if p["PriceList"] == price_list and p["ArticleNumber"] == article]
        rows, meta = page(chosen, params)
        return reply({"MetaInformation": meta, "Prices": [_item(request, p) for p in rows]})


@router.post("/3/prices")
async def create_price(request: Request) -> Response:
    body = await read_json(request)
    company = company_of(request)
    given = validate("Price", body, create=True)
    with company.lock:
        if company.get("pricelists", given["PriceList"]) is None:
            raise not_found("pricelists")
        if company.get("articles", given["ArticleNumber"]) is None:
            raise bad_request(errors.NO_ARTICLE)
        from_quantity = float(given.get("FromQuantity", 0))
        key = price_key(given["PriceList"], given["ArticleNumber"], from_quantity)
        if company.get("prices", key) is not None:
            raise bad_request(errors.DUPLICATE_KEY, key.replace("\x1f", "/"))
        price = {"ArticleNumber": given["ArticleNumber"], "Date": company.clock.stamp(),
                 "FromQuantity": int(from_quantity) if from_quantity.is_integer() else from_quantity,
                 "Percent": given.get("Percent", 0), "Price": given.get("Price", 0), "PriceList": given["PriceList"]}
        company.put("prices", key, price)
        _touch_article(company, given["ArticleNumber"])
        return reply({"Price": _render(request, price)}, 201)


async def _update(request: Request, price_list: str, article: str, from_quantity: str) -> Response:
    body = await read_json(request)
    company = company_of(request)
    given = validate("Price", body, create=False)
    with company.lock:
        price = _get(company, price_list, article, from_quantity)
        for name in ("Price", "Percent"):
            if name in given:
                price[name] = given[name]
        price["Date"] = company.clock.stamp()
        company.put("prices", price_key(price_list, article, from_quantity), price)
        _touch_article(company, article)
        return reply({"Price": _render(request, price)})


@router.get("/3/prices/{price_list}/{article}")
async def get_base(request: Request, price_list: str, article: str) -> Response:
    company = company_of(request)
    with company.lock:
        return reply({"Price": _render(request, _get(company, price_list, article, "0"))})


@router.put("/3/prices/{price_list}/{article}")
async def put_base(request: Request, price_list: str, article: str) -> Response:
    return await _update(request, price_list, article, "0")


@router.get("/3/prices/{price_list}/{article}/{from_quantity}")
async def get_price(request: Request, price_list: str, article: str, from_quantity: str) -> Response:
    company = company_of(request)
    with company.lock:
        return reply({"Price": _render(request, _get(company, price_list, article, from_quantity))})


@router.put("/3/prices/{price_list}/{article}/{from_quantity}")
async def put_price(request: Request, price_list: str, article: str, from_quantity: str) -> Response:
    return await _update(request, price_list, article, from_quantity)


@router.delete("/3/prices/{price_list}/{article}/{from_quantity}")
async def delete_price(request: Request, price_list: str, article: str, from_quantity: str) -> Response:
    company = company_of(request)
    with company.lock:
        _get(company, price_list, article, from_quantity)
        company.delete("prices", price_key(price_list, article, from_quantity))
        _touch_article(company, article)
    return Response(status_code=204)
