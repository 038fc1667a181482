"""Stock: balances per stock point, reservations by open orders, and the article figures from them.

Without Fortnox's warehouse module an article's stock is one figure; the sandbox keeps it per stock
point (default ``LAGER1``) so the warehouse stock-balance route has something to show. Open orders
(neither invoiced nor cancelled) reserve their ordered quantity [I]; invoicing takes the delivered
quantity out of stock, cancelling an invoice puts it back. ``DisposableQuantity`` (and the warehouse
``availableStock``) = in stock - reserved. Only article writes move an article's ``lastmodified``.
"""

from __future__ import annotations

from typing import Any

from . import totals
from .state import Company

DEFAULT_POINT = "LAGER1"


def price_key(price_list: str, article: str, from_quantity: float | str) -> str:
    quantity = float(from_quantity)
    text = str(int(quantity)) if quantity.is_integer() else str(quantity)
    return f"{price_list}\x1f{article}\x1f{text}"


def reserved_by_orders(company: Company, article: str) -> float:
    total = 0.0
    for order in company.data["orders"].values():
        if order.get("Cancelled") or order.get("InvoiceReference", "0") != "0":
            continue
        for row in order.get("OrderRows", []):
            if row.get("ArticleNumber") == article:
                total += float(row.get("OrderedQuantity") or 0)
    return total


def refresh_article_stock(company: Company, only: str | None = None) -> None:
    """Keep Article QuantityInStock/Reserved/Disposable/StockValue/SalesPrice in step."""
    for number, article in company.data["articles"].items():
        if only is not None and number != only:
            continue
        points = [v for (item, _), v in company.stock.items() if item == number]
        if points:
            in_stock = sum(v[0] for v in points)
            reserved = sum(v[1] for v in points) + (reserved_by_orders(company, number) if article.get("StockGoods") else 0)
            article["QuantityInStock"] = totals.quantity(in_stock)
            article["ReservedQuantity"] = totals.quantity(reserved)
            article["DisposableQuantity"] = totals.quantity(in_stock - reserved)
            article["StockValue"] = round(in_stock * float(article.get("PurchasePrice") or 0), 2)
        base = company.data["prices"].get(price_key("A", number, 0))
        article["SalesPrice"] = base["Price"] if base else None


def refresh_articles(company: Company, numbers: set[str]) -> None:
    """Recompute the figures of some articles. Their ``lastmodified`` does not move: that stock
    changes re-stamp the article is not documented, so a client must not count on it [I]."""
    for number in sorted(numbers):
        refresh_article_stock(company, only=number)


def deliver(company: Company, rows: list[dict[str, Any]], sign: int) -> None:
    """Take delivered quantities of stock articles out of stock (``sign`` -1 puts them back)."""
    touched = set()
    for row in rows:
        article = company.get("articles", row.get("ArticleNumber") or "")
        if not article or not article.get("StockGoods"):
            continue
        number = article["ArticleNumber"]
        points = sorted(k for k in company.stock if k[0] == number) or [(number, DEFAULT_POINT)]
        balance = company.stock.setdefault(points[0], [0.0, 0.0])
        balance[0] = totals.quantity(balance[0] - sign * float(row.get("DeliveredQuantity") or 0))
        touched.add(number)
    refresh_articles(company, touched)


def balances(company: Company, items: set[str] | None, points: set[str] | None) -> list[dict[str, Any]]:
    """Rows of the warehouse stock-balance answer (camelCase)."""
    out = []
    for (item, point), balance in sorted(company.stock.items()):
        if (items is not None and item not in items) or (points is not None and point not in points):
            continue
        article = company.get("articles", item) or {}
        reserved = balance[1] + (reserved_by_orders(company, item) if article.get("StockGoods") else 0)
        out.append({"itemId": item, "stockPointCode": point, "inStock": balance[0],
                    "availableStock": totals.quantity(balance[0] - reserved)})
    return out
