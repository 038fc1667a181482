"""Raw SOAP helpers: requests shaped exactly like the captured live client's, parsed with lxml."""

from __future__ import annotations

from typing import Any

import requests
from lxml import etree

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "WebServiceProvider"


def envelope(body: str, shop_id: str | None = "demoshop", soap11: bool = False) -> bytes:
    ns = SOAP11 if soap11 else SOAP12
    header = f"<soap12:Header><ShopId>{shop_id}</ShopId></soap12:Header>" if shop_id is not None else ""
    return (f'<?xml version="1.0" encoding="utf-8"?>\n'
            f'<soap12:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
            f'                 xmlns:xsd="http://www.w3.org/2001/XMLSchema"\n'
            f'                 xmlns:soap12="{ns}">\n'
            f'  {header}\n  <soap12:Body>\n    {body}\n  </soap12:Body>\n</soap12:Envelope>').encode()


def post(http: requests.Session, url: str, body: str, *, shop_id: str | None = "demoshop",
         soap11: bool = False, **kwargs: Any) -> requests.Response:
    headers = ({"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"WebServiceProvider/x"'} if soap11
               else {"Content-Type": "application/soap+xml; charset=utf-8"})
    return http.post(url, data=envelope(body, shop_id, soap11), headers=headers, timeout=10, **kwargs)


def xml(response: requests.Response) -> Any:
    return etree.fromstring(response.content)


def first(root: Any, name: str) -> Any:
    found = root.xpath(f".//*[local-name()='{name}']")
    assert found, f"no <{name}> in {etree.tostring(root)[:500]!r}"
    return found[0]


def text(root: Any, name: str) -> str | None:
    return first(root, name).text


def all_text(root: Any, name: str) -> list[str | None]:
    return [e.text for e in root.xpath(f".//*[local-name()='{name}']")]


def product_get(article: str, culture: str = "sv-SE") -> str:
    return (f'<Product_Get xmlns="WebServiceProvider"><productOptions><ArticleNumber>{article}</ArticleNumber>'
            f"<Culture>{culture}</Culture></productOptions></Product_Get>")


def add_update(*product_xml: str) -> str:
    items = "".join(f"<ProductData>{p}</ProductData>" for p in product_xml)
    return f'<Product_AddUpdate xmlns="WebServiceProvider"><products>{items}</products></Product_AddUpdate>'


def price_update(*items: str) -> str:
    body = "".join(f"<ArticlePriceListIncVat>{i}</ArticlePriceListIncVat>" for i in items)
    return (f'<PriceList_UpdateArticleIncVAT xmlns="WebServiceProvider"><articlePriceLists>{body}'
            f"</articlePriceLists></PriceList_UpdateArticleIncVAT>")


def fault_of(response: requests.Response) -> tuple[str | None, str | None]:
    root = xml(response)
    return text(root, "Value"), text(root, "Text")
